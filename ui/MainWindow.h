#pragma once
// The main window: canvas in the middle, prompt panel on the right, results history at the bottom, progress in the
// status bar. Generation runs through GenerationController; the window never blocks on the engine.
#include <QMainWindow>
#include <QDir>

class QLabel;
class QListWidget;
class QListWidgetItem;
class QProgressBar;

namespace ls::ui {

class Canvas;
class GenerationController;
class PromptPanel;

struct StartupOptions {
    QString model;      // empty: the bundled model
    QString config;
    QString vocabulary;
    QString historyDir; // empty: ~/.local/share/latent-studio/history
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(const StartupOptions& options = {}, QWidget* parent = nullptr);
    ~MainWindow() override;

    Canvas* canvas() const { return m_canvas; }
    PromptPanel* promptPanel() const { return m_panel; }
    GenerationController* controller() const { return m_controller; }
    QListWidget* history() const { return m_history; }
    bool openImage(const QString& path);
    void generate();
    void cancel();
    int currentJob() const { return m_job; }

Q_SIGNALS:
    void generationDone(int jobId, bool ok);

private:
    void loadModel(const QString& path);
    void addHistory(const QImage& image, const QString& parameters, const QString& settings);
    void editBox(int index);
    void importSettings(const QString& path);

    StartupOptions m_options;
    Canvas* m_canvas;
    PromptPanel* m_panel;
    GenerationController* m_controller;
    QListWidget* m_history;
    QProgressBar* m_progress;
    QLabel* m_status;
    QDir m_historyDir;
    int m_job = 0;
    bool m_modelReady = false;
};

} // namespace ls::ui

#pragma once
// The main window: canvas in the middle, prompt panel on the right, results history at the bottom, progress in the
// status bar. Generation runs through GenerationController; the window never blocks on the engine.
#include "HistoryPanel.h"
#include "Recovery.h"
#include "Settings.h"
#include "latent-studio/UpscalerPlugin.h"

#include "pipeline/GenerationRequest.h"

#include <QDir>
#include <QMainWindow>

#include <optional>

class QDragEnterEvent;
class QDropEvent;
class QLabel;
class QMimeData;
class QProgressBar;
class QTimer;

namespace ls::ui {

class Canvas;
class ControlPanel;
class GenerationController;
class LiveMode;
class PromptPanel;

struct StartupOptions {
    QString model; // empty: the bundled model
    QString config;
    QString vocabulary;
    QString historyDir; // empty: ~/.local/share/latent-studio/history
    QString recoveryDir; // empty: ~/.local/share/latent-studio/recovery (one folder per running instance)
    int autosaveSeconds = 30; // 0: no autosave
    bool askOnClose = true; // offer to save a changed project when the window closes
    bool useStoredSettings = true; // read AppSettings from QSettings (tests pass their own)
    QStringList pluginDirs; // empty: defaultPluginDirs()
    AppSettings settings; // used when useStoredSettings is false
};

struct ProjectData;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(const StartupOptions& options = {}, QWidget* parent = nullptr);
    ~MainWindow() override;

    Canvas* canvas() const { return m_canvas; }
    PromptPanel* promptPanel() const { return m_panel; }
    GenerationController* controller() const { return m_controller; }
    LiveMode* live() const { return m_live; }
    ControlPanel* controlPanel() const { return m_controls; }
    HistoryPanel* history() const { return m_history; }
    bool openImage(const QString& path);
    void generate();
    void cancel();
    // The request for the canvas as it stands (the panel's job, the picture, mask and boxes); nullopt with the
    // problems otherwise. live: also for a model still loading (then nullopt), and the picture for text-to-image
    // once the canvas holds something of the user's.
    std::optional<ls::pipeline::GenerationRequest> canvasRequest(QString* why, bool live) const;
    void askExpandCanvas(); // Edit > Expand canvas: sides in model multiples
    int currentJob() const { return m_job; }

    // Projects (a "<name>.lsproj" folder, see Project.h). Failures are reported and change nothing.
    bool saveProjectTo(const QString& dir);
    // Saves to the open project's folder, or asks for one (always when chooseFolder); false when cancelled or failed.
    bool saveProjectAsking(bool chooseFolder);
    bool openProject(const QString& dir);
    QString projectPath() const { return m_projectDir; }
    bool exportImage(const QString& path);
    // Autosave into this instance's recovery folder; true when written (or nothing to write).
    bool autosaveNow();
    // The newest autosave left by an instance that is no longer running (a crash), or empty.
    QString recoveryCandidate() const;
    bool restoreRecovery(const QString& dir); // loads it, then keeps it only as this instance's autosave
    void declineRecovery(const QString& dir); // set aside (renamed, never deleted) so it is not offered again
    const AppSettings& settings() const { return m_settings; }
    void applySettings(
        const AppSettings& s); // rescans model folders; reloads the model when threads/device/vocabulary changed
    void clearQueue();
    const QStringList& loadedPlugins() const { return m_pluginsLoaded; }
    const QStringList& failedPlugins() const { return m_pluginsFailed; }

    // Clipboard: the canvas picture out, an image (or an image file) in.
    void copyImage();
    bool paste();
    // Files dropped on the window: an image opens on the canvas, a .lsproj folder opens as the project.
    bool openDropped(const QMimeData* mime);
    // A picture's settings (Latent Studio or AUTOMATIC1111 PNG) into the prompt panel; returns what could not be used
    // (also shown in the status bar). Failures are reported.
    QString importSettings(const QString& path);

Q_SIGNALS:
    void generationDone(int jobId, bool ok);
    void autosaved(const QString& dir);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    ProjectData currentProject() const;
    void applyProject(const ProjectData& d);
    void markChanged();
    void updateTitle();
    void loadModel(const QString& path);
    void addHistory(const QImage& image, const QString& parameters, const QString& settings);
    bool maybeSaveChanges(); // before the open work is replaced: false when the user cancels
    void applyResult(const QImage& image); // a history result onto the canvas (undoable)
    void buildMenus();
    void buildToolBar();
    void connectController();
    void setUpLive();
    void setUpControls();

    StartupOptions m_options;
    Canvas* m_canvas;
    PromptPanel* m_panel;
    GenerationController* m_controller;
    LiveMode* m_live = nullptr;
    ControlPanel* m_controls = nullptr;
    HistoryPanel* m_history;
    QProgressBar* m_progress;
    QLabel* m_status;
    int m_job = 0;
    bool m_modelReady = false;
    QString m_projectDir;
    RecoveryStore m_recovery;
    QTimer* m_autosaveTimer = nullptr;
    bool m_unsaved = false, m_autosaveDirty = false, m_blankCanvas = true;
    QByteArray m_savedPanel;
    AppSettings m_settings;
    QString m_modelPath;
    QLabel* m_queueLabel = nullptr;
    QList<plugin::UpscalerInfo> m_upscalers;
    QStringList m_pluginsLoaded, m_pluginsFailed;
    void updateQueueLabel();
    void applyLoraFolders();
    void refreshModelList();
};

} // namespace ls::ui

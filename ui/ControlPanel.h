#pragma once
// The Control layers dock: the canvas's ControlNet layers in a list ("Picture and mask" first: the tools draw on the
// picture and the mask), each with its visibility, and for the selected one its ControlNet file, preprocessor,
// strength, range, guess mode and opacity; Add (a sketch layer), Remove, Fill from an image file or from the canvas.
#include <QStringList>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QListWidget;
class QPushButton;
class QSlider;

namespace ls::ui {

class Canvas;
struct ControlLayer;

class ControlPanel : public QWidget {
    Q_OBJECT
public:
    explicit ControlPanel(Canvas* canvas, QWidget* parent = nullptr);
    // ControlNet files in these model folders' ControlNet/ and controlnet/ subfolders (A1111's models/ControlNet).
    void setModelFolders(const QStringList& folders);
    QStringList controlNetFiles() const { return m_files; }
    void fillFromFile(const QString& path); // the selected layer (a new one when none is selected)
    void fillFromCanvas();

private:
    void refresh(); // the list and the form from the canvas
    void apply(); // the form into the selected layer
    void setModelChoice(const QString& path);
    int selected() const; // the selected layer's index, -1 for the picture
    int ensureLayer(); // the selected layer, or a new one

    Canvas* m_canvas;
    QListWidget* m_list;
    QComboBox *m_model, *m_pre;
    QDoubleSpinBox *m_strength, *m_start, *m_end;
    QCheckBox* m_guess;
    QSlider* m_opacity;
    QPushButton *m_remove, *m_fromFile, *m_fromCanvas;
    QWidget* m_form;
    QStringList m_files;
    bool m_syncing = false;
};

} // namespace ls::ui

#pragma once
// The painting surface: an image layer, a mask layer (shown as a translucent red overlay) and labelled boxes.
// Tools: brush and eraser on the mask (size, hardness, opacity), paint (the brush in colour on the picture), box
// (draw, move, resize by its edges and corners, delete, label edited in place), expand (drag a border outwards to grow
// the canvas for outpainting). Every edit is undoable; the history is bounded by memory (UndoHistory).
// A comparison view shows another picture (a history result) beside the canvas with a draggable divider.
#include "UndoHistory.h"

#include <QColor>
#include <QImage>
#include <QMargins>
#include <QRectF>
#include <QVector>
#include <QWidget>

#include <memory>
#include <vector>

class QLineEdit;
class QPainter;

namespace ls::ui {
class CanvasTool;
}

namespace ls::ui {

struct CanvasBox {
    QRectF rect; // image pixels
    QString prompt;
    bool operator==(const CanvasBox& o) const { return rect == o.rect && prompt == o.prompt; }
};

// A control layer: one ControlNet unit drawn on the canvas. Its image (the canvas size) is the control image: a sketch
// painted on it (white on black; the brush paints white, the eraser black, the paint tool its colour), an image, or
// the canvas picture, which the preprocessor turns into the hint when a job runs.
struct ControlLayer {
    QImage image; // RGB888
    QString model; // ControlNet file or folder; empty: shown but not used
    QString preprocessor = QStringLiteral("none"); // none, canny, invert, inpaint, tile (pipeline/GenerationRequest.h)
    double strength = 1.0, start = 0.0, end = 1.0;
    bool guessMode = false;
    bool visible = true; // drawn over the picture and used by jobs
    double opacity = 0.6;
};

class Canvas : public QWidget {
    Q_OBJECT
public:
    enum class Tool { Brush, Eraser, Box, Paint, Expand };
    explicit Canvas(QWidget* parent = nullptr);
    ~Canvas() override;

    void setImage(const QImage& image, bool undoable = true); // resets the mask size, keeps its content if same size
    const QImage& image() const { return m_image; }
    const QImage& mask() const { return m_mask; }
    bool maskIsEmpty() const;
    void setMask(const QImage& mask, bool undoable = true);
    const QVector<CanvasBox>& boxes() const { return m_boxes; }
    void setBoxes(const QVector<CanvasBox>& boxes, bool undoable = true, const QString& text = {});
    void setPreview(const QImage& preview); // shown over the image while a generation runs; null clears
    void clearMask();
    void fillMask();
    void invertMask();

    Tool tool() const { return m_tool; }
    void setTool(Tool t);
    int brushSize() const { return m_brush; }
    void setBrushSize(int px);
    // 1: a hard (antialiased) edge; 0: soft all the way from the centre.
    double brushHardness() const { return m_hardness; }
    void setBrushHardness(double h);
    // The most one stroke adds to (brush) or takes from (eraser) the mask; overlapping within a stroke never
    // goes past it.
    double brushOpacity() const { return m_opacity; }
    void setBrushOpacity(double o);
    // The Paint tool's colour (Ctrl+click with it picks one from the picture).
    QColor brushColor() const { return m_color; }
    void setBrushColor(const QColor& c);
    UndoHistory* undoStack() { return &m_undo; }

    // Control layers, drawn over the picture in order. The active one (-1: none) is what the brush, eraser and paint
    // tools draw on; adding, removing and filling a layer and every stroke on it are undoable.
    int controlCount() const { return static_cast<int>(m_controls.size()); }
    const ControlLayer& control(int index) const { return *m_controls.at(index); }
    int addControl(ControlLayer layer); // a black image of the canvas size when it has none; returns its index
    void removeControl(int index);
    void setControlImage(int index, const QImage& image); // scaled to the canvas size
    void setControlSettings(int index, const ControlLayer& settings); // everything but the image; not an undo step
    // Replaces every layer (a project opened); not an undo step.
    void setControls(const QVector<ControlLayer>& layers);
    int activeControl() const { return m_activeControl; }
    void setActiveControl(int index);

    // Outpainting: grows the canvas by these many pixels on each side (one undoable edit). The new area starts from
    // the picture's edge colours, blurred, and is masked, `overlap` pixels into the old picture on the grown sides;
    // the mask and boxes move with the picture. The Expand tool's drags snap to multiples of the expand step.
    void expand(int left, int top, int right, int bottom, int overlap = 8);
    void setExpandStep(int px);
    int expandStep() const { return m_expandStep; }
    // Pixels rounded up to the expand step (0 for none): how much a side grows for a drag or a typed size.
    int snapToExpandStep(int px) const { return px <= 0 ? 0 : (px + m_expandStep - 1) / m_expandStep * m_expandStep; }

    // Boxes: the selected one (-1: none) and its label, edited in place on the canvas.
    int activeBox() const { return m_active; }
    void editBoxLabel(int index);
    bool isEditingLabel() const;
    QLineEdit* labelEditor() const { return m_labelEdit; }

    // Comparison: `other` on the left of the divider, the canvas on the right. Dragging moves the divider.
    void setCompareImage(const QImage& other);
    void clearCompare();
    bool comparing() const { return !m_compare.isNull(); }
    double compareSplit() const { return m_split; }
    void setCompareSplit(double s);

    double zoom() const { return m_zoom; }
    void fitToWindow();
    void setZoom(double z);
    // Widget <-> image coordinates.
    QPointF toImage(const QPointF& widgetPos) const;
    QPointF toWidget(const QPointF& imagePos) const;

Q_SIGNALS:
    void changed();
    void boxEditRequested(int index); // a label editor opened on this box
    void toolChanged(); // tool, size, hardness or opacity
    void compareChanged(bool comparing);
    void controlsChanged(); // a control layer added, removed, selected or its settings changed (also changed())

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void mouseReleaseEvent(QMouseEvent*) override;
    void mouseDoubleClickEvent(QMouseEvent*) override;
    void wheelEvent(QWheelEvent*) override;
    void keyPressEvent(QKeyEvent*) override;
    void keyReleaseEvent(QKeyEvent*) override;
    void resizeEvent(QResizeEvent*) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    enum Edge { Left = 1, Top = 2, Right = 4, Bottom = 8 };
    struct BoxHit {
        int index = -1;
        int edges = 0; // 0: inside (move)
    };
    friend class StrokeTool;
    friend class BoxTool;
    friend class ExpandTool;
    CanvasTool& currentTool() const { return *m_tools[static_cast<int>(m_tool)]; }
    QImage& strokeLayer(); // what the stroke tools draw on: the active control layer, the picture or the mask
    std::shared_ptr<ControlLayer> activeLayer() const;
    void paintControls(QPainter& p, const QRectF& target) const;
    void replaceControls(std::vector<std::shared_ptr<ControlLayer>> layers);
    std::vector<std::shared_ptr<ControlLayer>> scaledControls(const QSize& size) const; // copies where resized
    struct State {
        QImage image, mask;
        QVector<CanvasBox> boxes;
        std::vector<std::shared_ptr<ControlLayer>> controls;
    };
    // Whole-canvas edits (a picture applied, the canvas grown): the state set, and its undo step.
    void applyState(const State& s);
    void pushStateEdit(const QString& text, const State& before, const State& after);
    // Control layer lists added to or taken from, with the layer selected on each side; one undo step, applied.
    void pushControlsEdit(const QString& text, std::vector<std::shared_ptr<ControlLayer>> before, int activeBefore,
        std::vector<std::shared_ptr<ControlLayer>> after, int activeAfter, qint64 bytes);
    QImage canvasSized(const QImage& layerImage) const; // a control layer's image at the canvas size (black: none)
    BoxHit boxAt(const QPointF& widgetPos) const;
    QRectF imageRect() const { return QRectF(QPointF(0, 0), m_image.size()); }
    QRectF viewRect() const
    {
        return QRectF(m_offset, QSizeF(m_image.width() * m_zoom, m_image.height() * m_zoom));
    } // widget coordinates
    void splitAt(double widgetX);
    QRectF labelRect(int index) const; // widget coordinates
    // `owner` keeps a control layer alive for as long as the edit is in the history.
    void pushLayerEdit(QImage* layer, const QImage& before, const QRect& region, const QString& text,
        std::shared_ptr<ControlLayer> owner = {});
    void pushMaskEdit(const QImage& before, const QRect& region, const QString& text);
    void pushBoxesEdit(const QVector<CanvasBox>& before, const QString& text);
    void viewChanged();
    void finishLabelEdit(bool commit);

    QImage m_image, m_mask, m_preview, m_compare;
    QVector<CanvasBox> m_boxes;
    std::vector<std::shared_ptr<ControlLayer>> m_controls;
    int m_activeControl = -1;
    Tool m_tool = Tool::Brush;
    int m_brush = 24;
    double m_hardness = 1.0, m_opacity = 1.0;
    QColor m_color = QColor(40, 90, 200);
    int m_expandStep = 64;
    double m_zoom = 1.0, m_split = 0.5;
    QPointF m_offset;
    bool m_fit = true;
    // interaction state
    bool m_spaceHeld = false; // space + left drag pans
    bool m_panning = false, m_splitting = false;
    QPointF m_panStart;
    int m_active = -1; // the selected box
    std::unique_ptr<CanvasTool> m_tools[5]; // by Tool
    QLineEdit* m_labelEdit = nullptr;
    int m_labelIndex = -1;
    UndoHistory m_undo;
};

// The picture on a canvas grown by these margins: edge colours stretched outwards and blurred in the new area.
QImage expandedPicture(const QImage& image, int left, int top, int right, int bottom);

} // namespace ls::ui

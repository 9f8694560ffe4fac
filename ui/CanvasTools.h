#pragma once
// The canvas's tools, as Krita's: a press begins the tool's action, drags continue it, the release ends it (one undo
// step); hovering sets the cursor, and a tool may draw an overlay over the picture. The canvas routes its mouse to
// the current tool after its own view gestures (panning, the comparison divider). Private to ui/.
#include <QColor>
#include <QImage>
#include <QMargins>
#include <QPointF>
#include <QRect>
#include <QRectF>
#include <QVector>

#include <memory>

class QMouseEvent;
class QPainter;

namespace ls::ui {

class Canvas;
struct CanvasBox;
struct ControlLayer;

class CanvasTool {
public:
    explicit CanvasTool(Canvas& canvas)
        : c(canvas)
    {
    }
    virtual ~CanvasTool() = default;
    virtual void begin(QMouseEvent* e, QPointF imagePos) = 0;
    virtual void drag(QPointF imagePos) = 0;
    virtual void end() = 0;
    virtual bool busy() const = 0; // between begin and end
    virtual void hover(QPointF /*widgetPos*/) { }
    virtual void doubleClick(QPointF /*widgetPos*/) { }
    virtual void paintOverlay(QPainter& /*p*/) const { }

protected:
    Canvas& c;
};

// Brush and eraser on the mask (or white and black on the active control layer), paint in colour on the picture
// (Ctrl+click picks a colour); its overlay is the brush outline.
class StrokeTool : public CanvasTool {
public:
    using CanvasTool::CanvasTool;
    void begin(QMouseEvent* e, QPointF imagePos) override;
    void drag(QPointF imagePos) override;
    void end() override;
    bool busy() const override { return m_painting; }
    void hover(QPointF widgetPos) override;
    void paintOverlay(QPainter& p) const override;

private:
    void strokeTo(const QPointF& from, const QPointF& to);
    bool m_painting = false;
    QPointF m_last;
    // Chosen when the stroke begins: the layer it paints (the picture, the mask or a control layer, kept alive by
    // m_owner) and the paint (white, black or the brush colour).
    QImage* m_layer = nullptr;
    std::shared_ptr<ControlLayer> m_owner;
    QColor m_paint;
    QImage m_before, m_cover; // the painted layer when the stroke began; the stroke's coverage so far
    QRect m_rect; // what the stroke touched
};

// Layout boxes: draw one on empty canvas, drag one to move it, its edges or corners to resize it; double-click
// edits its label.
class BoxTool : public CanvasTool {
public:
    using CanvasTool::CanvasTool;
    void begin(QMouseEvent* e, QPointF imagePos) override;
    void drag(QPointF imagePos) override;
    void end() override;
    bool busy() const override { return m_drawing || m_moving || m_edges; }
    void hover(QPointF widgetPos) override;
    void doubleClick(QPointF widgetPos) override;

private:
    bool m_drawing = false, m_moving = false;
    int m_edges = 0; // resizing by these edges
    QPointF m_start;
    QRectF m_startRect;
    QVector<CanvasBox> m_before;
};

// Outpainting: a border dragged outwards grows the canvas by the drag, in multiples of the expand step.
class ExpandTool : public CanvasTool {
public:
    using CanvasTool::CanvasTool;
    void begin(QMouseEvent* e, QPointF imagePos) override;
    void drag(QPointF imagePos) override;
    void end() override;
    bool busy() const override { return m_edges != 0; }
    void hover(QPointF widgetPos) override;
    void paintOverlay(QPainter& p) const override;

private:
    int m_edges = 0;
    QPointF m_start;
    QMargins m_by;
};

} // namespace ls::ui

#pragma once
// The painting surface: an image layer, a mask layer (shown as a translucent red overlay) and labelled boxes.
// Tools: brush and eraser on the mask, box (draw, move, delete, edit the label). Every edit is undoable.
#include <QImage>
#include <QRectF>
#include <QUndoStack>
#include <QVector>
#include <QWidget>

namespace ls::ui {

struct CanvasBox {
    QRectF rect; // image pixels
    QString prompt;
    bool operator==(const CanvasBox& o) const { return rect == o.rect && prompt == o.prompt; }
};

class Canvas : public QWidget {
    Q_OBJECT
public:
    enum class Tool { Brush, Eraser, Box };
    explicit Canvas(QWidget* parent = nullptr);

    void setImage(const QImage& image, bool undoable = true); // resets the mask size, keeps its content if same size
    const QImage& image() const { return m_image; }
    const QImage& mask() const { return m_mask; }
    bool maskIsEmpty() const;
    void setMask(const QImage& mask, bool undoable = true);
    const QVector<CanvasBox>& boxes() const { return m_boxes; }
    void setBoxes(const QVector<CanvasBox>& boxes, bool undoable = true);
    void setPreview(const QImage& preview); // shown over the image while a generation runs; null clears
    void clearMask();
    void fillMask();
    void invertMask();

    Tool tool() const { return m_tool; }
    void setTool(Tool t);
    int brushSize() const { return m_brush; }
    void setBrushSize(int px);
    QUndoStack* undoStack() { return &m_undo; }
    double zoom() const { return m_zoom; }
    void fitToWindow();
    void setZoom(double z);
    // Widget <-> image coordinates.
    QPointF toImage(const QPointF& widgetPos) const;
    QPointF toWidget(const QPointF& imagePos) const;

Q_SIGNALS:
    void changed();
    void boxEditRequested(int index);

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void mouseReleaseEvent(QMouseEvent*) override;
    void mouseDoubleClickEvent(QMouseEvent*) override;
    void wheelEvent(QWheelEvent*) override;
    void keyPressEvent(QKeyEvent*) override;
    void resizeEvent(QResizeEvent*) override;

private:
    void paintStroke(const QPointF& from, const QPointF& to);
    int boxAt(const QPointF& imagePos) const;
    void pushMaskSnapshot(const QImage& before, const QString& text);
    void pushBoxesSnapshot(const QVector<CanvasBox>& before, const QString& text);

    QImage m_image, m_mask, m_preview;
    QVector<CanvasBox> m_boxes;
    Tool m_tool = Tool::Brush;
    int m_brush = 24;
    double m_zoom = 1.0;
    QPointF m_offset;
    bool m_fit = true;
    // interaction state
    bool m_painting = false, m_panning = false, m_drawingBox = false, m_movingBox = false;
    QPointF m_last, m_start, m_panStart;
    int m_active = -1;
    QImage m_maskBefore;
    QVector<CanvasBox> m_boxesBefore;
    QUndoStack m_undo;
};

} // namespace ls::ui

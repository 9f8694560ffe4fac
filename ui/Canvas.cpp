#include "Canvas.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QUndoCommand>
#include <QWheelEvent>

#include <cmath>
#include <functional>

namespace ls::ui {

namespace {
// One undo step that swaps a whole layer state (mask, boxes or image); the stack limit bounds memory.
class SwapCommand : public QUndoCommand {
public:
    SwapCommand(const QString& text, std::function<void()> undo, std::function<void()> redo)
        : QUndoCommand(text)
        , m_undo(std::move(undo))
        , m_redo(std::move(redo))
    {
    }
    void undo() override { m_undo(); }
    void redo() override
    {
        if (m_first) { // the edit is already applied
            m_first = false;
            return;
        }
        m_redo();
    }

private:
    std::function<void()> m_undo, m_redo;
    bool m_first = true;
};
}

Canvas::Canvas(QWidget* parent)
    : QWidget(parent)
{
    setFocusPolicy(Qt::StrongFocus);
    setMouseTracking(true);
    setMinimumSize(256, 256);
    m_undo.setUndoLimit(64);
    setImage(QImage(512, 512, QImage::Format_RGB888), false);
    m_image.fill(QColor(245, 245, 240));
}

void Canvas::setImage(const QImage& image, bool undoable)
{
    const QImage before = m_image;
    const QImage maskBefore = m_mask;
    m_image = image.convertToFormat(QImage::Format_RGB888);
    if (m_mask.size() != m_image.size()) {
        m_mask = QImage(m_image.size(), QImage::Format_Grayscale8);
        m_mask.fill(0);
    }
    if (undoable && !before.isNull()) {
        const QImage after = m_image, maskAfter = m_mask;
        m_undo.push(new SwapCommand(tr("Apply image"), [this, before, maskBefore] { m_image = before; m_mask = maskBefore; update(); Q_EMIT changed(); },
            [this, after, maskAfter] { m_image = after; m_mask = maskAfter; update(); Q_EMIT changed(); }));
    }
    if (m_fit)
        fitToWindow();
    update();
    Q_EMIT changed();
}

bool Canvas::maskIsEmpty() const
{
    for (int y = 0; y < m_mask.height(); ++y) {
        const uchar* line = m_mask.constScanLine(y);
        for (int x = 0; x < m_mask.width(); ++x)
            if (line[x] >= 128)
                return false;
    }
    return true;
}

void Canvas::setMask(const QImage& mask, bool undoable)
{
    const QImage before = m_mask;
    m_mask = mask.convertToFormat(QImage::Format_Grayscale8).scaled(m_image.size());
    if (undoable)
        pushMaskSnapshot(before, tr("Set mask"));
    update();
    Q_EMIT changed();
}

void Canvas::setBoxes(const QVector<CanvasBox>& boxes, bool undoable)
{
    const auto before = m_boxes;
    m_boxes = boxes;
    if (undoable)
        pushBoxesSnapshot(before, tr("Edit boxes"));
    update();
    Q_EMIT changed();
}

void Canvas::setPreview(const QImage& preview)
{
    m_preview = preview;
    update();
}

void Canvas::clearMask()
{
    const QImage before = m_mask;
    m_mask.fill(0);
    pushMaskSnapshot(before, tr("Clear mask"));
    update();
    Q_EMIT changed();
}

void Canvas::fillMask()
{
    const QImage before = m_mask;
    m_mask.fill(255);
    pushMaskSnapshot(before, tr("Fill mask"));
    update();
    Q_EMIT changed();
}

void Canvas::invertMask()
{
    const QImage before = m_mask;
    m_mask.invertPixels();
    pushMaskSnapshot(before, tr("Invert mask"));
    update();
    Q_EMIT changed();
}

void Canvas::pushMaskSnapshot(const QImage& before, const QString& text)
{
    const QImage after = m_mask;
    m_undo.push(new SwapCommand(text, [this, before] { m_mask = before; update(); Q_EMIT changed(); }, [this, after] { m_mask = after; update(); Q_EMIT changed(); }));
}

void Canvas::pushBoxesSnapshot(const QVector<CanvasBox>& before, const QString& text)
{
    const auto after = m_boxes;
    m_undo.push(new SwapCommand(text, [this, before] { m_boxes = before; update(); Q_EMIT changed(); }, [this, after] { m_boxes = after; update(); Q_EMIT changed(); }));
}

void Canvas::setTool(Tool t)
{
    m_tool = t;
    setCursor(t == Tool::Box ? Qt::CrossCursor : Qt::ArrowCursor);
    update();
}

void Canvas::setBrushSize(int px)
{
    m_brush = std::clamp(px, 1, 512);
    update();
}

void Canvas::fitToWindow()
{
    m_fit = true;
    if (m_image.isNull() || width() <= 0)
        return;
    m_zoom = std::min(width() / double(m_image.width()), height() / double(m_image.height()));
    m_offset = QPointF((width() - m_image.width() * m_zoom) / 2, (height() - m_image.height() * m_zoom) / 2);
    update();
}

void Canvas::setZoom(double z)
{
    m_fit = false;
    const QPointF center(width() / 2.0, height() / 2.0);
    const QPointF anchor = toImage(center);
    m_zoom = std::clamp(z, 0.05, 32.0);
    m_offset = center - anchor * m_zoom;
    update();
}

QPointF Canvas::toImage(const QPointF& p) const { return (p - m_offset) / m_zoom; }
QPointF Canvas::toWidget(const QPointF& p) const { return p * m_zoom + m_offset; }

int Canvas::boxAt(const QPointF& p) const
{
    for (int i = m_boxes.size() - 1; i >= 0; --i)
        if (m_boxes[i].rect.contains(p))
            return i;
    return -1;
}

void Canvas::paintStroke(const QPointF& from, const QPointF& to)
{
    QPainter p(&m_mask);
    p.setRenderHint(QPainter::Antialiasing, false);
    QPen pen(m_tool == Tool::Eraser ? QColor(0, 0, 0) : QColor(255, 255, 255), m_brush, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin);
    p.setPen(pen);
    if (from == to)
        p.drawPoint(to);
    else
        p.drawLine(from, to);
    const double r = m_brush / 2.0 + 2;
    update(QRectF(toWidget(QPointF(std::min(from.x(), to.x()) - r, std::min(from.y(), to.y()) - r)),
        toWidget(QPointF(std::max(from.x(), to.x()) + r, std::max(from.y(), to.y()) + r))).toAlignedRect());
}

void Canvas::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.fillRect(rect(), QColor(40, 42, 48));
    const QRectF target(m_offset, QSizeF(m_image.width() * m_zoom, m_image.height() * m_zoom));
    // Checkerboard under the image (shows through transparent images and previews).
    const int cell = 8;
    for (int y = int(target.top()); y < target.bottom(); y += cell)
        for (int x = int(target.left()); x < target.right(); x += cell)
            p.fillRect(QRectF(x, y, cell, cell).intersected(target), ((x / cell + y / cell) % 2) ? QColor(200, 200, 200) : QColor(230, 230, 230));
    p.setRenderHint(QPainter::SmoothPixmapTransform, m_zoom < 1.0);
    p.drawImage(target, m_preview.isNull() ? m_image : m_preview);
    // Mask overlay.
    QImage overlay(m_mask.size(), QImage::Format_ARGB32_Premultiplied);
    overlay.fill(Qt::transparent);
    for (int y = 0; y < m_mask.height(); ++y) {
        const uchar* m = m_mask.constScanLine(y);
        auto* o = reinterpret_cast<QRgb*>(overlay.scanLine(y));
        for (int x = 0; x < m_mask.width(); ++x)
            if (m[x])
                o[x] = qPremultiply(qRgba(230, 40, 60, m[x] / 2));
    }
    p.drawImage(target, overlay);
    // Boxes.
    for (int i = 0; i < m_boxes.size(); ++i) {
        const QRectF r(toWidget(m_boxes[i].rect.topLeft()), toWidget(m_boxes[i].rect.bottomRight()));
        p.setPen(QPen(i == m_active ? QColor(255, 210, 60) : QColor(80, 200, 255), 2));
        p.setBrush(Qt::NoBrush);
        p.drawRect(r);
        const QString label = m_boxes[i].prompt.isEmpty() ? tr("(double-click to label)") : m_boxes[i].prompt;
        const QRectF tag(r.topLeft() - QPointF(0, 18), QSizeF(std::max(60.0, p.fontMetrics().horizontalAdvance(label) + 8.0), 18));
        p.fillRect(tag, QColor(20, 20, 30, 200));
        p.setPen(Qt::white);
        p.drawText(tag.adjusted(4, 0, 0, 0), Qt::AlignVCenter, label);
    }
    if (m_tool != Tool::Box && underMouse()) {
        const QPointF c = mapFromGlobal(QCursor::pos());
        p.setPen(QPen(Qt::white, 1, Qt::DashLine));
        p.drawEllipse(c, m_brush * m_zoom / 2, m_brush * m_zoom / 2);
    }
}

void Canvas::mousePressEvent(QMouseEvent* e)
{
    const QPointF ip = toImage(e->position());
    if (e->button() == Qt::MiddleButton || (e->button() == Qt::LeftButton && (e->modifiers() & Qt::AltModifier))) {
        m_panning = true;
        m_panStart = e->position() - m_offset;
        return;
    }
    if (e->button() != Qt::LeftButton)
        return;
    if (m_tool == Tool::Box) {
        m_boxesBefore = m_boxes;
        m_active = boxAt(ip);
        if (m_active >= 0) {
            m_movingBox = true;
            m_start = ip;
        } else {
            m_drawingBox = true;
            m_boxes.push_back({ QRectF(ip, QSizeF(0, 0)), QString() });
            m_active = m_boxes.size() - 1;
            m_start = ip;
        }
        update();
        return;
    }
    m_painting = true;
    m_maskBefore = m_mask;
    m_last = ip;
    paintStroke(ip, ip);
}

void Canvas::mouseMoveEvent(QMouseEvent* e)
{
    const QPointF ip = toImage(e->position());
    if (m_panning) {
        m_fit = false;
        m_offset = e->position() - m_panStart;
        update();
        return;
    }
    if (m_painting) {
        paintStroke(m_last, ip);
        m_last = ip;
        return;
    }
    if (m_drawingBox && m_active >= 0) {
        m_boxes[m_active].rect = QRectF(m_start, ip).normalized().intersected(QRectF(QPointF(0, 0), m_image.size()));
        update();
        return;
    }
    if (m_movingBox && m_active >= 0) {
        m_boxes[m_active].rect.translate(ip - m_start);
        m_start = ip;
        update();
        return;
    }
    if (m_tool != Tool::Box)
        update(); // brush outline
}

void Canvas::mouseReleaseEvent(QMouseEvent* e)
{
    if (m_panning) {
        m_panning = false;
        return;
    }
    if (e->button() != Qt::LeftButton)
        return;
    if (m_painting) {
        m_painting = false;
        pushMaskSnapshot(m_maskBefore, m_tool == Tool::Eraser ? tr("Erase") : tr("Paint mask"));
        Q_EMIT changed();
    }
    if (m_drawingBox) {
        m_drawingBox = false;
        if (m_active >= 0 && (m_boxes[m_active].rect.width() < 4 || m_boxes[m_active].rect.height() < 4)) {
            m_boxes.removeAt(m_active); // a click, not a box
            m_active = -1;
        } else {
            pushBoxesSnapshot(m_boxesBefore, tr("Draw box"));
            Q_EMIT changed();
            Q_EMIT boxEditRequested(m_active);
        }
        update();
    }
    if (m_movingBox) {
        m_movingBox = false;
        if (!(m_boxes == m_boxesBefore)) {
            pushBoxesSnapshot(m_boxesBefore, tr("Move box"));
            Q_EMIT changed();
        }
    }
}

void Canvas::mouseDoubleClickEvent(QMouseEvent* e)
{
    if (m_tool != Tool::Box)
        return;
    const int i = boxAt(toImage(e->position()));
    if (i >= 0)
        Q_EMIT boxEditRequested(i);
}

void Canvas::wheelEvent(QWheelEvent* e)
{
    const QPointF anchor = toImage(e->position());
    const double factor = std::pow(1.0015, e->angleDelta().y());
    m_zoom = std::clamp(m_zoom * factor, 0.05, 32.0);
    m_offset = e->position() - anchor * m_zoom;
    m_fit = false;
    update();
}

void Canvas::keyPressEvent(QKeyEvent* e)
{
    switch (e->key()) {
    case Qt::Key_BracketLeft: setBrushSize(static_cast<int>(m_brush / 1.2)); return;
    case Qt::Key_BracketRight: setBrushSize(static_cast<int>(m_brush * 1.2) + 1); return;
    case Qt::Key_B: setTool(Tool::Brush); return;
    case Qt::Key_E: setTool(Tool::Eraser); return;
    case Qt::Key_R: setTool(Tool::Box); return;
    case Qt::Key_X: setTool(m_tool == Tool::Brush ? Tool::Eraser : Tool::Brush); return;
    case Qt::Key_Delete:
    case Qt::Key_Backspace:
        if (m_tool == Tool::Box && m_active >= 0 && m_active < m_boxes.size()) {
            const auto before = m_boxes;
            m_boxes.removeAt(m_active);
            m_active = -1;
            pushBoxesSnapshot(before, tr("Delete box"));
            update();
            Q_EMIT changed();
        }
        return;
    default: QWidget::keyPressEvent(e);
    }
}

void Canvas::resizeEvent(QResizeEvent*)
{
    if (m_fit)
        fitToWindow();
}

} // namespace ls::ui

#include "Canvas.h"

#include "CanvasTools.h"

#include <QKeyEvent>
#include <QLineEdit>
#include <QMouseEvent>
#include <QPaintEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace ls::ui {

Canvas::Canvas(QWidget* parent)
    : QWidget(parent)
    , m_labelEdit(new QLineEdit(this))
{
    setFocusPolicy(Qt::StrongFocus);
    m_tools[static_cast<int>(Tool::Brush)] = std::make_unique<StrokeTool>(*this);
    m_tools[static_cast<int>(Tool::Eraser)] = std::make_unique<StrokeTool>(*this);
    m_tools[static_cast<int>(Tool::Paint)] = std::make_unique<StrokeTool>(*this);
    m_tools[static_cast<int>(Tool::Box)] = std::make_unique<BoxTool>(*this);
    m_tools[static_cast<int>(Tool::Expand)] = std::make_unique<ExpandTool>(*this);
    setMouseTracking(true);
    setMinimumSize(256, 256);
    m_labelEdit->hide();
    m_labelEdit->setPlaceholderText(tr("What goes in this box?"));
    m_labelEdit->installEventFilter(this);
    connect(m_labelEdit, &QLineEdit::editingFinished, this, [this] { finishLabelEdit(true); }); // focus left it
    setImage(QImage(512, 512, QImage::Format_RGB888), false);
    m_image.fill(QColor(245, 245, 240));
}

void Canvas::setImage(const QImage& image, bool undoable)
{
    finishLabelEdit(true);
    const State before { m_image, m_mask, m_boxes, m_controls };
    State after = before;
    after.image = image.convertToFormat(QImage::Format_RGB888);
    if (after.mask.size() != after.image.size()) {
        after.mask = QImage(after.image.size(), QImage::Format_Grayscale8);
        after.mask.fill(0);
        after.controls = scaledControls(after.image.size()); // control layers follow the picture's size
    }
    if (undoable && !before.image.isNull())
        pushStateEdit(tr("Apply image"), before, after);
    applyState(after);
}

void Canvas::applyState(const State& s)
{
    finishLabelEdit(false);
    m_image = s.image;
    m_mask = s.mask;
    m_boxes = s.boxes;
    if (m_active >= m_boxes.size())
        m_active = -1;
    if (s.controls != m_controls) // most whole-canvas edits keep the layers as they are
        replaceControls(s.controls);
    if (m_fit)
        fitToWindow();
    update();
    Q_EMIT changed();
}

void Canvas::pushStateEdit(const QString& text, const State& before, const State& after)
{
    // What the edit keeps: both pictures and masks, and the control layers it made (layers it shares are counted once,
    // by the edits that made them).
    qint64 bytes
        = before.image.sizeInBytes() + before.mask.sizeInBytes() + after.image.sizeInBytes() + after.mask.sizeInBytes();
    for (const auto& c : after.controls)
        if (std::find(before.controls.begin(), before.controls.end(), c) == before.controls.end())
            bytes += c->image.sizeInBytes();
    m_undo.push(
        text, [this, before] { applyState(before); }, [this, after] { applyState(after); }, bytes);
}

Canvas::~Canvas() = default;

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
        pushMaskEdit(before, m_mask.rect(), tr("Set mask"));
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
    pushMaskEdit(before, m_mask.rect(), tr("Clear mask"));
    update();
    Q_EMIT changed();
}

void Canvas::fillMask()
{
    const QImage before = m_mask;
    m_mask.fill(255);
    pushMaskEdit(before, m_mask.rect(), tr("Fill mask"));
    update();
    Q_EMIT changed();
}

void Canvas::invertMask()
{
    const QImage before = m_mask;
    m_mask.invertPixels();
    pushMaskEdit(before, m_mask.rect(), tr("Invert mask"));
    update();
    Q_EMIT changed();
}

void Canvas::setTool(Tool t)
{
    clearCompare(); // picking a tool means going back to work on the canvas
    m_tool = t;
    setCursor(t == Tool::Box ? Qt::CrossCursor : Qt::ArrowCursor);
    update();
    Q_EMIT toolChanged();
}

void Canvas::setBrushSize(int px)
{
    m_brush = std::clamp(px, 1, 512);
    update();
    Q_EMIT toolChanged();
}

void Canvas::setBrushHardness(double h)
{
    m_hardness = std::clamp(h, 0.0, 1.0);
    update();
    Q_EMIT toolChanged();
}

void Canvas::setBrushOpacity(double o)
{
    m_opacity = std::clamp(o, 0.01, 1.0);
    update();
    Q_EMIT toolChanged();
}

void Canvas::setCompareImage(const QImage& other)
{
    finishLabelEdit(true);
    const bool was = comparing();
    m_compare = other.convertToFormat(QImage::Format_RGB888);
    update();
    if (was != comparing())
        Q_EMIT compareChanged(comparing());
}

void Canvas::clearCompare()
{
    if (!comparing())
        return;
    m_compare = QImage();
    m_splitting = false;
    update();
    Q_EMIT compareChanged(false);
}

void Canvas::setCompareSplit(double s)
{
    m_split = std::clamp(s, 0.0, 1.0);
    update();
}

void Canvas::splitAt(double widgetX)
{
    const QRectF v = viewRect();
    setCompareSplit((widgetX - v.left()) / std::max(1.0, v.width()));
}

void Canvas::fitToWindow()
{
    m_fit = true;
    if (m_image.isNull() || width() <= 0)
        return;
    m_zoom = std::min(width() / double(m_image.width()), height() / double(m_image.height()));
    m_offset = QPointF((width() - m_image.width() * m_zoom) / 2, (height() - m_image.height() * m_zoom) / 2);
    viewChanged();
}

void Canvas::setZoom(double z)
{
    m_fit = false;
    const QPointF center(width() / 2.0, height() / 2.0);
    const QPointF anchor = toImage(center);
    m_zoom = std::clamp(z, 0.05, 32.0);
    m_offset = center - anchor * m_zoom;
    viewChanged();
}

void Canvas::viewChanged()
{
    if (isEditingLabel())
        m_labelEdit->setGeometry(labelRect(m_labelIndex).toAlignedRect());
    update();
}

QPointF Canvas::toImage(const QPointF& p) const { return (p - m_offset) / m_zoom; }
QPointF Canvas::toWidget(const QPointF& p) const { return p * m_zoom + m_offset; }

void Canvas::paintEvent(QPaintEvent* event)
{
    QPainter p(this);
    p.fillRect(rect(), QColor(40, 42, 48));
    const QRectF target = viewRect();
    // Checkerboard under the image (shows through transparent images and previews).
    const int cell = 8;
    for (int y = int(target.top()); y < target.bottom(); y += cell)
        for (int x = int(target.left()); x < target.right(); x += cell)
            p.fillRect(QRectF(x, y, cell, cell).intersected(target),
                ((x / cell + y / cell) % 2) ? QColor(200, 200, 200) : QColor(230, 230, 230));
    p.setRenderHint(QPainter::SmoothPixmapTransform, m_zoom < 1.0);
    if (comparing() && m_preview.isNull()) {
        // The other picture left of the divider, the canvas right of it; nothing else drawn over either.
        const double splitX = target.left() + m_split * target.width();
        p.drawImage(target, m_image);
        p.save();
        p.setClipRect(QRectF(target.topLeft(), QPointF(splitX, target.bottom())));
        p.drawImage(target,
            m_compare.size() == m_image.size()
                ? m_compare
                : m_compare.scaled(m_image.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation));
        p.restore();
        p.setPen(QPen(Qt::white, 2));
        p.drawLine(QPointF(splitX, target.top()), QPointF(splitX, target.bottom()));
        p.setBrush(Qt::white);
        p.drawEllipse(QPointF(splitX, target.center().y()), 7, 7);
        auto tag = [&](const QString& s, double x, bool rightAligned) {
            const double w = p.fontMetrics().horizontalAdvance(s) + 10.0;
            const QRectF r(rightAligned ? x - w - 6 : x + 6, target.top() + 6, w, 18);
            p.fillRect(r, QColor(20, 20, 30, 200));
            p.setPen(Qt::white);
            p.drawText(r, Qt::AlignCenter, s);
        };
        tag(tr("result"), splitX, true);
        tag(tr("canvas"), splitX, false);
        return;
    }
    p.drawImage(target, m_preview.isNull() ? m_image : m_preview);
    if (m_preview.isNull())
        paintControls(p, target);
    // Mask overlay, built only for the part being repainted (a brush stroke repaints a small rectangle).
    const QRect exposed = QRectF(toImage(event->rect().topLeft()) - QPointF(1, 1),
        toImage(event->rect().bottomRight() + QPoint(1, 1)) + QPointF(1, 1))
                              .toAlignedRect()
                              .intersected(m_mask.rect());
    if (!exposed.isEmpty()) {
        QImage overlay(exposed.size(), QImage::Format_ARGB32_Premultiplied);
        overlay.fill(Qt::transparent);
        for (int y = 0; y < exposed.height(); ++y) {
            const uchar* m = m_mask.constScanLine(exposed.top() + y) + exposed.left();
            auto* o = reinterpret_cast<QRgb*>(overlay.scanLine(y));
            for (int x = 0; x < exposed.width(); ++x)
                if (m[x])
                    o[x] = qPremultiply(qRgba(230, 40, 60, m[x] / 2));
        }
        p.drawImage(QRectF(toWidget(exposed.topLeft()), toWidget(exposed.bottomRight() + QPoint(1, 1))), overlay);
    }
    // Boxes, each with its label above it (or the editor in its place).
    for (int i = 0; i < m_boxes.size(); ++i) {
        const QRectF r(toWidget(m_boxes[i].rect.topLeft()), toWidget(m_boxes[i].rect.bottomRight()));
        const bool active = i == m_active;
        p.setPen(QPen(active ? QColor(255, 210, 60) : QColor(80, 200, 255), 2));
        p.setBrush(Qt::NoBrush);
        p.drawRect(r);
        if (active && m_tool == Tool::Box) { // resize handles
            p.setBrush(QColor(255, 210, 60));
            for (const QPointF& c : { r.topLeft(), r.topRight(), r.bottomLeft(), r.bottomRight() })
                p.drawRect(QRectF(c - QPointF(3, 3), QSizeF(6, 6)));
        }
        if (i == m_labelIndex)
            continue;
        const QString label = m_boxes[i].prompt.isEmpty() ? tr("(double-click to label)") : m_boxes[i].prompt;
        QRectF tag = labelRect(i);
        tag.setWidth(std::max(60.0, p.fontMetrics().horizontalAdvance(label) + 8.0));
        p.fillRect(tag, QColor(20, 20, 30, 200));
        p.setPen(Qt::white);
        p.drawText(tag.adjusted(4, 0, 0, 0), Qt::AlignVCenter, label);
    }
    currentTool().paintOverlay(p);
}

void Canvas::mousePressEvent(QMouseEvent* e)
{
    const QPointF ip = toImage(e->position());
    if (e->button() == Qt::MiddleButton
        || (e->button() == Qt::LeftButton && (m_spaceHeld || (e->modifiers() & Qt::AltModifier)))) {
        m_panning = true;
        m_panStart = e->position() - m_offset;
        setCursor(Qt::ClosedHandCursor);
        return;
    }
    if (e->button() != Qt::LeftButton)
        return;
    if (comparing()) { // the divider follows the mouse; tools wait until the comparison ends
        m_splitting = true;
        splitAt(e->position().x());
        return;
    }
    finishLabelEdit(true);
    currentTool().begin(e, ip);
}

void Canvas::mouseMoveEvent(QMouseEvent* e)
{
    const QPointF ip = toImage(e->position());
    if (m_panning) {
        m_fit = false;
        m_offset = e->position() - m_panStart;
        viewChanged();
        return;
    }
    if (m_splitting) {
        splitAt(e->position().x());
        return;
    }
    if (currentTool().busy()) {
        currentTool().drag(ip);
        return;
    }
    if (!comparing())
        currentTool().hover(e->position());
}

void Canvas::mouseReleaseEvent(QMouseEvent* e)
{
    if (m_panning) {
        m_panning = false;
        if (m_spaceHeld)
            setCursor(Qt::OpenHandCursor);
        return;
    }
    if (e->button() != Qt::LeftButton)
        return;
    if (m_splitting) {
        m_splitting = false;
        return;
    }
    if (currentTool().busy())
        currentTool().end();
}

void Canvas::mouseDoubleClickEvent(QMouseEvent* e)
{
    if (!comparing())
        currentTool().doubleClick(e->position());
}

void Canvas::wheelEvent(QWheelEvent* e)
{
    const QPointF anchor = toImage(e->position());
    const double factor = std::pow(1.0015, e->angleDelta().y());
    m_zoom = std::clamp(m_zoom * factor, 0.05, 32.0);
    m_offset = e->position() - anchor * m_zoom;
    m_fit = false;
    viewChanged();
}

void Canvas::keyPressEvent(QKeyEvent* e)
{
    const int k = e->key();
    if (k >= Qt::Key_0 && k <= Qt::Key_9 && !(e->modifiers() & (Qt::ControlModifier | Qt::AltModifier))) {
        setBrushOpacity(k == Qt::Key_0 ? 1.0 : (k - Qt::Key_0) / 10.0); // 1 = 10% ... 0 = 100%, as in Photoshop
        return;
    }
    switch (k) {
    case Qt::Key_Space:
        if (!e->isAutoRepeat()) {
            m_spaceHeld = true;
            setCursor(Qt::OpenHandCursor);
        }
        return;
    case Qt::Key_BracketLeft:
        setBrushSize(static_cast<int>(m_brush / 1.2));
        return;
    case Qt::Key_BracketRight:
        setBrushSize(static_cast<int>(m_brush * 1.2) + 1);
        return;
    case Qt::Key_BraceLeft:
        setBrushHardness(std::round(m_hardness * 10 - 1) / 10);
        return; // Shift+[
    case Qt::Key_BraceRight:
        setBrushHardness(std::round(m_hardness * 10 + 1) / 10);
        return; // Shift+]
    case Qt::Key_B:
        setTool(Tool::Brush);
        return;
    case Qt::Key_E:
        setTool(Tool::Eraser);
        return;
    case Qt::Key_R:
        setTool(Tool::Box);
        return;
    case Qt::Key_P:
        setTool(Tool::Paint);
        return;
    case Qt::Key_C:
        if (e->modifiers() & Qt::ControlModifier)
            break;
        setTool(Tool::Expand);
        return;
    case Qt::Key_X:
        setTool(m_tool == Tool::Brush ? Tool::Eraser : Tool::Brush);
        return;
    case Qt::Key_F2:
    case Qt::Key_Return:
    case Qt::Key_Enter:
        if (m_tool == Tool::Box && m_active >= 0 && !(e->modifiers() & Qt::ControlModifier)) {
            editBoxLabel(m_active);
            return;
        }
        break;
    case Qt::Key_Delete:
    case Qt::Key_Backspace:
        if (m_tool == Tool::Box && m_active >= 0 && m_active < m_boxes.size()) {
            const auto before = m_boxes;
            m_boxes.removeAt(m_active);
            m_active = -1;
            pushBoxesEdit(before, tr("Delete box"));
            update();
            Q_EMIT changed();
        }
        return;
    default:
        break;
    }
    QWidget::keyPressEvent(e);
}

void Canvas::keyReleaseEvent(QKeyEvent* e)
{
    if (e->key() == Qt::Key_Space && !e->isAutoRepeat()) {
        m_spaceHeld = false;
        setCursor(m_tool == Tool::Box ? Qt::CrossCursor : Qt::ArrowCursor);
        return;
    }
    QWidget::keyReleaseEvent(e);
}

void Canvas::resizeEvent(QResizeEvent*)
{
    if (m_fit)
        fitToWindow();
    else
        viewChanged();
}

} // namespace ls::ui

#include "CanvasTools.h"

#include "Canvas.h"

#include <QMouseEvent>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace ls::ui {

namespace {
constexpr double kMinBox = 4.0; // image pixels; smaller boxes are clicks
constexpr double kBorderGrab = 12.0; // widget pixels around the picture's border that the expand tool grabs

// Brush profile at distance d from the centre of a brush of radius r: 1 inside r * hardness, falling smoothly
// to 0 at r; a fully hard brush keeps a one-pixel antialiased rim.
double brushProfile(double d, double r, double hardness)
{
    const double inner = r * hardness;
    if (r - inner < 1.0)
        return std::clamp(r + 0.5 - d, 0.0, 1.0);
    if (d <= inner)
        return 1.0;
    if (d >= r)
        return 0.0;
    const double t = (d - inner) / (r - inner);
    return 1.0 - t * t * (3.0 - 2.0 * t);
}

} // namespace

// --- strokes ---

void StrokeTool::begin(QMouseEvent* e, QPointF ip)
{
    if (c.m_tool == Canvas::Tool::Paint && (e->modifiers() & Qt::ControlModifier)) {
        if (c.imageRect().contains(ip)) // pick the colour under the cursor
            c.setBrushColor(c.m_image.pixelColor(ip.toPoint()));
        return;
    }
    m_painting = true;
    m_owner = c.activeLayer();
    m_layer = &c.strokeLayer();
    // On a control layer the brush paints white (a sketch) and the eraser black, as on the mask.
    const Canvas::Tool tool = c.m_tool;
    m_paint = tool == Canvas::Tool::Paint ? c.m_color
        : tool == Canvas::Tool::Eraser    ? QColor(Qt::black)
                                          : QColor(Qt::white);
    m_before = m_layer->copy();
    m_cover = QImage(c.m_image.size(), QImage::Format_Grayscale8);
    m_cover.fill(0);
    m_rect = QRect();
    m_last = ip;
    strokeTo(ip, ip);
}

void StrokeTool::drag(QPointF ip)
{
    strokeTo(m_last, ip);
    m_last = ip;
}

void StrokeTool::end()
{
    if (!m_painting)
        return;
    m_painting = false;
    const QString text = m_owner ? Canvas::tr("Paint control layer")
        : m_layer == &c.m_mask   ? (m_paint == Qt::black ? Canvas::tr("Erase") : Canvas::tr("Paint mask"))
                                 : Canvas::tr("Paint");
    c.pushLayerEdit(m_layer, m_before, m_rect, text, m_owner);
    m_before = m_cover = QImage();
    m_owner.reset();
    Q_EMIT c.changed();
}

void StrokeTool::strokeTo(const QPointF& from, const QPointF& to)
{
    // Coverage of the segment from -> to (a capsule of the brush's radius with its profile), kept as the maximum
    // over the stroke; the layer is then its stroke-start state blended towards the paint.
    QImage& layer = *m_layer;
    if (layer.size() != m_before.size()) { // the picture was replaced under the stroke (a result arrived): it ends
        m_painting = false;
        m_before = m_cover = QImage();
        m_owner.reset();
        return;
    }
    const double r = c.m_brush / 2.0;
    const QRect box = QRectF(QPointF(std::min(from.x(), to.x()) - r - 1, std::min(from.y(), to.y()) - r - 1),
        QPointF(std::max(from.x(), to.x()) + r + 1, std::max(from.y(), to.y()) + r + 1))
                          .toAlignedRect()
                          .intersected(layer.rect());
    if (box.isEmpty())
        return;
    const QPointF seg = to - from;
    const double len2 = QPointF::dotProduct(seg, seg);
    const double peak = 255.0 * c.m_opacity;
    const int channels = layer.depth() / 8; // 1 on the mask, 3 on the picture and control layers
    const int target[3] = { m_paint.red(), m_paint.green(), m_paint.blue() };
    for (int y = box.top(); y <= box.bottom(); ++y) {
        uchar* cover = m_cover.scanLine(y);
        const uchar* was = m_before.constScanLine(y);
        uchar* out = layer.scanLine(y);
        for (int x = box.left(); x <= box.right(); ++x) {
            const QPointF p(x + 0.5, y + 0.5);
            const double t = len2 > 0 ? std::clamp(QPointF::dotProduct(p - from, seg) / len2, 0.0, 1.0) : 0.0;
            const QPointF d = p - (from + seg * t);
            const int v = static_cast<int>(
                std::lround(brushProfile(std::sqrt(QPointF::dotProduct(d, d)), r, c.m_hardness) * peak));
            if (v <= cover[x])
                continue;
            cover[x] = static_cast<uchar>(v);
            for (int k = 0; k < channels; ++k) {
                const int w = was[x * channels + k], delta = target[k] - w;
                out[x * channels + k] = static_cast<uchar>(w + (delta * v + (delta >= 0 ? 127 : -127)) / 255);
            }
        }
    }
    m_rect = m_rect.united(box);
    c.update(
        QRectF(c.toWidget(box.topLeft()) - QPointF(2, 2), c.toWidget(box.bottomRight() + QPoint(1, 1)) + QPointF(2, 2))
            .toAlignedRect());
}

void StrokeTool::hover(QPointF) { c.update(); } // the outline follows the mouse

void StrokeTool::paintOverlay(QPainter& p) const
{
    if (!c.underMouse() || !c.m_preview.isNull())
        return;
    const QPointF at = c.mapFromGlobal(QCursor::pos());
    const double r = c.m_brush * c.m_zoom / 2;
    p.setBrush(Qt::NoBrush);
    p.setPen(QPen(Qt::white, 1, Qt::DashLine));
    p.drawEllipse(at, r, r);
    if (c.m_hardness < 1.0 && r * c.m_hardness > 2) { // where the soft edge begins
        p.setPen(QPen(QColor(255, 255, 255, 140), 1, Qt::DotLine));
        p.drawEllipse(at, r * c.m_hardness, r * c.m_hardness);
    }
}

// --- boxes ---

void BoxTool::begin(QMouseEvent* e, QPointF ip)
{
    m_before = c.m_boxes;
    const Canvas::BoxHit hit = c.boxAt(e->position());
    c.m_active = hit.index;
    m_start = ip;
    if (hit.index >= 0) {
        m_startRect = c.m_boxes[hit.index].rect;
        m_edges = hit.edges;
        m_moving = hit.edges == 0;
    } else {
        m_drawing = true;
        c.m_boxes.push_back({ QRectF(ip, QSizeF(0, 0)), QString() });
        c.m_active = c.m_boxes.size() - 1;
    }
    c.update();
}

void BoxTool::drag(QPointF ip)
{
    if (c.m_active < 0)
        return;
    QRectF& box = c.m_boxes[c.m_active].rect;
    const double w = c.m_image.width(), h = c.m_image.height();
    if (m_drawing) {
        box = QRectF(m_start, ip).normalized().intersected(c.imageRect());
    } else if (m_moving) { // dragged as a whole and kept inside the image
        QRectF r = m_startRect.translated(ip - m_start);
        r.moveLeft(std::clamp(r.left(), 0.0, std::max(0.0, w - r.width())));
        r.moveTop(std::clamp(r.top(), 0.0, std::max(0.0, h - r.height())));
        box = r;
    } else { // the grabbed edges follow the mouse; dragging past the opposite edge flips the box
        const QPointF at(std::clamp(ip.x(), 0.0, w), std::clamp(ip.y(), 0.0, h));
        QPointF tl = m_startRect.topLeft(), br = m_startRect.bottomRight();
        if (m_edges & Canvas::Left)
            tl.setX(at.x());
        if (m_edges & Canvas::Right)
            br.setX(at.x());
        if (m_edges & Canvas::Top)
            tl.setY(at.y());
        if (m_edges & Canvas::Bottom)
            br.setY(at.y());
        box = QRectF(tl, br).normalized();
    }
    c.update();
}

void BoxTool::end()
{
    auto tooSmall = [this] {
        const QRectF& r = c.m_boxes[c.m_active].rect;
        return r.width() < kMinBox || r.height() < kMinBox;
    };
    if (m_drawing) {
        m_drawing = false;
        if (c.m_active >= 0 && tooSmall()) {
            c.m_boxes.removeAt(c.m_active); // a click, not a box
            c.m_active = -1;
        } else {
            c.pushBoxesEdit(m_before, Canvas::tr("Draw box"));
            c.m_active = c.m_boxes.size() - 1;
            Q_EMIT c.changed();
            c.editBoxLabel(c.m_active);
        }
    } else if (m_moving || m_edges) {
        const bool resized = m_edges != 0;
        m_moving = false;
        m_edges = 0;
        if (c.m_active >= 0 && tooSmall())
            c.m_boxes = m_before; // squashed flat: keep the box as it was
        if (!(c.m_boxes == m_before)) {
            const int keep = c.m_active;
            c.pushBoxesEdit(m_before, resized ? Canvas::tr("Resize box") : Canvas::tr("Move box"));
            c.m_active = keep;
            Q_EMIT c.changed();
        }
    }
    c.update();
}

void BoxTool::hover(QPointF wp)
{
    const Canvas::BoxHit hit = c.boxAt(wp);
    const int h = hit.edges & (Canvas::Left | Canvas::Right), v = hit.edges & (Canvas::Top | Canvas::Bottom);
    if (hit.index < 0)
        c.setCursor(Qt::CrossCursor);
    else if (h && v)
        c.setCursor(((hit.edges & Canvas::Left) != 0) == ((hit.edges & Canvas::Top) != 0) ? Qt::SizeFDiagCursor
                                                                                          : Qt::SizeBDiagCursor);
    else if (h)
        c.setCursor(Qt::SizeHorCursor);
    else if (v)
        c.setCursor(Qt::SizeVerCursor);
    else
        c.setCursor(Qt::SizeAllCursor);
}

void BoxTool::doubleClick(QPointF wp)
{
    const Canvas::BoxHit hit = c.boxAt(wp);
    if (hit.index >= 0)
        c.editBoxLabel(hit.index);
}

// --- growing the canvas ---

void ExpandTool::begin(QMouseEvent* e, QPointF)
{
    // The sides the press is beyond (or within grabbing distance of) move outwards with the drag.
    const QRectF v = c.viewRect();
    const QPointF wp = e->position();
    m_edges = 0;
    if (wp.x() < v.left() + kBorderGrab)
        m_edges |= Canvas::Left;
    else if (wp.x() > v.right() - kBorderGrab)
        m_edges |= Canvas::Right;
    if (wp.y() < v.top() + kBorderGrab)
        m_edges |= Canvas::Top;
    else if (wp.y() > v.bottom() - kBorderGrab)
        m_edges |= Canvas::Bottom;
    m_start = c.toImage(wp);
    m_by = QMargins();
}

void ExpandTool::drag(QPointF ip)
{
    const QPointF d = ip - m_start;
    auto grow = [this](double v) { return c.snapToExpandStep(static_cast<int>(std::lround(v))); };
    m_by = QMargins((m_edges & Canvas::Left) ? grow(-d.x()) : 0, (m_edges & Canvas::Top) ? grow(-d.y()) : 0,
        (m_edges & Canvas::Right) ? grow(d.x()) : 0, (m_edges & Canvas::Bottom) ? grow(d.y()) : 0);
    c.update();
}

void ExpandTool::end()
{
    const QMargins by = m_by;
    m_edges = 0;
    m_by = QMargins();
    if (!by.isNull())
        c.expand(by.left(), by.top(), by.right(), by.bottom());
    c.update();
}

void ExpandTool::hover(QPointF wp)
{
    const QRectF v = c.viewRect();
    const bool onBorder = v.adjusted(-kBorderGrab, -kBorderGrab, kBorderGrab, kBorderGrab).contains(wp)
        && !v.adjusted(kBorderGrab, kBorderGrab, -kBorderGrab, -kBorderGrab).contains(wp);
    c.setCursor(onBorder ? Qt::SizeAllCursor : Qt::ArrowCursor);
}

void ExpandTool::paintOverlay(QPainter& p) const
{
    if (m_by.isNull())
        return;
    const QRectF grown = c.imageRect().marginsAdded(m_by.toMarginsF());
    const QRectF r(c.toWidget(grown.topLeft()), c.toWidget(grown.bottomRight()));
    p.setBrush(QColor(230, 40, 60, 40));
    p.setPen(QPen(Qt::white, 1, Qt::DashLine));
    p.drawRect(r);
    const QString label = Canvas::tr("%1 x %2").arg(grown.width()).arg(grown.height());
    const QRectF tag(r.left(), r.top() - 20, p.fontMetrics().horizontalAdvance(label) + 10.0, 18);
    p.fillRect(tag, QColor(20, 20, 30, 200));
    p.setPen(Qt::white);
    p.drawText(tag, Qt::AlignCenter, label);
}

} // namespace ls::ui

// The canvas's pixel edits: brush strokes on the mask or in colour on the picture, their undo records, and growing
// the canvas for outpainting (menu or the Expand tool's drag).
#include "Canvas.h"

#include <QPainter>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ls::ui {

namespace {
// Copies src (same format) into dst with its top-left at `at`.
void blit(QImage& dst, const QImage& src, const QPoint& at)
{
    if (dst.format() != src.format() || !dst.rect().contains(QRect(at, src.size())))
        return; // the layer was resized since (its resize is undone first in order; never write outside)
    const int bpp = dst.depth() / 8;
    for (int y = 0; y < src.height(); ++y)
        std::memcpy(dst.scanLine(at.y() + y) + static_cast<size_t>(at.x()) * bpp, src.constScanLine(y),
            static_cast<size_t>(src.width()) * bpp);
}

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

int snapUp(int v, int step) { return v <= 0 ? 0 : (v + step - 1) / step * step; }
} // namespace

QImage expandedPicture(const QImage& image, int left, int top, int right, int bottom)
{
    // Edge pixels stretched outwards, then the new area replaced by a blurred copy (a 1/16 smooth downscale and back),
    // so the inpainting job starts from the picture's own colours without hard streaks.
    const QImage src = image.convertToFormat(QImage::Format_RGB888);
    const int w = src.width(), h = src.height();
    QImage out(w + left + right, h + top + bottom, QImage::Format_RGB888);
    for (int y = 0; y < out.height(); ++y) {
        const uchar* line = src.constScanLine(std::clamp(y - top, 0, h - 1));
        uchar* o = out.scanLine(y);
        for (int x = 0; x < out.width(); ++x)
            std::memcpy(o + 3 * x, line + 3 * std::clamp(x - left, 0, w - 1), 3);
    }
    const QImage soft = out.scaled(std::max(1, out.width() / 16), std::max(1, out.height() / 16), Qt::IgnoreAspectRatio,
                               Qt::SmoothTransformation)
                            .scaled(out.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation)
                            .convertToFormat(QImage::Format_RGB888);
    const QRect old(left, top, w, h);
    for (int y = 0; y < out.height(); ++y)
        for (int x = 0; x < out.width(); ++x)
            if (!old.contains(x, y))
                std::memcpy(out.scanLine(y) + 3 * x, soft.constScanLine(y) + 3 * x, 3);
    return out;
}

void Canvas::expand(int left, int top, int right, int bottom, int overlap)
{
    left = std::max(0, left);
    top = std::max(0, top);
    right = std::max(0, right);
    bottom = std::max(0, bottom);
    if (left + top + right + bottom == 0)
        return;
    finishLabelEdit(true);
    // The new area is masked, with `overlap` pixels into the old picture on the grown sides to hide the seam; the
    // old mask and the boxes move with the picture.
    QImage mask(m_image.width() + left + right, m_image.height() + top + bottom, QImage::Format_Grayscale8);
    mask.fill(255);
    const QRect keep
        = QRect(left, top, m_image.width(), m_image.height())
              .adjusted(left ? overlap : 0, top ? overlap : 0, right ? -overlap : 0, bottom ? -overlap : 0);
    {
        QPainter p(&mask);
        p.fillRect(keep, Qt::black);
    }
    for (int y = 0; y < m_mask.height(); ++y) {
        const uchar* was = m_mask.constScanLine(y);
        uchar* now = mask.scanLine(y + top) + left;
        for (int x = 0; x < m_mask.width(); ++x)
            now[x] = std::max(now[x], was[x]);
    }
    QVector<CanvasBox> boxes = m_boxes;
    for (auto& b : boxes)
        b.rect.translate(left, top);
    std::vector<std::shared_ptr<ControlLayer>> controls; // grown with black (no control) in the new area
    for (const auto& c : m_controls) {
        auto grown = std::make_shared<ControlLayer>(*c);
        grown->image = QImage(mask.size(), QImage::Format_RGB888);
        grown->image.fill(Qt::black);
        QPainter p(&grown->image);
        p.drawImage(left, top, c->image);
        controls.push_back(std::move(grown));
    }
    const State before { m_image, m_mask, m_boxes, m_controls };
    const State after { expandedPicture(m_image, left, top, right, bottom), mask, boxes, controls };
    auto apply = [this](const State& s) {
        finishLabelEdit(false);
        m_image = s.image;
        m_mask = s.mask;
        m_boxes = s.boxes;
        replaceControls(s.controls);
        m_active = -1;
        if (m_fit)
            fitToWindow();
        update();
        Q_EMIT changed();
    };
    m_undo.push(
        tr("Expand canvas"), [apply, before] { apply(before); }, [apply, after] { apply(after); },
        before.image.sizeInBytes() + before.mask.sizeInBytes() + after.image.sizeInBytes() + after.mask.sizeInBytes());
    apply(after);
}

void Canvas::setExpandStep(int px) { m_expandStep = std::max(1, px); }

void Canvas::beginExpand(const QPointF& widgetPos)
{
    // The sides the press is beyond (or within grabbing distance of) move outwards with the drag.
    const QRectF v = viewRect();
    const double grab = 12.0;
    m_expandEdges = 0;
    if (widgetPos.x() < v.left() + grab)
        m_expandEdges |= Left;
    else if (widgetPos.x() > v.right() - grab)
        m_expandEdges |= Right;
    if (widgetPos.y() < v.top() + grab)
        m_expandEdges |= Top;
    else if (widgetPos.y() > v.bottom() - grab)
        m_expandEdges |= Bottom;
    m_start = toImage(widgetPos);
    m_expandBy = QMargins();
}

void Canvas::moveExpand(const QPointF& imagePos)
{
    if (!m_expandEdges)
        return;
    const QPointF d = imagePos - m_start;
    auto grow = [this](double v) { return snapUp(static_cast<int>(std::lround(v)), m_expandStep); };
    m_expandBy = QMargins((m_expandEdges & Left) ? grow(-d.x()) : 0, (m_expandEdges & Top) ? grow(-d.y()) : 0,
        (m_expandEdges & Right) ? grow(d.x()) : 0, (m_expandEdges & Bottom) ? grow(d.y()) : 0);
    update();
}

void Canvas::endExpand()
{
    const QMargins by = m_expandBy;
    m_expandEdges = 0;
    m_expandBy = QMargins();
    if (!by.isNull())
        expand(by.left(), by.top(), by.right(), by.bottom());
    update();
}

void Canvas::paintExpandOutline(QPainter& p) const
{
    if (m_expandBy.isNull())
        return;
    const QRectF grown = QRectF(imageRect()).marginsAdded(m_expandBy.toMarginsF());
    const QRectF r(toWidget(grown.topLeft()), toWidget(grown.bottomRight()));
    p.setBrush(QColor(230, 40, 60, 40));
    p.setPen(QPen(Qt::white, 1, Qt::DashLine));
    p.drawRect(r);
    const QString label = tr("%1 x %2").arg(grown.width()).arg(grown.height());
    const QRectF tag(r.left(), r.top() - 20, p.fontMetrics().horizontalAdvance(label) + 10.0, 18);
    p.fillRect(tag, QColor(20, 20, 30, 200));
    p.setPen(Qt::white);
    p.drawText(tag, Qt::AlignCenter, label);
}

void Canvas::pushLayerEdit(
    QImage* layer, const QImage& before, const QRect& region, const QString& text, std::shared_ptr<ControlLayer> owner)
{
    // Only the changed region is kept, before and after: a stroke on a large layer costs its own area.
    const QRect r = region.intersected(layer->rect());
    if (r.isEmpty())
        return;
    const QImage was = before.copy(r), now = layer->copy(r);
    const QPoint at = r.topLeft();
    m_undo.push(
        text,
        [this, layer, was, at, owner] {
            blit(*layer, was, at);
            update();
            Q_EMIT changed();
        },
        [this, layer, now, at, owner] {
            blit(*layer, now, at);
            update();
            Q_EMIT changed();
        },
        was.sizeInBytes() + now.sizeInBytes());
}

void Canvas::pushMaskEdit(const QImage& before, const QRect& region, const QString& text)
{
    pushLayerEdit(&m_mask, before, region, text);
}

void Canvas::beginStroke(const QPointF& imagePos)
{
    m_painting = true;
    m_layerBefore = strokeLayer().copy();
    m_strokeCover = QImage(m_image.size(), QImage::Format_Grayscale8);
    m_strokeCover.fill(0);
    m_strokeRect = QRect();
    m_last = imagePos;
    strokeTo(imagePos, imagePos);
}

void Canvas::endStroke()
{
    m_painting = false;
    const auto control = activeLayer();
    const QString text = control ? tr("Paint control layer")
        : m_tool == Tool::Paint  ? tr("Paint")
        : m_tool == Tool::Eraser ? tr("Erase")
                                 : tr("Paint mask");
    pushLayerEdit(&strokeLayer(), m_layerBefore, m_strokeRect, text, control);
    m_layerBefore = m_strokeCover = QImage();
    Q_EMIT changed();
}

void Canvas::strokeTo(const QPointF& from, const QPointF& to)
{
    // Coverage of the segment from -> to (a capsule of the brush's radius with its profile), kept as the maximum
    // over the stroke; the layer is then its stroke-start state blended towards the paint: white (brush on the mask),
    // black (eraser) or the brush colour (paint on the picture).
    const double r = m_brush / 2.0;
    const QRect box = QRectF(QPointF(std::min(from.x(), to.x()) - r - 1, std::min(from.y(), to.y()) - r - 1),
        QPointF(std::max(from.x(), to.x()) + r + 1, std::max(from.y(), to.y()) + r + 1))
                          .toAlignedRect()
                          .intersected(m_mask.rect());
    if (box.isEmpty())
        return;
    const QPointF seg = to - from;
    const double len2 = QPointF::dotProduct(seg, seg);
    const double peak = 255.0 * m_opacity;
    // On a control layer the brush paints white (a sketch), the eraser black, the paint tool its colour.
    const bool colour = m_tool == Tool::Paint || activeLayer();
    const int channels = colour ? 3 : 1;
    const QColor paint = m_tool == Tool::Paint ? m_color
        : m_tool == Tool::Eraser               ? QColor(Qt::black)
                                               : QColor(Qt::white);
    const int target[3] = { paint.red(), paint.green(), paint.blue() };
    QImage& layer = strokeLayer();
    for (int y = box.top(); y <= box.bottom(); ++y) {
        uchar* cover = m_strokeCover.scanLine(y);
        const uchar* was = m_layerBefore.constScanLine(y);
        uchar* out = layer.scanLine(y);
        for (int x = box.left(); x <= box.right(); ++x) {
            const QPointF p(x + 0.5, y + 0.5);
            const double t = len2 > 0 ? std::clamp(QPointF::dotProduct(p - from, seg) / len2, 0.0, 1.0) : 0.0;
            const QPointF d = p - (from + seg * t);
            const double v = brushProfile(std::sqrt(QPointF::dotProduct(d, d)), r, m_hardness) * peak;
            const int c = static_cast<int>(std::lround(v));
            if (c <= cover[x])
                continue;
            cover[x] = static_cast<uchar>(c);
            for (int k = 0; k < channels; ++k) {
                const int w = was[x * channels + k], delta = target[k] - w;
                out[x * channels + k] = static_cast<uchar>(w + (delta * c + (delta >= 0 ? 127 : -127)) / 255);
            }
        }
    }
    m_strokeRect = m_strokeRect.united(box);
    update(QRectF(toWidget(box.topLeft()) - QPointF(2, 2), toWidget(box.bottomRight() + QPoint(1, 1)) + QPointF(2, 2))
               .toAlignedRect());
}

void Canvas::setBrushColor(const QColor& c)
{
    m_color = c.toRgb();
    Q_EMIT toolChanged();
}

} // namespace ls::ui

// The canvas's pixel edits: the undo records of strokes and fills, and growing the canvas for outpainting.
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
    pushStateEdit(tr("Expand canvas"), before, after);
    applyState(after);
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

void Canvas::setExpandStep(int px) { m_expandStep = std::max(1, px); }

void Canvas::setBrushColor(const QColor& c)
{
    m_color = c.toRgb();
    Q_EMIT toolChanged();
}

} // namespace ls::ui

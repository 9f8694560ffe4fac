// The canvas's control layers (ControlNet units drawn on the canvas): adding, removing, filling and selecting them,
// undoably, and drawing them over the picture.
#include "Canvas.h"

#include <QPainter>

#include <algorithm>

namespace ls::ui {

namespace {
QImage blackImage(const QSize& size)
{
    QImage img(size, QImage::Format_RGB888);
    img.fill(Qt::black);
    return img;
}
} // namespace

std::shared_ptr<ControlLayer> Canvas::activeLayer() const
{
    return m_activeControl >= 0 && m_activeControl < controlCount() ? m_controls[m_activeControl] : nullptr;
}

QImage& Canvas::strokeLayer()
{
    if (const auto layer = activeLayer())
        return layer->image;
    return m_tool == Tool::Paint ? m_image : m_mask;
}

void Canvas::replaceControls(std::vector<std::shared_ptr<ControlLayer>> layers)
{
    m_controls = std::move(layers);
    if (m_activeControl >= controlCount())
        m_activeControl = controlCount() - 1;
    update();
    Q_EMIT controlsChanged();
}

QImage Canvas::canvasSized(const QImage& layerImage) const
{
    if (layerImage.isNull())
        return blackImage(m_image.size());
    return layerImage.convertToFormat(QImage::Format_RGB888)
        .scaled(m_image.size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
}

void Canvas::pushControlsEdit(const QString& text, std::vector<std::shared_ptr<ControlLayer>> before, int activeBefore,
    std::vector<std::shared_ptr<ControlLayer>> after, int activeAfter, qint64 bytes)
{
    auto apply = [this](const std::vector<std::shared_ptr<ControlLayer>>& layers, int active) {
        m_activeControl = std::min(active, static_cast<int>(layers.size()) - 1);
        replaceControls(layers); // says controlsChanged
        Q_EMIT changed();
    };
    m_undo.push(
        text, [apply, before, activeBefore] { apply(before, activeBefore); },
        [apply, after, activeAfter] { apply(after, activeAfter); }, bytes);
    apply(after, activeAfter);
}

int Canvas::addControl(ControlLayer layer)
{
    layer.image = canvasSized(layer.image);
    auto after = m_controls;
    after.push_back(std::make_shared<ControlLayer>(std::move(layer)));
    const int index = static_cast<int>(after.size()) - 1;
    const qint64 bytes = after.back()->image.sizeInBytes();
    pushControlsEdit(tr("Add control layer"), m_controls, m_activeControl, std::move(after), index, bytes);
    return index;
}

void Canvas::removeControl(int index)
{
    if (index < 0 || index >= controlCount())
        return;
    auto after = m_controls;
    after.erase(after.begin() + index);
    pushControlsEdit(tr("Remove control layer"), m_controls, m_activeControl, std::move(after), -1, 0);
}

void Canvas::setControlImage(int index, const QImage& image)
{
    if (index < 0 || index >= controlCount() || image.isNull())
        return;
    const auto layer = m_controls[index];
    const QImage before = layer->image;
    layer->image = canvasSized(image);
    pushLayerEdit(&layer->image, before, layer->image.rect(), tr("Fill control layer"), layer);
    update();
    Q_EMIT changed();
}

void Canvas::setControlSettings(int index, const ControlLayer& s)
{
    if (index < 0 || index >= controlCount())
        return;
    ControlLayer& c = *m_controls[index];
    const QImage keep = c.image;
    c = s;
    c.image = keep;
    update();
    Q_EMIT controlsChanged();
    Q_EMIT changed();
}

void Canvas::setControls(const QVector<ControlLayer>& layers)
{
    std::vector<std::shared_ptr<ControlLayer>> list;
    for (ControlLayer c : layers) {
        c.image = canvasSized(c.image);
        list.push_back(std::make_shared<ControlLayer>(std::move(c)));
    }
    m_activeControl = -1;
    replaceControls(std::move(list));
    Q_EMIT changed();
}

void Canvas::setActiveControl(int index)
{
    m_activeControl = index >= 0 && index < controlCount() ? index : -1;
    update();
    Q_EMIT controlsChanged();
}

std::vector<std::shared_ptr<ControlLayer>> Canvas::scaledControls(const QSize& size) const
{
    std::vector<std::shared_ptr<ControlLayer>> out;
    for (const auto& c : m_controls) {
        if (c->image.size() == size) {
            out.push_back(c);
            continue;
        }
        auto s = std::make_shared<ControlLayer>(*c);
        s->image = c->image.scaled(size, Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
        out.push_back(std::move(s));
    }
    return out;
}

void Canvas::paintControls(QPainter& p, const QRectF& target) const
{
    // Screen blending: a sketch's black is no ink, its lines show over the picture; the active layer always shows.
    p.save();
    p.setCompositionMode(QPainter::CompositionMode_Screen);
    for (int i = 0; i < controlCount(); ++i) {
        const ControlLayer& c = *m_controls[i];
        if (!c.visible && i != m_activeControl)
            continue;
        p.setOpacity(i == m_activeControl ? std::max(c.opacity, 0.5) : c.opacity);
        p.drawImage(target, c.image);
    }
    p.restore();
}

} // namespace ls::ui

// The canvas's layout boxes: setting them (undoably), finding the box under the mouse, and editing a label in place.
#include "Canvas.h"

#include <QKeyEvent>
#include <QLineEdit>

#include <algorithm>
#include <cmath>

namespace ls::ui {

namespace {
constexpr double kEdgeGrab = 6.0; // widget pixels around a box edge that resize it
constexpr int kLabelHeight = 20; // widget pixels

qint64 boxesBytes(const QVector<CanvasBox>& b)
{
    qint64 n = 0;
    for (const auto& x : b)
        n += static_cast<qint64>(sizeof(CanvasBox)) + x.prompt.size() * 2;
    return n;
}
} // namespace

void Canvas::setBoxes(const QVector<CanvasBox>& boxes, bool undoable, const QString& text)
{
    finishLabelEdit(false);
    const auto before = m_boxes;
    m_boxes = boxes;
    if (m_active >= m_boxes.size())
        m_active = -1;
    if (undoable)
        pushBoxesEdit(before, text.isEmpty() ? tr("Edit boxes") : text);
    update();
    Q_EMIT changed();
}

void Canvas::pushBoxesEdit(const QVector<CanvasBox>& before, const QString& text)
{
    const auto after = m_boxes;
    m_undo.push(
        text,
        [this, before] {
            finishLabelEdit(false);
            m_boxes = before;
            m_active = -1;
            update();
            Q_EMIT changed();
        },
        [this, after] {
            finishLabelEdit(false);
            m_boxes = after;
            m_active = -1;
            update();
            Q_EMIT changed();
        },
        boxesBytes(before) + boxesBytes(after));
}

Canvas::BoxHit Canvas::boxAt(const QPointF& wp) const
{
    // Topmost first; near an edge (in widget pixels, so handles stay grabbable at any zoom) means resize.
    for (int i = m_boxes.size() - 1; i >= 0; --i) {
        const QRectF r(toWidget(m_boxes[i].rect.topLeft()), toWidget(m_boxes[i].rect.bottomRight()));
        if (!r.adjusted(-kEdgeGrab, -kEdgeGrab, kEdgeGrab, kEdgeGrab).contains(wp))
            continue;
        int edges = 0;
        if (std::abs(wp.x() - r.left()) <= kEdgeGrab)
            edges |= Left;
        else if (std::abs(wp.x() - r.right()) <= kEdgeGrab)
            edges |= Right;
        if (std::abs(wp.y() - r.top()) <= kEdgeGrab)
            edges |= Top;
        else if (std::abs(wp.y() - r.bottom()) <= kEdgeGrab)
            edges |= Bottom;
        if (edges || r.contains(wp))
            return { i, edges };
    }
    return {};
}

QRectF Canvas::labelRect(int index) const
{
    const QRectF r(toWidget(m_boxes[index].rect.topLeft()), toWidget(m_boxes[index].rect.bottomRight()));
    const double top = r.top() >= kLabelHeight ? r.top() - kLabelHeight : r.top(); // inside the box at the very top
    return QRectF(r.left(), top, std::max(60.0, r.width()), kLabelHeight);
}

void Canvas::editBoxLabel(int index)
{
    if (index < 0 || index >= m_boxes.size())
        return;
    finishLabelEdit(true);
    m_active = m_labelIndex = index;
    QRectF r = labelRect(index);
    r.setWidth(std::max(r.width(), 180.0));
    m_labelEdit->setGeometry(r.toAlignedRect());
    m_labelEdit->setText(m_boxes[index].prompt);
    m_labelEdit->selectAll();
    m_labelEdit->show();
    m_labelEdit->setFocus();
    update();
    Q_EMIT boxEditRequested(index);
}

bool Canvas::isEditingLabel() const { return m_labelIndex >= 0 && m_labelIndex < m_boxes.size(); }

void Canvas::finishLabelEdit(bool commit)
{
    if (m_labelIndex < 0)
        return;
    const int i = m_labelIndex;
    m_labelIndex = -1; // first: hiding the editor moves the focus, which reports editingFinished again
    const QString text = m_labelEdit->text().trimmed();
    m_labelEdit->hide();
    setFocus();
    if (commit && i < m_boxes.size() && text != m_boxes[i].prompt) {
        auto boxes = m_boxes;
        boxes[i].prompt = text;
        setBoxes(boxes, true, tr("Label box"));
        m_active = i;
    }
    update();
}

bool Canvas::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == m_labelEdit) {
        // Esc leaves the editor without changing the label (and does not reach the window's Cancel shortcut).
        if (event->type() == QEvent::ShortcutOverride && static_cast<QKeyEvent*>(event)->key() == Qt::Key_Escape) {
            event->accept();
            return true;
        }
        if (event->type() == QEvent::KeyPress) {
            const int key = static_cast<QKeyEvent*>(event)->key();
            if (key == Qt::Key_Escape || key == Qt::Key_Return || key == Qt::Key_Enter) {
                // Handled here: QLineEdit passes Enter on to its parent, where it would reopen the editor.
                finishLabelEdit(key != Qt::Key_Escape);
                return true;
            }
        }
    }
    return QWidget::eventFilter(watched, event);
}

} // namespace ls::ui

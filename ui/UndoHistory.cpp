#include "UndoHistory.h"

#include <QAction>

namespace ls::ui {

UndoHistory::UndoHistory(QObject* parent)
    : QObject(parent)
{
}

void UndoHistory::push(const QString& text, std::function<void()> undo, std::function<void()> redo, qint64 bytes)
{
    while (canRedo()) {
        m_bytes -= m_edits.back().bytes;
        m_edits.pop_back();
    }
    m_edits.push_back({ text, std::move(undo), std::move(redo), std::max<qint64>(bytes, 0) });
    m_bytes += m_edits.back().bytes;
    m_index = count();
    trim();
    Q_EMIT changed();
}

void UndoHistory::trim()
{
    // Oldest first; the newest edit stays even when it alone is over the limit. Only applied edits can be at the
    // front (redoable ones are behind m_index), so dropping them keeps the rest consistent.
    while (m_bytes > m_limit && m_edits.size() > 1 && m_index > 1) {
        m_bytes -= m_edits.front().bytes;
        m_edits.pop_front();
        --m_index;
        ++m_dropped;
    }
}

void UndoHistory::undo()
{
    if (!canUndo())
        return;
    --m_index;
    m_edits[static_cast<size_t>(m_index)].undo();
    Q_EMIT changed();
}

void UndoHistory::redo()
{
    if (!canRedo())
        return;
    m_edits[static_cast<size_t>(m_index)].redo();
    ++m_index;
    Q_EMIT changed();
}

void UndoHistory::clear()
{
    m_edits.clear();
    m_index = 0;
    m_bytes = 0;
    m_dropped = 0;
    Q_EMIT changed();
}

QString UndoHistory::undoText() const { return canUndo() ? m_edits[static_cast<size_t>(m_index - 1)].text : QString(); }
QString UndoHistory::redoText() const { return canRedo() ? m_edits[static_cast<size_t>(m_index)].text : QString(); }

void UndoHistory::setMemoryLimit(qint64 bytes)
{
    m_limit = std::max<qint64>(bytes, 0);
    trim();
    Q_EMIT changed();
}

namespace {
QAction* followingAction(UndoHistory* h, QObject* parent, const QString& prefix, bool undo)
{
    auto* a = new QAction(prefix, parent);
    auto refresh = [a, h, prefix, undo] {
        const QString text = undo ? h->undoText() : h->redoText();
        a->setEnabled(undo ? h->canUndo() : h->canRedo());
        a->setText(text.isEmpty() ? prefix : prefix + QLatin1Char(' ') + text);
    };
    refresh();
    QObject::connect(h, &UndoHistory::changed, a, refresh);
    QObject::connect(a, &QAction::triggered, h, [h, undo] { undo ? h->undo() : h->redo(); });
    return a;
}
} // namespace

QAction* UndoHistory::createUndoAction(QObject* parent, const QString& prefix)
{
    return followingAction(this, parent, prefix, true);
}
QAction* UndoHistory::createRedoAction(QObject* parent, const QString& prefix)
{
    return followingAction(this, parent, prefix, false);
}

} // namespace ls::ui

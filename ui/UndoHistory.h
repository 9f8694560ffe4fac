#pragma once
// Undo/redo for canvas edits, bounded by memory rather than by count: every edit says how many bytes it keeps
// (its before/after pixels), and the oldest edits are forgotten once the total passes the limit. QUndoStack cannot
// drop its oldest commands once filled, so the canvas keeps its own list.
#include <QObject>
#include <QString>

#include <deque>
#include <functional>

class QAction;

namespace ls::ui {

class UndoHistory : public QObject {
    Q_OBJECT
public:
    explicit UndoHistory(QObject* parent = nullptr);

    // Records an edit that is already applied. Discards what could be redone, then the oldest edits while the total
    // is over the memory limit (the newest edit is always kept, however large).
    void push(const QString& text, std::function<void()> undo, std::function<void()> redo, qint64 bytes);
    void undo();
    void redo();
    void clear();
    bool canUndo() const { return m_index > 0; }
    bool canRedo() const { return m_index < static_cast<int>(m_edits.size()); }
    int count() const { return static_cast<int>(m_edits.size()); }
    int index() const { return m_index; } // edits currently applied
    QString undoText() const;
    QString redoText() const;
    qint64 bytes() const { return m_bytes; }
    qint64 memoryLimit() const { return m_limit; }
    void setMemoryLimit(qint64 bytes); // trims at once
    int dropped() const { return m_dropped; } // edits forgotten to stay under the limit since the last clear()

    // Menu actions that follow the history (enabled state and "Undo <edit>" text).
    QAction* createUndoAction(QObject* parent, const QString& prefix);
    QAction* createRedoAction(QObject* parent, const QString& prefix);

Q_SIGNALS:
    void changed();

private:
    struct Edit {
        QString text;
        std::function<void()> undo, redo;
        qint64 bytes = 0;
    };
    void trim();
    std::deque<Edit> m_edits;
    int m_index = 0;
    qint64 m_bytes = 0;
    qint64 m_limit = 512LL << 20;
    int m_dropped = 0;
};

} // namespace ls::ui

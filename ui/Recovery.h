#pragma once
// Crash recovery: every running instance autosaves its work into <recovery>/<pid>.lsproj; an instance that ended
// without cleaning up (a crash, a kill) leaves its folder behind, and the next start offers it back. Declined ones
// are set aside (renamed), never deleted.
#include <QDir>
#include <QString>

namespace ls::ui {

class MainWindow;

class RecoveryStore {
public:
    explicit RecoveryStore(const QString& baseDir = {}); // created when missing
    QString selfDir() const { return m_self; } // this instance's autosave
    // The newest autosave left by an instance that is no longer running, or empty.
    QString candidate() const;
    void decline(const QString& dir) const; // renamed to declined-<time>-<name>

private:
    QDir m_base;
    QString m_self;
};

// At start: asks whether to restore the newest orphaned autosave (restoreRecovery) or set it aside.
void offerRecovery(MainWindow& w);

} // namespace ls::ui

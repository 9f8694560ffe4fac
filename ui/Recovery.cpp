#include "Recovery.h"

#include "MainWindow.h"

#include <QDateTime>
#include <QFileInfo>
#include <QLocale>
#include <QMessageBox>
#include <QTimer>

#include <cerrno>
#include <csignal>
#include <unistd.h>

namespace ls::ui {

RecoveryStore::RecoveryStore(const QString& baseDir)
{
    QDir().mkpath(baseDir);
    m_base = QDir(baseDir);
    m_self = m_base.filePath(QString::number(::getpid()) + QStringLiteral(".lsproj"));
}

QString RecoveryStore::candidate() const
{
    QString best;
    QDateTime newest;
    for (const QFileInfo& fi :
        m_base.entryInfoList({ QStringLiteral("*.lsproj") }, QDir::Dirs | QDir::NoDotAndDotDot)) {
        bool ok = false;
        const qint64 pid = fi.completeBaseName().toLongLong(&ok);
        if (!ok || pid == ::getpid())
            continue;
        if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)
            continue; // that instance is still running
        const QFileInfo json(QDir(fi.filePath()).filePath(QStringLiteral("project.json")));
        if (!json.exists())
            continue;
        if (best.isEmpty() || json.lastModified() > newest) {
            best = fi.filePath();
            newest = json.lastModified();
        }
    }
    return best;
}

void RecoveryStore::decline(const QString& dir) const
{
    const QString aside = m_base.filePath(QStringLiteral("declined-")
        + QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss-")) + QFileInfo(dir).fileName());
    QDir().rename(dir, aside);
}

void offerRecovery(MainWindow& w)
{
    const QString recovered = w.recoveryCandidate();
    if (recovered.isEmpty())
        return;
    QTimer::singleShot(0, &w, [&w, recovered] {
        const QDateTime when = QFileInfo(recovered + QStringLiteral("/project.json")).lastModified();
        const auto answer = QMessageBox::question(&w, QObject::tr("Restore unsaved work?"),
            QObject::tr("Latent Studio did not close properly. Restore the work autosaved at %1?\n"
                        "(If you choose No it is kept in %2.)")
                .arg(QLocale().toString(when, QLocale::ShortFormat), QFileInfo(recovered).absolutePath()));
        if (answer == QMessageBox::Yes)
            w.restoreRecovery(recovered);
        else
            w.declineRecovery(recovered);
    });
}

} // namespace ls::ui

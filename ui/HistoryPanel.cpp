#include "HistoryPanel.h"

#include "GenerationController.h"

#include "io/ImageFile.h"

#include <QDateTime>
#include <QMenu>

namespace ls::ui {

HistoryPanel::HistoryPanel(QWidget* parent)
    : QListWidget(parent)
{
    setObjectName(QStringLiteral("history"));
    setViewMode(QListView::IconMode);
    setIconSize(QSize(96, 96));
    setFlow(QListView::LeftToRight);
    setWrapping(false);
    setFixedHeight(124); // one row of 96-pixel thumbnails and a scroll bar
    setContextMenuPolicy(Qt::CustomContextMenu);
    connect(this, &QListWidget::itemClicked, this,
        [this](QListWidgetItem* item) { Q_EMIT compareRequested(entry(row(item)).image); });
    connect(this, &QListWidget::itemDoubleClicked, this,
        [this](QListWidgetItem* item) { Q_EMIT applyRequested(entry(row(item)).image); });
    connect(this, &QListWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        QListWidgetItem* item = itemAt(pos);
        if (!item)
            return;
        const HistoryEntry e = entry(row(item));
        QMenu menu;
        menu.addAction(tr("Apply to canvas"), this, [this, e] { Q_EMIT applyRequested(e.image); });
        menu.addAction(tr("Compare with canvas"), this, [this, e] { Q_EMIT compareRequested(e.image); });
        menu.addAction(tr("Use these settings"), this, [this, e] { Q_EMIT reuseRequested(e.settings); });
        menu.exec(mapToGlobal(pos));
    });
}

void HistoryPanel::setFolder(const QString& dir)
{
    QDir().mkpath(dir);
    m_dir = QDir(dir);
}

QString HistoryPanel::addResult(const QImage& image, const QString& parameters, const QString& settings)
{
    const QString name
        = QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss-zzz")) + QStringLiteral(".png");
    QString error;
    try {
        ls::io::writeImage(m_dir.filePath(name).toStdString(), fromQImage(image),
            { { "parameters", parameters.toStdString() }, { "latent_studio", settings.toStdString() } });
    } catch (const std::exception& e) {
        error = QString::fromStdString(e.what());
    }
    addEntry({ image, parameters, settings, m_dir.filePath(name) });
    return error;
}

void HistoryPanel::addEntry(const HistoryEntry& e)
{
    auto* item = new QListWidgetItem(
        QIcon(QPixmap::fromImage(e.image.scaled(96, 96, Qt::KeepAspectRatio, Qt::SmoothTransformation))), QString());
    item->setToolTip(e.parameters);
    m_entries.prepend(e);
    insertItem(0, item);
}

void HistoryPanel::setEntries(const QVector<HistoryEntry>& newestFirst)
{
    clear();
    m_entries.clear();
    for (auto it = newestFirst.crbegin(); it != newestFirst.crend(); ++it) // addEntry puts each one first
        addEntry(*it);
}

const HistoryEntry* HistoryPanel::findImage(const QImage& image) const
{
    const QImage wanted = image.convertToFormat(QImage::Format_RGB888);
    for (const auto& e : m_entries)
        if (e.image.convertToFormat(QImage::Format_RGB888) == wanted)
            return &e;
    return nullptr;
}

} // namespace ls::ui

// The main window's files: projects (save, open, autosave, crash recovery), export, opening and importing pictures,
// the clipboard and drops.
#include "MainWindow.h"

#include "Canvas.h"
#include "GenerationController.h"
#include "HistoryPanel.h"
#include "Project.h"
#include "PromptPanel.h"

#include "io/ImageFile.h"
#include "pipeline/Infotext.h"

#include <nlohmann/json.hpp>

#include <QClipboard>
#include <QCloseEvent>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QGuiApplication>
#include <QJsonDocument>
#include <QLabel>
#include <QMessageBox>
#include <QMimeData>
#include <QUrl>

namespace ls::ui {

ProjectData MainWindow::currentProject() const
{
    ProjectData d;
    d.image = m_canvas->image();
    if (!m_canvas->maskIsEmpty())
        d.mask = m_canvas->mask();
    d.boxes = m_canvas->boxes();
    for (int i = 0; i < m_canvas->controlCount(); ++i)
        d.controls.push_back(m_canvas->control(i));
    try {
        const auto req = m_panel->request(false, false).toJson().dump();
        d.panel = QJsonObject { { QStringLiteral("mode"), m_panel->modeName() },
            { QStringLiteral("request"), QJsonDocument::fromJson(QByteArray::fromStdString(req)).object() } };
    } catch (const std::exception&) {
        d.panel = QJsonObject { { QStringLiteral("mode"), m_panel->modeName() } };
    }
    for (const HistoryEntry& e : m_history->entries())
        d.history.push_back({ e.file, e.parameters, e.settings });
    return d;
}

void MainWindow::applyProject(const ProjectData& d)
{
    m_canvas->setPreview({});
    if (!d.image.isNull())
        m_canvas->setImage(d.image.convertToFormat(QImage::Format_RGB888), false);
    QImage mask = d.mask;
    if (mask.isNull()) {
        mask = QImage(m_canvas->image().size(), QImage::Format_Grayscale8);
        mask.fill(0);
    }
    m_canvas->setMask(mask, false);
    m_canvas->setBoxes(d.boxes, false);
    m_canvas->setControls(d.controls);
    m_canvas->undoStack()->clear();
    const QJsonValue req = d.panel.value(QStringLiteral("request"));
    if (req.isObject()) {
        try {
            m_panel->applyRequest(ls::pipeline::GenerationRequest::fromJson(
                nlohmann::json::parse(QJsonDocument(req.toObject()).toJson(QJsonDocument::Compact).toStdString())));
        } catch (const std::exception& e) {
            m_status->setText(tr("Project settings not applied: %1").arg(QString::fromStdString(e.what())));
        }
    }
    if (d.panel.contains(QStringLiteral("mode")))
        m_panel->setMode(d.panel.value(QStringLiteral("mode")).toString());
    QVector<HistoryEntry> history; // newest first, as stored
    for (const auto& h : d.history)
        history.push_back({ QImage(h.file), h.parameters, h.settings, h.file });
    m_history->setEntries(history);
    m_blankCanvas = false;
}

bool MainWindow::saveProjectTo(const QString& dir)
{
    try {
        saveProject(dir, currentProject());
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Project not saved"), QString::fromStdString(e.what()));
        return false;
    }
    m_projectDir = dir;
    m_unsaved = false;
    updateTitle();
    m_status->setText(tr("Saved %1").arg(dir));
    return true;
}

bool MainWindow::saveProjectAsking(bool chooseFolder)
{
    QString p = m_projectDir;
    if (chooseFolder || p.isEmpty()) {
        p = QFileDialog::getSaveFileName(
            this, tr("Save project"), QStringLiteral("untitled.lsproj"), tr("Latent Studio project (*.lsproj)"));
        if (p.isEmpty())
            return false;
        if (!p.endsWith(QStringLiteral(".lsproj")))
            p += QStringLiteral(".lsproj");
    }
    return saveProjectTo(p);
}

bool MainWindow::openProject(const QString& dir)
{
    if (!maybeSaveChanges())
        return false;
    ProjectData d;
    try {
        d = loadProject(dir); // checks everything before the canvas is touched
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Cannot open project"), QString::fromStdString(e.what()));
        return false;
    }
    applyProject(d);
    m_projectDir = dir;
    m_unsaved = false;
    m_autosaveDirty = true;
    updateTitle();
    m_status->setText(tr("Opened %1").arg(dir));
    return true;
}

bool MainWindow::exportImage(const QString& path)
{
    // The newest history entry whose picture is the canvas carries its parameters along.
    std::map<std::string, std::string> meta;
    if (const HistoryEntry* e = m_history->findImage(m_canvas->image()))
        meta = { { "parameters", e->parameters.toStdString() }, { "latent_studio", e->settings.toStdString() } };
    try {
        ls::io::writeImage(path.toStdString(), fromQImage(m_canvas->image()), meta);
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Export failed"), QString::fromStdString(e.what()));
        return false;
    }
    m_status->setText(tr("Exported %1").arg(path));
    return true;
}

bool MainWindow::autosaveNow()
{
    const ProjectData project = currentProject();
    const QByteArray panel = QJsonDocument(project.panel).toJson(QJsonDocument::Compact);
    if (!m_autosaveDirty && panel == m_savedPanel)
        return true;
    if (m_blankCanvas && m_history->count() == 0 && m_savedPanel.isEmpty() && !m_autosaveDirty) {
        m_savedPanel = panel; // nothing of the user's yet
        return true;
    }
    try {
        saveProject(m_recovery.selfDir(), project);
    } catch (const std::exception& e) {
        m_status->setText(tr("Autosave failed: %1").arg(QString::fromStdString(e.what())));
        return false;
    }
    m_autosaveDirty = false;
    m_savedPanel = panel;
    Q_EMIT autosaved(m_recovery.selfDir());
    return true;
}

QString MainWindow::recoveryCandidate() const { return m_recovery.candidate(); }

bool MainWindow::restoreRecovery(const QString& dir)
{
    ProjectData d;
    try {
        d = loadProject(dir);
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Cannot restore"), QString::fromStdString(e.what()));
        return false;
    }
    applyProject(d);
    m_projectDir.clear();
    m_unsaved = true;
    m_autosaveDirty = true;
    updateTitle();
    // From now on it lives in this instance's autosave; the crashed one is kept until that is written.
    if (autosaveNow())
        QDir(dir).removeRecursively();
    m_status->setText(tr("Restored the autosaved work"));
    return true;
}

void MainWindow::declineRecovery(const QString& dir) { m_recovery.decline(dir); }

bool MainWindow::maybeSaveChanges()
{
    if (!m_unsaved || m_blankCanvas || !m_options.askOnClose)
        return true;
    const auto answer = QMessageBox::question(this, tr("Unsaved changes"), tr("Save the current project first?"),
        QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, QMessageBox::Save);
    if (answer == QMessageBox::Cancel)
        return false;
    return answer == QMessageBox::Discard || saveProjectAsking(false);
}

bool MainWindow::openImage(const QString& path)
{
    try {
        auto img = ls::io::readImage(path.toStdString());
        m_canvas->setImage(toQImage(img.image));
        markChanged();
        if (img.metadata.count("parameters") || img.metadata.count("latent_studio"))
            importSettings(path);
        m_status->setText(tr("Opened %1").arg(path));
        return true;
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Cannot open"), QString::fromStdString(e.what()));
        return false;
    }
}

QString MainWindow::importSettings(const QString& path)
{
    try {
        auto img = ls::io::readImage(path.toStdString());
        std::vector<std::string> unused;
        if (img.metadata.count("latent_studio"))
            m_panel->applyRequest(
                ls::pipeline::GenerationRequest::fromJson(nlohmann::json::parse(img.metadata["latent_studio"])));
        else if (img.metadata.count("parameters"))
            m_panel->applyRequest(ls::pipeline::requestFromInfotext(
                ls::pipeline::parseInfotext(img.metadata["parameters"]), {}, &unused));
        QString list;
        for (const auto& u : unused)
            list += (list.isEmpty() ? QString() : QStringLiteral("; ")) + QString::fromStdString(u);
        if (!list.isEmpty())
            m_status->setText(tr("Settings of %1 applied; not used: %2").arg(QFileInfo(path).fileName(), list));
        return list;
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Import settings"), QString::fromStdString(e.what()));
    }
    return {};
}

void MainWindow::copyImage()
{
    QGuiApplication::clipboard()->setImage(m_canvas->image());
    m_status->setText(tr("Copied the canvas picture"));
}

bool MainWindow::paste()
{
    const QMimeData* mime = QGuiApplication::clipboard()->mimeData();
    if (!mime || !openDropped(mime)) {
        m_status->setText(tr("Nothing to paste: the clipboard holds no image or image file"));
        return false;
    }
    return true;
}

bool MainWindow::openDropped(const QMimeData* mime)
{
    for (const QUrl& url : mime->urls()) {
        if (!url.isLocalFile())
            continue;
        const QString path = url.toLocalFile();
        const QFileInfo fi(path);
        if (fi.isDir() && QFileInfo::exists(QDir(path).filePath(QStringLiteral("project.json"))))
            return openProject(path);
        if (fi.isFile())
            return openImage(path); // a file that is no image is refused with its name and the cause
    }
    if (mime->hasImage()) {
        const QImage img = qvariant_cast<QImage>(mime->imageData());
        if (img.isNull())
            return false;
        m_canvas->clearCompare();
        m_canvas->setImage(img); // undoable: the previous picture is one Ctrl+Z away
        markChanged();
        m_status->setText(tr("Pasted a %1x%2 picture").arg(img.width()).arg(img.height()));
        return true;
    }
    return false;
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    const QMimeData* mime = event->mimeData();
    bool ok = mime->hasImage();
    for (const QUrl& url : mime->urls())
        ok = ok || url.isLocalFile();
    if (ok)
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    if (openDropped(event->mimeData()))
        event->acceptProposedAction();
}

} // namespace ls::ui

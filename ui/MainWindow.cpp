#include "MainWindow.h"

#include "Canvas.h"
#include "ControlPanel.h"
#include "GenerationController.h"
#include "LiveMode.h"
#include "RemoteBackend.h"
#include "PluginManager.h"
#include "Project.h"
#include "PromptPanel.h"

#include "io/ImageFile.h"
#include "pipeline/Infotext.h"

#include <nlohmann/json.hpp>

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QMimeData>
#include <QSpinBox>
#include <QToolBar>
#include <QUrl>
#include <QJsonDocument>
#include <QTimer>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QKeySequence>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QStandardPaths>
#include <QStatusBar>

#include <csignal>
#include <cerrno>
#include <unistd.h>

namespace ls::ui {

MainWindow::MainWindow(const StartupOptions& options, QWidget* parent)
    : QMainWindow(parent)
    , m_options(options)
    , m_canvas(new Canvas)
    , m_panel(new PromptPanel)
    , m_controller(new GenerationController(this))
    , m_history(new QListWidget)
    , m_progress(new QProgressBar)
    , m_status(new QLabel)
{
    updateTitle();
    resize(1280, 820);
    setCentralWidget(m_canvas);
    auto* dock = new QDockWidget(tr("Prompt"), this);
    dock->setObjectName(QStringLiteral("promptDock"));
    dock->setWidget(m_panel);
    dock->setFeatures(QDockWidget::DockWidgetMovable);
    addDockWidget(Qt::RightDockWidgetArea, dock);
    auto* historyDock = new QDockWidget(tr("History"), this);
    m_history->setViewMode(QListView::IconMode);
    m_history->setIconSize(QSize(96, 96));
    m_history->setFlow(QListView::LeftToRight);
    m_history->setWrapping(false);
    m_history->setFixedHeight(124); // one row of 96-pixel thumbnails and a scroll bar
    m_history->setContextMenuPolicy(Qt::CustomContextMenu);
    historyDock->setWidget(m_history);
    historyDock->setFeatures(QDockWidget::DockWidgetMovable);
    addDockWidget(Qt::BottomDockWidgetArea, historyDock);
    setAcceptDrops(true); // image files and .lsproj folders dropped anywhere on the window
    statusBar()->addWidget(m_status, 1);
    statusBar()->addPermanentWidget(m_progress);
    m_progress->setMaximumWidth(260);
    m_progress->setValue(0);

    const QString hist = options.historyDir.isEmpty()
        ? QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/history")
        : options.historyDir;
    QDir().mkpath(hist);
    m_historyDir = QDir(hist);
    const QString rec = options.recoveryDir.isEmpty()
        ? QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + QStringLiteral("/recovery")
        : options.recoveryDir;
    QDir().mkpath(rec);
    m_recoveryBase = QDir(rec);
    m_recoverySelf = m_recoveryBase.filePath(QString::number(::getpid()) + QStringLiteral(".lsproj"));
    if (options.autosaveSeconds > 0) {
        m_autosaveTimer = new QTimer(this);
        m_autosaveTimer->setInterval(options.autosaveSeconds * 1000);
        connect(m_autosaveTimer, &QTimer::timeout, this, [this] { autosaveNow(); });
        m_autosaveTimer->start();
    }
    connect(m_canvas, &Canvas::changed, this, [this] { markChanged(); });
    m_settings = options.useStoredSettings ? AppSettings::load() : options.settings;
    if (!options.vocabulary.isEmpty())
        m_settings.vocabulary = options.vocabulary;
    connect(m_controller->remote(), &RemoteBackend::modelsChanged, this, &MainWindow::refreshModelList);
    m_controller->remote()->setServers(m_settings.remoteServers);
    m_controller->setPreviewDecoder(m_settings.taesd);
    refreshModelList();
    applyLoraFolders();
    m_canvas->undoStack()->setMemoryLimit(qint64(m_settings.undoMemoryMB) << 20);
    m_queueLabel = new QLabel;
    statusBar()->addPermanentWidget(m_queueLabel);
    {
        const PluginReport plugins
            = loadUpscalerPlugins(options.pluginDirs.isEmpty() ? defaultPluginDirs() : options.pluginDirs);
        m_pluginsLoaded = plugins.loaded;
        m_pluginsFailed = plugins.failed;
        m_upscalers = plugins.upscalers;
        m_panel->setUpscalers(m_upscalers);
    }

    // Menus and shortcuts.
    auto* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open image..."), QKeySequence::Open, this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Open image"), QString(),
            tr("Images (*.png *.jpg *.jpeg *.tif *.tiff *.exr *.webp);;All files (*)"));
        if (!p.isEmpty())
            openImage(p);
    });
    file->addAction(tr("&Open project..."), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O), this, [this] {
        const QString p = QFileDialog::getExistingDirectory(this, tr("Open project (a .lsproj folder)"));
        if (!p.isEmpty())
            openProject(p);
    });
    file->addAction(tr("&Save project"), QKeySequence::Save, this, [this] { saveProjectAsking(false); });
    file->addAction(tr("Save project &as..."), QKeySequence::SaveAs, this, [this] { saveProjectAsking(true); });
    file->addSeparator();
    file->addAction(tr("&Export image..."), QKeySequence(Qt::CTRL | Qt::Key_E), this, [this] {
        // Every format the installed OpenImageIO writes, PNG first (PNG keeps the generation parameters).
        QStringList filters;
        for (const auto& [name, exts] : ls::io::writableImageFormats()) {
            QStringList globs;
            for (const auto& e : exts)
                globs << QStringLiteral("*.") + QString::fromStdString(e);
            filters << QStringLiteral("%1 (%2)").arg(
                QString::fromStdString(name).toUpper(), globs.join(QLatin1Char(' ')));
        }
        const QString p = QFileDialog::getSaveFileName(
            this, tr("Export image"), QStringLiteral("image.png"), filters.join(QStringLiteral(";;")));
        if (!p.isEmpty())
            exportImage(p);
    });
    file->addAction(tr("Import settings from PNG..."), this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Import settings"), QString(), tr("PNG (*.png)"));
        if (!p.isEmpty())
            importSettings(p);
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    auto* edit = menuBar()->addMenu(tr("&Edit"));
    QAction* undo = m_canvas->undoStack()->createUndoAction(this, tr("&Undo"));
    undo->setShortcut(QKeySequence::Undo);
    QAction* redo = m_canvas->undoStack()->createRedoAction(this, tr("&Redo"));
    redo->setShortcuts({ QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_Z), QKeySequence::Redo });
    edit->addAction(undo);
    edit->addAction(redo);
    edit->addSeparator();
    edit->addAction(tr("&Copy image"), QKeySequence::Copy, this, &MainWindow::copyImage);
    edit->addAction(tr("&Paste image"), QKeySequence::Paste, this, &MainWindow::paste);
    edit->addSeparator();
    edit->addAction(tr("Clear mask"), this, [this] { m_canvas->clearMask(); });
    edit->addAction(tr("Fill mask"), this, [this] { m_canvas->fillMask(); });
    edit->addAction(tr("Invert mask"), this, [this] { m_canvas->invertMask(); });
    edit->addAction(tr("Remove all boxes"), this, [this] { m_canvas->setBoxes({}); });
    edit->addAction(tr("E&xpand canvas..."), this, &MainWindow::askExpandCanvas);
    edit->addSeparator();
    edit->addAction(tr("&Settings..."), QKeySequence::Preferences, this, [this] {
        SettingsDialog dlg(m_settings, GenerationController::cudaAvailable(), this);
        if (dlg.exec() == QDialog::Accepted) {
            const AppSettings s = dlg.settings();
            if (m_options.useStoredSettings)
                s.save();
            applySettings(s);
        }
    });
    auto* view = menuBar()->addMenu(tr("&View"));
    view->setObjectName(QStringLiteral("viewMenu"));
    view->addAction(tr("Fit to window"), QKeySequence(Qt::CTRL | Qt::Key_0), this, [this] { m_canvas->fitToWindow(); });
    view->addAction(tr("Actual size"), QKeySequence(Qt::CTRL | Qt::Key_1), this, [this] { m_canvas->setZoom(1.0); });
    view->addAction(tr("Zoom in"), QKeySequence::ZoomIn, this, [this] { m_canvas->setZoom(m_canvas->zoom() * 1.25); });
    view->addAction(
        tr("Zoom out"), QKeySequence::ZoomOut, this, [this] { m_canvas->setZoom(m_canvas->zoom() / 1.25); });
    auto* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&Plugins..."), this, [this] {
        QString text
            = tr("Loaded: %1").arg(m_pluginsLoaded.isEmpty() ? tr("none") : m_pluginsLoaded.join(QStringLiteral(", ")));
        if (!m_pluginsFailed.isEmpty())
            text += QStringLiteral("\n\n") + tr("Failed to load:") + QStringLiteral("\n")
                + m_pluginsFailed.join(QLatin1Char('\n'));
        QMessageBox::information(this, tr("Plugins"), text);
    });
    buildToolBar();
    setUpLive();
    setUpControls();
    auto* genMenu = menuBar()->addMenu(tr("&Generate"));
    auto* gen = genMenu->addAction(tr("Generate (queues while busy)"));
    gen->setShortcuts({ QKeySequence(Qt::CTRL | Qt::Key_Return), QKeySequence(Qt::CTRL | Qt::Key_Enter) });
    connect(gen, &QAction::triggered, this, &MainWindow::generate);
    auto* esc = genMenu->addAction(tr("Cancel current"));
    esc->setShortcut(Qt::Key_Escape);
    connect(esc, &QAction::triggered, this, &MainWindow::cancel);
    auto* clear = genMenu->addAction(tr("Clear queue"));
    clear->setShortcut(QKeySequence(Qt::SHIFT | Qt::Key_Escape));
    connect(clear, &QAction::triggered, this, &MainWindow::clearQueue);

    connect(m_panel, &PromptPanel::generateClicked, this, &MainWindow::generate);
    connect(m_panel, &PromptPanel::cancelClicked, this, &MainWindow::cancel);
    connect(m_panel, &PromptPanel::modelChosen, this, &MainWindow::loadModel);
    connect(m_panel, &PromptPanel::modeChanged, this, [this](const QString& mode) { // the tool that job needs
        if (mode == QStringLiteral("layout"))
            m_canvas->setTool(Canvas::Tool::Box);
        else if (mode == QStringLiteral("inpaint") && m_canvas->tool() == Canvas::Tool::Box)
            m_canvas->setTool(Canvas::Tool::Brush);
    });
    connect(m_canvas, &Canvas::compareChanged, this, [this](bool on) {
        if (on)
            m_status->setText(tr("Comparing a result (left) with the canvas (right): drag to move the divider, Esc to "
                                 "leave, double-click the result to apply it"));
    });

    connect(m_controller, &GenerationController::modelStatus, this, [this](const QString& s) { m_status->setText(s); });
    connect(m_controller, &GenerationController::modelProgress, this, [this](int percent) {
        m_progress->setMaximum(100);
        m_progress->setValue(percent);
        m_progress->setFormat(tr("Loading %p%"));
    });
    connect(m_controller, &GenerationController::modelLoaded, this,
        [this](const QString& path, const QString& family, int native, bool upscaler) {
            m_modelReady = true;
            m_progress->setFormat(QStringLiteral("%p%"));
            m_panel->setSize(native, native);
            m_canvas->setExpandStep(std::max(8, native / 8));
            if (m_blankCanvas && m_canvas->image().width() != native) {
                QImage blank(native, native, QImage::Format_RGB888);
                blank.fill(QColor(245, 245, 240));
                m_canvas->setImage(blank, false);
                m_canvas->setBrushSize(std::max(2, native / 16)); // a brush in proportion to the picture
                m_blankCanvas = true; // still nothing of the user's
                m_autosaveDirty = m_unsaved = false;
            }
            m_panel->setModelText(isRemoteModelPath(path)
                    ? tr("%1 on a remote server (Settings > Backends)").arg(remoteModelTitle(path))
                    : tr("%1 (%2)").arg(QFileInfo(path).fileName(), family));
            // An upscaler only upscales: the mode follows the model.
            if (upscaler)
                m_panel->setMode(QStringLiteral("upscale"));
            else if (m_panel->modeName() == QStringLiteral("upscale"))
                m_panel->setMode(QStringLiteral("Auto"));
            m_status->setText(tr("Model ready"));
        });
    connect(m_controller, &GenerationController::modelFailed, this, [this](const QString& msg) {
        m_modelReady = false;
        m_panel->setModelText(tr("Not loaded: %1").arg(msg));
        m_status->setText(tr("Model failed to load"));
    });
    connect(m_controller, &GenerationController::queueChanged, this, [this] { updateQueueLabel(); });
    // Live jobs are the live panel's (LiveMode): the canvas, history and status follow the others.
    connect(m_controller, &GenerationController::started, this, [this](int id) {
        if (m_live->owns(id))
            return;
        m_job = id; // the view follows whichever job runs now
        m_canvas->clearCompare(); // the previews take the canvas
        updateQueueLabel();
        m_panel->setBusy(true);
        m_progress->setFormat(QStringLiteral("%p%"));
        m_progress->setValue(0);
    });
    connect(m_controller, &GenerationController::progress, this,
        [this](int id, int step, int total, double rate, double eta) {
            if (id != m_job)
                return;
            m_progress->setMaximum(total);
            m_progress->setValue(step);
            m_status->setText(
                tr("Step %1/%2 | %3 it/s | ETA %4 s").arg(step).arg(total).arg(rate, 0, 'f', 2).arg(eta, 0, 'f', 1));
        });
    connect(m_controller, &GenerationController::preview, this, [this](int id, int, const QImage& img) {
        if (id == m_job)
            m_canvas->setPreview(img.scaled(m_canvas->image().size(), Qt::IgnoreAspectRatio, Qt::SmoothTransformation));
    });
    connect(m_controller, &GenerationController::finished, this,
        [this](int id, const QList<QImage>& images, const QStringList& params, const QStringList& settings) {
            if (m_live->owns(id))
                return;
            for (int i = 0; i < images.size(); ++i)
                addHistory(images[i], params.value(i), settings.value(i));
            if (id != m_job)
                return;
            m_canvas->setPreview({});
            if (!images.isEmpty())
                m_canvas->setImage(images.front());
            m_panel->setBusy(m_controller->queuedJobs() > 0);
            updateQueueLabel();
            m_status->setText(tr("Done"));
            Q_EMIT generationDone(id, true);
        });
    connect(m_controller, &GenerationController::failed, this, [this](int id, const QString& msg) {
        if (id != m_job)
            return;
        m_canvas->setPreview({});
        m_panel->setBusy(m_controller->queuedJobs() > 0);
        updateQueueLabel();
        m_status->setText(tr("Failed"));
        QMessageBox::warning(this, tr("Generation failed"), msg);
        Q_EMIT generationDone(id, false);
    });
    connect(m_controller, &GenerationController::cancelled, this, [this](int id) {
        if (id != m_job)
            return;
        m_canvas->setPreview({});
        m_panel->setBusy(m_controller->queuedJobs() > 0);
        updateQueueLabel();
        m_status->setText(tr("Cancelled"));
        Q_EMIT generationDone(id, false);
    });
    // Click: compare the result with the canvas; double-click: apply it.
    connect(m_history, &QListWidget::itemClicked, this, [this](QListWidgetItem* item) {
        if (!m_controller->busy())
            m_canvas->setCompareImage(item->data(Qt::UserRole).value<QImage>());
    });
    connect(m_history, &QListWidget::itemDoubleClicked, this,
        [this](QListWidgetItem* item) { applyResult(item->data(Qt::UserRole).value<QImage>()); });
    connect(m_history, &QListWidget::customContextMenuRequested, this, [this](const QPoint& pos) {
        QListWidgetItem* item = m_history->itemAt(pos);
        if (!item)
            return;
        QMenu menu;
        menu.addAction(
            tr("Apply to canvas"), this, [this, item] { applyResult(item->data(Qt::UserRole).value<QImage>()); });
        menu.addAction(tr("Compare with canvas"), this,
            [this, item] { m_canvas->setCompareImage(item->data(Qt::UserRole).value<QImage>()); });
        menu.addAction(tr("Use these settings"), this, [this, item] {
            const QString json = item->data(Qt::UserRole + 1).toString();
            try {
                m_panel->applyRequest(
                    ls::pipeline::GenerationRequest::fromJson(nlohmann::json::parse(json.toStdString())));
            } catch (const std::exception& e) {
                QMessageBox::warning(this, tr("Settings"), QString::fromStdString(e.what()));
            }
        });
        menu.exec(m_history->mapToGlobal(pos));
    });
    m_panel->setModelPath(options.model);
    loadModel(options.model);
    if (!m_pluginsFailed.isEmpty()) // reported, never fatal
        m_status->setText(tr("%n plugin(s) failed to load (Help > Plugins): %1", nullptr, m_pluginsFailed.size())
                              .arg(m_pluginsFailed.first()));
}

MainWindow::~MainWindow() = default;

void MainWindow::markChanged()
{
    m_blankCanvas = false;
    m_autosaveDirty = true;
    if (!m_unsaved) {
        m_unsaved = true;
        updateTitle();
    }
}

void MainWindow::updateTitle()
{
    const QString name = m_projectDir.isEmpty() ? tr("Untitled") : QFileInfo(m_projectDir).completeBaseName();
    setWindowTitle(tr("%1%2 - Latent Studio").arg(name, m_unsaved ? QStringLiteral(" *") : QString()));
}

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
    for (int i = 0; i < m_history->count(); ++i) {
        const QListWidgetItem* item = m_history->item(i);
        d.history.push_back(
            { item->data(Qt::UserRole + 2).toString(), item->toolTip(), item->data(Qt::UserRole + 1).toString() });
    }
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
    m_history->clear();
    for (auto it = d.history.crbegin(); it != d.history.crend(); ++it) // stored newest first; insertItem(0) reverses
        addHistoryItem(QImage(it->file), it->parameters, it->settings, it->file);
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
    const QImage canvas = m_canvas->image().convertToFormat(QImage::Format_RGB888);
    for (int i = 0; i < m_history->count(); ++i) {
        const QListWidgetItem* item = m_history->item(i);
        if (item->data(Qt::UserRole).value<QImage>().convertToFormat(QImage::Format_RGB888) == canvas) {
            meta = { { "parameters", item->toolTip().toStdString() },
                { "latent_studio", item->data(Qt::UserRole + 1).toString().toStdString() } };
            break;
        }
    }
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
        saveProject(m_recoverySelf, project);
    } catch (const std::exception& e) {
        m_status->setText(tr("Autosave failed: %1").arg(QString::fromStdString(e.what())));
        return false;
    }
    m_autosaveDirty = false;
    m_savedPanel = panel;
    Q_EMIT autosaved(m_recoverySelf);
    return true;
}

QString MainWindow::recoveryCandidate() const
{
    QString best;
    QDateTime newest;
    for (const QFileInfo& fi :
        m_recoveryBase.entryInfoList({ QStringLiteral("*.lsproj") }, QDir::Dirs | QDir::NoDotAndDotDot)) {
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

void MainWindow::declineRecovery(const QString& dir)
{
    const QString aside = m_recoveryBase.filePath(QStringLiteral("declined-")
        + QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss-")) + QFileInfo(dir).fileName());
    QDir().rename(dir, aside);
}

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

void MainWindow::closeEvent(QCloseEvent* event)
{
    if (!maybeSaveChanges()) {
        event->ignore();
        return;
    }
    if (!m_unsaved || m_options.askOnClose || m_options.autosaveSeconds == 0)
        QDir(m_recoverySelf).removeRecursively(); // a clean exit: nothing to recover
    else
        autosaveNow(); // closed without being asked: keep the work for the next start
    m_controller->clearQueue();
    m_controller->cancelCurrent();
    QMainWindow::closeEvent(event);
}

void MainWindow::loadModel(const QString& path)
{
    // Jobs queued for the old model are dropped; the running one stops at its next step.
    m_controller->clearQueue();
    m_controller->cancelCurrent();
    m_modelReady = false;
    m_panel->setModelText(tr("Loading..."));
    QString p = path;
    if (p.isEmpty()) {
        // The bundled model lives next to the program; the worker resolves it.
        p = QStringLiteral("bundled:default");
    }
    m_modelPath = path;
    m_controller->loadModel(
        p, m_options.config, m_settings.vocabulary, m_settings.threads, m_settings.device, m_settings.vae);
}

void MainWindow::applySettings(const AppSettings& s)
{
    m_canvas->undoStack()->setMemoryLimit(qint64(s.undoMemoryMB) << 20);
    const bool reload = s.threads != m_settings.threads || s.device != m_settings.device
        || s.vocabulary != m_settings.vocabulary || s.vae != m_settings.vae;
    m_settings = s;
    m_controller->remote()->setServers(s.remoteServers);
    m_controller->setPreviewDecoder(s.taesd);
    refreshModelList();
    applyLoraFolders();
    if (reload)
        loadModel(m_modelPath);
}

void MainWindow::refreshModelList()
{
    // local checkpoints, then what the remote servers offer (Settings > Backends)
    auto models = scanModelFolders(m_settings.modelFolders);
    for (const auto& title : m_controller->remote()->models())
        models.push_back({ tr("%1 (remote)").arg(title), remoteModelPath(title) });
    m_panel->setModelList(models);
    if (m_controls)
        m_controls->setModelFolders(m_settings.modelFolders);
}

void MainWindow::applyLoraFolders()
{
    // Each model folder's loras/ and Lora/ subfolders (AUTOMATIC1111 keeps them in models/Lora).
    QStringList folders;
    for (const auto& f : m_settings.modelFolders)
        folders << QDir(f).filePath(QStringLiteral("loras")) << QDir(f).filePath(QStringLiteral("Lora"));
    m_panel->setLoraFolders(folders);
    m_controller->setLoraFolders(folders);
    QStringList embeddings; // and embeddings/ for textual-inversion embeddings
    for (const auto& f : m_settings.modelFolders)
        embeddings << QDir(f).filePath(QStringLiteral("embeddings"));
    m_controller->setEmbeddingFolders(embeddings);
}

void MainWindow::updateQueueLabel()
{
    const int n = m_controller->queuedJobs();
    m_queueLabel->setText(n > 0 ? tr("%n queued", nullptr, n) : QString());
}

void MainWindow::clearQueue()
{
    m_controller->clearQueue();
    updateQueueLabel();
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

std::optional<ls::pipeline::GenerationRequest> MainWindow::canvasRequest(QString* why, bool live) const
{
    if (live && !m_modelReady) { // Generate queues behind a load; live waits for it
        *why = tr("no model loaded yet");
        return std::nullopt;
    }
    const bool hasMask = !m_canvas->maskIsEmpty();
    auto r = m_panel->request(hasMask, !m_canvas->boxes().isEmpty());
    using ls::pipeline::JobMode;
    if (r.mode == JobMode::Img2Img || r.mode == JobMode::Inpaint || r.mode == JobMode::Upscale
        || (live && r.mode == JobMode::Txt2Img && !m_blankCanvas)) // live follows what the user painted
        r.initImage = fromQImage(m_canvas->image());
    if (r.mode == JobMode::Inpaint)
        r.mask = maskFromQImage(m_canvas->mask());
    if (r.mode == JobMode::Layout)
        for (const auto& b : m_canvas->boxes())
            r.boxes.push_back({ b.rect.x(), b.rect.y(), b.rect.width(), b.rect.height(), b.prompt.toStdString(),
                b.prompt.toStdString() });
    if (r.mode == JobMode::Inpaint || r.mode == JobMode::Img2Img || !r.initImage.empty()) {
        r.width = m_canvas->image().width();
        r.height = m_canvas->image().height();
    }
    const auto problems = r.validate();
    if (!problems.empty()) {
        why->clear();
        for (const auto& p : problems)
            *why += QString::fromStdString(p.field + ": " + p.message) + QLatin1Char('\n');
        *why = why->trimmed();
        return std::nullopt;
    }
    // Live previews as set in the settings.
    r.previewEvery = m_settings.previewMode == QStringLiteral("projection") ? m_settings.previewInterval : 0;
    r.decodeEvery = m_settings.previewMode == QStringLiteral("decode") ? m_settings.previewInterval : 0;
    r.fastDecode = m_settings.fastDecode;
    for (int i = 0; i < m_canvas->controlCount(); ++i) { // the canvas's control layers in use
        const ControlLayer& c = m_canvas->control(i);
        if (!c.visible || c.model.isEmpty())
            continue;
        ls::pipeline::ControlUnit u;
        u.model = c.model.toStdString();
        u.preprocessor = c.preprocessor.toStdString();
        if (u.preprocessor != "inpaint") // the job's own picture and mask
            u.image = fromQImage(c.image);
        u.strength = c.strength;
        u.start = c.start;
        u.end = c.end;
        u.guessMode = c.guessMode;
        r.controls.push_back(std::move(u));
    }
    return r;
}

void MainWindow::generate()
{
    using ls::pipeline::JobMode;
    QString why;
    auto request = canvasRequest(&why, false);
    if (!request) {
        QMessageBox::information(this, tr("Cannot generate yet"), why);
        return;
    }
    auto& r = *request;
    QString engineModel;
    if (r.mode == JobMode::Upscale && !m_panel->upscalerId().isEmpty())
        for (const auto& u : m_upscalers)
            if (u.id == m_panel->upscalerId()) {
                engineModel = u.engineModel;
                if (!u.factors.contains(r.upscaleFactor)) {
                    QMessageBox::information(this, tr("Cannot upscale"), tr("%1 upscales by %2 only").arg(u.name, [&] {
                        QStringList f;
                        for (int x : u.factors)
                            f << QString::number(x);
                        return f.join(QStringLiteral(", "));
                    }()));
                    return;
                }
            }
    const bool wasBusy = m_controller->jobsPending();
    const int id = m_controller->enqueue(r, engineModel);
    if (!wasBusy)
        m_job = id;
    m_panel->setBusy(true);
    updateQueueLabel();
    m_status->setText(wasBusy ? tr("Queued behind the running job") : tr("Starting"));
}

void MainWindow::cancel()
{
    // Esc: leaves a comparison first when nothing runs; otherwise stops the running job (Shift+Esc clears the queue).
    if (m_canvas->comparing() && !m_controller->busy()) {
        m_canvas->clearCompare();
        m_status->setText(QString());
        return;
    }
    m_controller->cancelCurrent();
}

void MainWindow::addHistory(const QImage& image, const QString& parameters, const QString& settings)
{
    // On disk as soon as it exists.
    const QString name
        = QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss-zzz")) + QStringLiteral(".png");
    try {
        ls::io::writeImage(m_historyDir.filePath(name).toStdString(), fromQImage(image),
            { { "parameters", parameters.toStdString() }, { "latent_studio", settings.toStdString() } });
    } catch (const std::exception& e) {
        m_status->setText(tr("Could not save to history: %1").arg(QString::fromStdString(e.what())));
    }
    addHistoryItem(image, parameters, settings, m_historyDir.filePath(name));
    markChanged();
    auto j = nlohmann::json::parse(settings.toStdString(), nullptr, false);
    if (!j.is_discarded() && j.contains("seed"))
        m_panel->setLastSeed(j["seed"].get<qint64>());
}

void MainWindow::addHistoryItem(
    const QImage& image, const QString& parameters, const QString& settings, const QString& file)
{
    auto* item = new QListWidgetItem(
        QIcon(QPixmap::fromImage(image.scaled(96, 96, Qt::KeepAspectRatio, Qt::SmoothTransformation))), QString());
    item->setToolTip(parameters);
    item->setData(Qt::UserRole, image);
    item->setData(Qt::UserRole + 1, settings);
    item->setData(Qt::UserRole + 2, file);
    m_history->insertItem(0, item);
}

void MainWindow::applyResult(const QImage& image)
{
    m_canvas->clearCompare();
    m_canvas->setPreview({});
    m_canvas->setImage(image);
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

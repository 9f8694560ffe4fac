// The main window: its docks and status bar, the model, the settings, closing. Menus and canvas tools are in
// MainWindowTools.cpp, jobs in MainWindowJobs.cpp, projects and files in MainWindowFiles.cpp.
#include "MainWindow.h"

#include "Canvas.h"
#include "ControlPanel.h"
#include "GenerationController.h"
#include "PluginManager.h"
#include "PromptPanel.h"
#include "RemoteBackend.h"

#include <nlohmann/json.hpp>

#include <QCloseEvent>
#include <QDockWidget>
#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTimer>

namespace ls::ui {

MainWindow::MainWindow(const StartupOptions& options, QWidget* parent)
    : QMainWindow(parent)
    , m_options(options)
    , m_canvas(new Canvas)
    , m_panel(new PromptPanel)
    , m_controller(new GenerationController(this))
    , m_history(new HistoryPanel)
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
    historyDock->setWidget(m_history);
    historyDock->setFeatures(QDockWidget::DockWidgetMovable);
    addDockWidget(Qt::BottomDockWidgetArea, historyDock);
    setAcceptDrops(true); // image files and .lsproj folders dropped anywhere on the window
    statusBar()->addWidget(m_status, 1);
    statusBar()->addPermanentWidget(m_progress);
    m_progress->setMaximumWidth(260);
    m_progress->setValue(0);

    const QString data = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation);
    m_history->setFolder(options.historyDir.isEmpty() ? data + QStringLiteral("/history") : options.historyDir);
    m_recovery
        = RecoveryStore(options.recoveryDir.isEmpty() ? data + QStringLiteral("/recovery") : options.recoveryDir);
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

    buildMenus();
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

    connectController();
    connect(m_history, &HistoryPanel::compareRequested, this, [this](const QImage& image) {
        if (!m_controller->busy())
            m_canvas->setCompareImage(image);
    });
    connect(m_history, &HistoryPanel::applyRequested, this, &MainWindow::applyResult);
    connect(m_history, &HistoryPanel::reuseRequested, this, [this](const QString& json) {
        try {
            m_panel->applyRequest(ls::pipeline::GenerationRequest::fromJson(nlohmann::json::parse(json.toStdString())));
        } catch (const std::exception& e) {
            QMessageBox::warning(this, tr("Settings"), QString::fromStdString(e.what()));
        }
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

void MainWindow::closeEvent(QCloseEvent* event)
{
    if (!maybeSaveChanges()) {
        event->ignore();
        return;
    }
    if (!m_unsaved || m_options.askOnClose || m_options.autosaveSeconds == 0)
        QDir(m_recovery.selfDir()).removeRecursively(); // a clean exit: nothing to recover
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

} // namespace ls::ui

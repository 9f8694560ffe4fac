// The main window's menus and canvas tools (tool bar, outpainting's Expand canvas), its control layers and live mode.
#include "MainWindow.h"

#include "Canvas.h"
#include "ControlPanel.h"
#include "GenerationController.h"
#include "LiveMode.h"
#include "PromptPanel.h"

#include "io/ImageFile.h"

#include <QAction>
#include <QActionGroup>
#include <QColorDialog>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDockWidget>
#include <QFileDialog>
#include <QFormLayout>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QSpinBox>
#include <QStatusBar>
#include <QToolBar>
#include <QToolButton>

namespace ls::ui {

void MainWindow::buildMenus()
{
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
}

void MainWindow::buildToolBar()
{
    auto* bar = addToolBar(tr("Tools"));
    bar->setObjectName(QStringLiteral("tools"));
    bar->setMovable(false);
    auto* tools = menuBar()->addMenu(tr("&Tools"));
    auto* group = new QActionGroup(this);
    const struct {
        QString text;
        Canvas::Tool tool;
        QString tip;
    } kinds[] = {
        { tr("Brush"), Canvas::Tool::Brush,
            tr("Paint the inpainting mask (B; [ ] size, Shift+[ ] hardness, 1-0 opacity)") },
        { tr("Eraser"), Canvas::Tool::Eraser, tr("Erase the mask (E; X swaps with the brush)") },
        { tr("Box"), Canvas::Tool::Box,
            tr("Draw, move and resize layout boxes; double-click or Enter edits the label (R)") },
        { tr("Paint"), Canvas::Tool::Paint,
            tr("Paint on the picture in the brush colour (P; Ctrl+click picks a colour from the picture)") },
        { tr("Expand"), Canvas::Tool::Expand,
            tr("Drag a border of the picture outwards to grow the canvas for outpainting (C)") },
    };
    QList<QAction*> toolActions;
    for (const auto& k : kinds) {
        auto* a = new QAction(k.text, group);
        a->setCheckable(true);
        a->setToolTip(k.tip);
        a->setData(static_cast<int>(k.tool));
        a->setChecked(m_canvas->tool() == k.tool);
        connect(a, &QAction::triggered, this, [this, t = k.tool] { m_canvas->setTool(t); });
        bar->addAction(a);
        tools->addAction(a);
        toolActions << a;
    }
    bar->addSeparator();
    auto spin = [&](const QString& label, int lo, int hi, const QString& suffix, const QString& tip) {
        auto* l = new QLabel(label);
        l->setContentsMargins(8, 0, 4, 0);
        bar->addWidget(l);
        auto* sp = new QSpinBox;
        sp->setRange(lo, hi);
        sp->setSuffix(suffix);
        sp->setToolTip(tip);
        sp->setFocusPolicy(Qt::ClickFocus);
        bar->addWidget(sp);
        return sp;
    };
    auto* color = new QToolButton;
    color->setObjectName(QStringLiteral("brushColor"));
    color->setToolTip(tr("The Paint tool's colour"));
    bar->addWidget(color);
    connect(color, &QToolButton::clicked, this, [this] {
        const QColor c = QColorDialog::getColor(m_canvas->brushColor(), this, tr("Brush colour"));
        if (c.isValid())
            m_canvas->setBrushColor(c);
    });
    auto* size = spin(tr("Size"), 1, 512, tr(" px"), tr("Brush diameter in image pixels ([ and ])"));
    auto* hardness = spin(
        tr("Hardness"), 0, 100, tr(" %"), tr("100%: a hard edge; lower: a softer fall-off (Shift+[ and Shift+])"));
    auto* opacity = spin(
        tr("Opacity"), 1, 100, tr(" %"), tr("How much one stroke adds to or takes from the mask (keys 1-9, 0 = 100%)"));
    size->setObjectName(QStringLiteral("brushSize"));
    hardness->setObjectName(QStringLiteral("brushHardness"));
    opacity->setObjectName(QStringLiteral("brushOpacity"));
    auto sync = [this, toolActions, size, hardness, opacity, color] {
        QPixmap swatch(16, 16);
        swatch.fill(m_canvas->brushColor());
        color->setIcon(QIcon(swatch));
        for (QAction* a : toolActions)
            a->setChecked(a->data().toInt() == static_cast<int>(m_canvas->tool()));
        const QSignalBlocker b1(size), b2(hardness), b3(opacity);
        size->setValue(m_canvas->brushSize());
        hardness->setValue(static_cast<int>(std::lround(m_canvas->brushHardness() * 100)));
        opacity->setValue(static_cast<int>(std::lround(m_canvas->brushOpacity() * 100)));
    };
    sync();
    connect(m_canvas, &Canvas::toolChanged, this, sync);
    connect(size, &QSpinBox::valueChanged, m_canvas, &Canvas::setBrushSize);
    connect(hardness, &QSpinBox::valueChanged, m_canvas, [this](int v) { m_canvas->setBrushHardness(v / 100.0); });
    connect(opacity, &QSpinBox::valueChanged, m_canvas, [this](int v) { m_canvas->setBrushOpacity(v / 100.0); });
}

void MainWindow::askExpandCanvas()
{
    // Sizes in steps of the model's latent grid (8 pixels x its scale), so the grown picture stays a valid size.
    QDialog dlg(this);
    dlg.setWindowTitle(tr("Expand canvas"));
    auto* form = new QFormLayout(&dlg);
    const int step = m_canvas->expandStep();
    QSpinBox* sides[4];
    const QString names[4] = { tr("Left"), tr("Top"), tr("Right"), tr("Bottom") };
    for (int i = 0; i < 4; ++i) {
        sides[i] = new QSpinBox;
        sides[i]->setRange(0, 4096);
        sides[i]->setSingleStep(step);
        sides[i]->setSuffix(tr(" px"));
        sides[i]->setValue(i == 2 ? step : 0);
        form->addRow(names[i], sides[i]);
    }
    auto* note = new QLabel(tr("The new area is masked: Generate (inpaint) paints it. Undo takes it back."));
    note->setWordWrap(true);
    form->addRow(note);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, &dlg, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dlg, &QDialog::reject);
    if (dlg.exec() != QDialog::Accepted)
        return;
    m_canvas->expand(m_canvas->snapToExpandStep(sides[0]->value()), m_canvas->snapToExpandStep(sides[1]->value()),
        m_canvas->snapToExpandStep(sides[2]->value()), m_canvas->snapToExpandStep(sides[3]->value()));
    m_status->setText(tr("Canvas expanded to %1 x %2: Generate paints the masked new area")
                          .arg(m_canvas->image().width())
                          .arg(m_canvas->image().height()));
}

void MainWindow::setUpControls()
{
    m_controls = new ControlPanel(m_canvas);
    m_controls->setModelFolders(m_settings.modelFolders);
    auto* dock = new QDockWidget(tr("Control layers"), this);
    dock->setObjectName(QStringLiteral("controlDock"));
    dock->setWidget(m_controls);
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::LeftDockWidgetArea, dock);
    dock->hide();
    QAction* show = dock->toggleViewAction();
    show->setText(tr("Control layers (ControlNet)"));
    show->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_L));
    if (auto* view = findChild<QMenu*>(QStringLiteral("viewMenu")))
        view->addAction(show);
    connect(m_canvas, &Canvas::controlsChanged, dock, [this, dock] {
        if (m_canvas->controlCount() > 0)
            dock->show(); // a project with control layers, or one just added
    });
}

void MainWindow::setUpLive()
{
    m_live = new LiveMode(
        m_controller, [this](QString* why) { return canvasRequest(why, true); }, this);
    auto* dock = new QDockWidget(tr("Live"), this);
    dock->setObjectName(QStringLiteral("liveDock"));
    dock->setWidget(m_live->panel());
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetClosable);
    // Between the canvas and the prompt: the painting and its live picture side by side.
    addDockWidget(Qt::RightDockWidgetArea, dock);
    if (auto* prompt = findChild<QDockWidget*>(QStringLiteral("promptDock")))
        splitDockWidget(dock, prompt, Qt::Horizontal);
    dock->hide(); // shown with live mode
    auto* toggle = menuBar()->addMenu(tr("&Live"))->addAction(tr("Live painting"));
    toggle->setCheckable(true);
    toggle->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    connect(toggle, &QAction::toggled, m_live, &LiveMode::setOn);
    connect(m_live, &LiveMode::toggled, this, [this, toggle, dock](bool on) {
        const QSignalBlocker block(toggle);
        toggle->setChecked(on);
        if (!on)
            return;
        dock->show();
        if (m_canvas->tool() != Canvas::Tool::Box && m_canvas->maskIsEmpty())
            m_canvas->setTool(Canvas::Tool::Paint); // live is about painting the picture
    });
    // Every edit the picture depends on restarts it: canvas edits at once, typing after a pause.
    connect(m_canvas, &Canvas::changed, m_live, [this] { m_live->edited(30); });
    connect(m_panel, &PromptPanel::edited, m_live, [this] { m_live->edited(400); });
    connect(m_live, &LiveMode::keepRequested, this,
        [this](const QImage& picture, const QString& parameters, const QString& settings) {
            addHistory(picture, parameters, settings);
            applyResult(picture);
            m_status->setText(tr("Kept the live picture"));
        });
}

} // namespace ls::ui

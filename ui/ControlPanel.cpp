#include "ControlPanel.h"

#include "Canvas.h"
#include "Settings.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QImageReader>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QSlider>
#include <QVBoxLayout>

namespace ls::ui {

namespace {
QDoubleSpinBox* number(double lo, double hi, double step, const QString& tip)
{
    auto* s = new QDoubleSpinBox;
    s->setRange(lo, hi);
    s->setSingleStep(step);
    s->setDecimals(2);
    s->setToolTip(tip);
    return s;
}
} // namespace

ControlPanel::ControlPanel(Canvas* canvas, QWidget* parent)
    : QWidget(parent)
    , m_canvas(canvas)
    , m_list(new QListWidget)
    , m_model(new QComboBox)
    , m_pre(new QComboBox)
    , m_strength(number(0, 2, 0.05, tr("How strongly this layer steers the picture (0: not at all)")))
    , m_start(number(0, 1, 0.05, tr("Share of the steps before the layer starts acting")))
    , m_end(number(0, 1, 0.05, tr("Share of the steps after which it stops")))
    , m_guess(new QCheckBox(tr("guess mode (the control matters more than the prompt)")))
    , m_opacity(new QSlider(Qt::Horizontal))
    , m_remove(new QPushButton(tr("Remove")))
    , m_fromFile(new QPushButton(tr("From image...")))
    , m_fromCanvas(new QPushButton(tr("From canvas")))
    , m_form(new QWidget)
{
    setObjectName(QStringLiteral("controlPanel"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);
    m_list->setObjectName(QStringLiteral("controlLayers"));
    m_list->setToolTip(tr("The selected layer is what the brush (white), eraser (black) and paint tool draw on; "
                          "the check box shows and uses it"));
    layout->addWidget(m_list, 1);
    auto* buttons = new QHBoxLayout;
    auto* add = new QPushButton(tr("Add"));
    add->setToolTip(tr("A new sketch layer: draw white lines on it with the brush"));
    m_fromFile->setToolTip(tr("Fill the selected layer with an image file (a depth map, a pose, line art, a photo)"));
    m_fromCanvas->setToolTip(tr("Fill the selected layer with the canvas picture; its preprocessor (canny, tile...) "
                                "turns it into the control when a job runs"));
    for (auto* b : { add, m_remove, m_fromFile, m_fromCanvas })
        buttons->addWidget(b);
    layout->addLayout(buttons);
    auto* form = new QFormLayout(m_form);
    form->setContentsMargins(0, 0, 0, 0);
    m_model->setObjectName(QStringLiteral("controlModel"));
    m_model->setToolTip(tr("The ControlNet (control_v11p_sd15_canny, control_sd15_scribble, ... in a model folder's "
                           "ControlNet/ subfolder, or Browse)"));
    for (const auto& p : { QStringLiteral("none"), QStringLiteral("canny"), QStringLiteral("invert"),
             QStringLiteral("inpaint"), QStringLiteral("tile") })
        m_pre->addItem(p);
    m_pre->setToolTip(tr("none: the layer is the control (a sketch, depth, pose); canny: its edges; invert: dark lines "
                         "on light; inpaint: the job's picture and mask; tile: the picture itself"));
    m_opacity->setRange(0, 100);
    m_opacity->setToolTip(tr("How visible the layer is on the canvas (jobs use it either way)"));
    form->addRow(tr("ControlNet"), m_model);
    form->addRow(tr("Preprocessor"), m_pre);
    form->addRow(tr("Strength"), m_strength);
    auto* range = new QHBoxLayout;
    range->addWidget(m_start);
    range->addWidget(new QLabel(tr("to")));
    range->addWidget(m_end);
    form->addRow(tr("Steps"), range);
    form->addRow(QString(), m_guess);
    form->addRow(tr("Opacity"), m_opacity);
    layout->addWidget(m_form);

    connect(add, &QPushButton::clicked, this, [this] { m_canvas->addControl({}); });
    connect(m_remove, &QPushButton::clicked, this, [this] { m_canvas->removeControl(selected()); });
    connect(m_fromFile, &QPushButton::clicked, this, [this] {
        const QString p = QFileDialog::getOpenFileName(
            this, tr("Control image"), QString(), tr("Images (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)"));
        if (!p.isEmpty())
            fillFromFile(p);
    });
    connect(m_fromCanvas, &QPushButton::clicked, this, &ControlPanel::fillFromCanvas);
    connect(m_list, &QListWidget::currentRowChanged, this, [this](int row) {
        if (!m_syncing)
            m_canvas->setActiveControl(row - 1);
    });
    connect(m_list, &QListWidget::itemChanged, this, [this](QListWidgetItem* item) {
        const int i = m_list->row(item) - 1;
        if (m_syncing || i < 0)
            return;
        ControlLayer c = m_canvas->control(i);
        c.visible = item->checkState() == Qt::Checked;
        m_canvas->setControlSettings(i, c);
    });
    connect(m_model, QOverload<int>::of(&QComboBox::activated), this, [this](int index) {
        if (m_model->itemData(index).toString() == QStringLiteral("browse:")) {
            const QString p = QFileDialog::getOpenFileName(
                this, tr("ControlNet"), QString(), tr("ControlNet files (*.safetensors *.pth *.ckpt);;All files (*)"));
            setModelChoice(p.isEmpty() ? m_canvas->control(selected()).model : p);
        }
        apply();
    });
    connect(m_pre, &QComboBox::currentIndexChanged, this, &ControlPanel::apply);
    for (auto* s : { m_strength, m_start, m_end })
        connect(s, &QDoubleSpinBox::valueChanged, this, &ControlPanel::apply);
    connect(m_guess, &QCheckBox::toggled, this, &ControlPanel::apply);
    connect(m_opacity, &QSlider::valueChanged, this, &ControlPanel::apply);
    connect(m_canvas, &Canvas::controlsChanged, this, &ControlPanel::refresh);
    refresh();
}

void ControlPanel::setModelFolders(const QStringList& folders)
{
    QStringList dirs;
    for (const QString& f : folders)
        dirs << QDir(f).filePath(QStringLiteral("ControlNet")) << QDir(f).filePath(QStringLiteral("controlnet"));
    m_files.clear();
    for (const ModelEntry& e : scanModelFolders(dirs))
        if (!m_files.contains(e.path))
            m_files << e.path;
    refresh();
}

int ControlPanel::selected() const { return m_canvas->activeControl(); }

int ControlPanel::ensureLayer() { return selected() >= 0 ? selected() : m_canvas->addControl({}); }

void ControlPanel::fillFromFile(const QString& path)
{
    QImageReader reader(path);
    const QImage img = reader.read();
    if (img.isNull()) {
        QMessageBox::warning(this, tr("Control image"), tr("%1: %2").arg(path, reader.errorString()));
        return;
    }
    m_canvas->setControlImage(ensureLayer(), img);
}

void ControlPanel::fillFromCanvas() { m_canvas->setControlImage(ensureLayer(), m_canvas->image()); }

void ControlPanel::setModelChoice(const QString& path)
{
    const QSignalBlocker block(m_model);
    m_model->clear();
    m_model->addItem(tr("(none: not used)"), QString());
    QStringList paths = m_files;
    if (!path.isEmpty() && !paths.contains(path))
        paths.prepend(path);
    for (const QString& p : paths)
        m_model->addItem(QFileInfo(p).completeBaseName(), p);
    m_model->addItem(tr("Browse..."), QStringLiteral("browse:"));
    m_model->setCurrentIndex(std::max(0, m_model->findData(path)));
}

void ControlPanel::refresh()
{
    m_syncing = true;
    m_list->clear();
    m_list->addItem(tr("Picture and mask"));
    for (int i = 0; i < m_canvas->controlCount(); ++i) {
        const ControlLayer& c = m_canvas->control(i);
        const QString model = c.model.isEmpty() ? tr("no ControlNet") : QFileInfo(c.model).completeBaseName();
        auto* item = new QListWidgetItem(tr("%1: %2, %3").arg(i + 1).arg(c.preprocessor, model));
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(c.visible ? Qt::Checked : Qt::Unchecked);
        m_list->addItem(item);
    }
    const int i = selected();
    m_list->setCurrentRow(i + 1);
    m_form->setEnabled(i >= 0);
    m_remove->setEnabled(i >= 0);
    if (i >= 0) {
        const ControlLayer& c = m_canvas->control(i);
        setModelChoice(c.model);
        const QSignalBlocker b1(m_pre), b2(m_strength), b3(m_start), b4(m_end), b5(m_guess), b6(m_opacity);
        m_pre->setCurrentText(c.preprocessor);
        m_strength->setValue(c.strength);
        m_start->setValue(c.start);
        m_end->setValue(c.end);
        m_guess->setChecked(c.guessMode);
        m_opacity->setValue(static_cast<int>(std::lround(c.opacity * 100)));
    }
    m_syncing = false;
}

void ControlPanel::apply()
{
    const int i = selected();
    if (m_syncing || i < 0)
        return;
    ControlLayer c = m_canvas->control(i);
    c.model = m_model->currentData().toString();
    c.preprocessor = m_pre->currentText();
    c.strength = m_strength->value();
    c.start = m_start->value();
    c.end = m_end->value();
    c.guessMode = m_guess->isChecked();
    c.opacity = m_opacity->value() / 100.0;
    m_canvas->setControlSettings(i, c);
}

} // namespace ls::ui

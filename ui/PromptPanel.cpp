#include "PromptPanel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QScrollArea>
#include <QVBoxLayout>

#include "pipeline/LoraFiles.h"

#include <algorithm>

namespace ls::ui {

namespace {
QSpinBox* spin(int lo, int hi, int v, int step = 1)
{
    auto* s = new QSpinBox;
    s->setRange(lo, hi);
    s->setValue(v);
    s->setSingleStep(step);
    return s;
}
} // namespace

PromptPanel::PromptPanel(QWidget* parent)
    : QWidget(parent)
{
    // The prompts and the Generate button stay in view; the settings below them scroll on small screens.
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(6, 6, 6, 6);
    auto* settings = new QWidget;
    auto* layout = new QVBoxLayout(settings);
    layout->setContentsMargins(0, 0, 4, 0);
    m_prompt = new QPlainTextEdit;
    m_prompt->setObjectName(QStringLiteral("prompt"));
    m_prompt->setPlaceholderText(tr("Describe the picture, e.g. a large red circle at the top left"));
    m_prompt->setMaximumHeight(90);
    m_negative = new QPlainTextEdit;
    m_negative->setPlaceholderText(tr("Negative prompt (what to avoid)"));
    m_negative->setMaximumHeight(50);
    outer->addWidget(new QLabel(tr("Prompt")));
    outer->addWidget(m_prompt);
    outer->addWidget(m_negative);

    auto* form = new QFormLayout;
    addModelRows(form);
    addSamplingRows(form);
    addHiresRow(form);
    layout->addLayout(form);

    layout->addWidget(inpaintGroup());

    layout->addWidget(upscaleGroup());

    m_generate = new QPushButton(tr("Generate  (Ctrl+Enter)"));
    m_generate->setMinimumHeight(36);
    connect(m_generate, &QPushButton::clicked, this, [this] {
        if (m_busy)
            Q_EMIT cancelClicked();
        else
            Q_EMIT generateClicked();
    });
    outer->addWidget(m_generate);
    layout->addStretch(1);
    auto* scroll = new QScrollArea;
    scroll->setWidget(settings);
    scroll->setWidgetResizable(true);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setMinimumWidth(settings->sizeHint().width() + 16);
    outer->addWidget(scroll, 1);
    watchEdits();
}

void PromptPanel::addModelRows(QFormLayout* form)
{
    m_model = new QComboBox;
    m_model->setEditable(false);
    m_model->addItem(tr("Bundled default model"), QString());
    m_model->addItem(tr("Open a checkpoint..."), QStringLiteral("__open__"));
    connect(m_model, QOverload<int>::of(&QComboBox::activated), this, [this](int i) {
        QString path = m_model->itemData(i).toString();
        if (path == QLatin1String("__open__")) {
            path = QFileDialog::getOpenFileName(this, tr("Open a model"), QString(),
                tr("Checkpoints (*.safetensors *.ckpt *.pt *.pth);;All files (*)"));
            if (path.isEmpty())
                return;
            setModelPath(path);
        }
        Q_EMIT modelChosen(path);
    });
    m_modelInfo = new QLabel;
    m_modelInfo->setWordWrap(true);
    form->addRow(tr("Model"), m_model);
    form->addRow(QString(), m_modelInfo);
    // LoRAs: the menu lists the files of the LoRA folders and adds <lora:NAME:1> to the prompt (the weight is edited
    // in the prompt, as in AUTOMATIC1111).
    m_lora = new QPushButton(tr("Add LoRA"));
    m_lora->setObjectName(QStringLiteral("addLora"));
    m_loraMenu = new QMenu(m_lora);
    m_lora->setMenu(m_loraMenu);
    connect(m_loraMenu, &QMenu::aboutToShow, this, [this] {
        m_loraMenu->clear();
        std::vector<std::filesystem::path> folders;
        for (const auto& f : loraFolders())
            folders.emplace_back(f.toStdString());
        const auto files = ls::pipeline::listLoraFiles(folders);
        for (const auto& f : files) {
            const QString name = QString::fromStdString(f.name);
            QAction* a = m_loraMenu->addAction(name, this, [this, name] { insertLoraTag(name); });
            a->setToolTip(QString::fromStdString(f.path.string()));
        }
        if (files.empty()) {
            QAction* none
                = m_loraMenu->addAction(tr("No LoRA files in %1").arg(loraFolders().join(QStringLiteral(", "))));
            none->setEnabled(false);
        }
        m_loraMenu->addSeparator();
        m_loraMenu->addAction(tr("Open a LoRA file..."), this, [this] {
            const QString path = QFileDialog::getOpenFileName(
                this, tr("Open a LoRA"), QString(), tr("LoRA files (*.safetensors *.pt *.ckpt)"));
            if (!path.isEmpty())
                insertLoraTag(path);
        });
    });
    form->addRow(tr("LoRA"), m_lora);
}

void PromptPanel::addSamplingRows(QFormLayout* form)
{
    m_mode = new QComboBox;
    m_mode->addItems({ tr("Auto"), QStringLiteral("txt2img"), QStringLiteral("img2img"), QStringLiteral("inpaint"),
        QStringLiteral("layout"), QStringLiteral("upscale") });
    form->addRow(tr("Job"), m_mode);
    connect(m_mode, &QComboBox::currentTextChanged, this, &PromptPanel::modeChanged);
    m_captionLayout = new QCheckBox(tr("place objects where the prompt says"));
    m_captionLayout->setChecked(true);
    m_captionLayout->setToolTip(
        tr("Models with a layout path (the bundled one): phrases such as \"a red circle at the top left\" are laid out "
           "as boxes when no boxes are drawn"));
    form->addRow(QString(), m_captionLayout);
    m_sampler = new QComboBox;
    for (const auto& s : ls::pipeline::samplerNames())
        m_sampler->addItem(QString::fromStdString(s));
    m_sampler->setCurrentText(QStringLiteral("DPM++ 2M"));
    form->addRow(tr("Sampler"), m_sampler);
    m_schedule = new QComboBox;
    for (const auto& s : ls::pipeline::scheduleNames())
        m_schedule->addItem(QString::fromStdString(s));
    form->addRow(tr("Schedule"), m_schedule);
    m_steps = spin(1, 1000, 20);
    form->addRow(tr("Steps"), m_steps);
    m_cfg = new QDoubleSpinBox;
    m_cfg->setRange(0, 30);
    m_cfg->setSingleStep(0.5);
    m_cfg->setValue(5.0);
    m_cfg->setToolTip(tr("Classifier-free guidance: how strongly the prompt steers each step. With the bundled model, "
                         "5 for text-to-image and layouts, 2 for inpainting (its model card)."));
    form->addRow(tr("Guidance"), m_cfg);
    auto* seedRow = new QHBoxLayout;
    m_seed = new QLineEdit(QStringLiteral("1"));
    m_randomSeed = new QCheckBox(tr("random"));
    m_randomSeed->setChecked(true);
    m_reuseSeed = new QPushButton(tr("Reuse last"));
    connect(m_reuseSeed, &QPushButton::clicked, this, [this] {
        if (m_lastSeed >= 0) {
            m_seed->setText(QString::number(m_lastSeed));
            m_randomSeed->setChecked(false);
        }
    });
    seedRow->addWidget(m_seed);
    seedRow->addWidget(m_randomSeed);
    seedRow->addWidget(m_reuseSeed);
    form->addRow(tr("Seed"), seedRow);
    auto* sizeRow = new QHBoxLayout;
    m_width = spin(64, 4096, 64, 64);
    m_height = spin(64, 4096, 64, 64);
    sizeRow->addWidget(m_width);
    sizeRow->addWidget(new QLabel(QStringLiteral("x")));
    sizeRow->addWidget(m_height);
    form->addRow(tr("Size"), sizeRow);
    m_batch = spin(1, 16, 1);
    form->addRow(tr("Batch"), m_batch);
    m_strength = new QDoubleSpinBox;
    m_strength->setRange(0.01, 1.0);
    m_strength->setSingleStep(0.05);
    m_strength->setValue(1.0);
    form->addRow(tr("Strength"), m_strength);
}

void PromptPanel::addHiresRow(QFormLayout* form)
{
    // Hires fix (text-to-image): the picture enlarged and repainted at the larger size.
    m_hires = new QDoubleSpinBox;
    m_hires->setObjectName(QStringLiteral("hiresScale"));
    m_hires->setRange(1.0, 4.0);
    m_hires->setSingleStep(0.25);
    m_hires->setValue(1.0);
    m_hires->setSpecialValueText(tr("Off"));
    m_hires->setSuffix(QStringLiteral(" x"));
    m_hires->setToolTip(tr(
        "Text-to-image: enlarge the picture this many times and repaint it at that size (AUTOMATIC1111's hires fix)"));
    m_hiresStrength = new QDoubleSpinBox;
    m_hiresStrength->setObjectName(QStringLiteral("hiresStrength"));
    m_hiresStrength->setRange(0.05, 1.0);
    m_hiresStrength->setSingleStep(0.05);
    m_hiresStrength->setValue(0.5);
    m_hiresStrength->setToolTip(tr("How much the hires pass repaints"));
    auto* hiresRow = new QHBoxLayout;
    hiresRow->addWidget(m_hires, 1);
    hiresRow->addWidget(new QLabel(tr("strength")));
    hiresRow->addWidget(m_hiresStrength, 1);
    form->addRow(tr("Hires fix"), hiresRow);
}

QGroupBox* PromptPanel::inpaintGroup()
{
    auto* inpaint = new QGroupBox(tr("Inpainting"));
    auto* inForm = new QFormLayout(inpaint);
    m_blur = spin(0, 256, 4);
    m_grow = spin(-256, 256, 0);
    m_onlyMasked = new QCheckBox(tr("only masked area"));
    m_padding = spin(0, 1024, 32);
    inForm->addRow(tr("Mask blur"), m_blur);
    inForm->addRow(tr("Mask grow"), m_grow);
    inForm->addRow(m_onlyMasked);
    m_soft = new QCheckBox(tr("soft inpainting"));
    m_soft->setObjectName(QStringLiteral("softInpainting"));
    m_soft->setToolTip(tr("The mask's grey levels (a soft brush's edge, its opacity) act as per-pixel strengths, so a "
                          "feathered stroke blends in instead of leaving a seam"));
    inForm->addRow(m_soft);
    inForm->addRow(tr("Padding"), m_padding);
    return inpaint;
}

QGroupBox* PromptPanel::upscaleGroup()
{
    auto* up = new QGroupBox(tr("Upscaling"));
    auto* upForm = new QFormLayout(up);
    m_upscaler = new QComboBox;
    m_upscaler->addItem(tr("Loaded model"), QString());
    upForm->addRow(tr("Upscaler"), m_upscaler);
    m_scale = spin(2, 4, 4, 2);
    m_tile = spin(16, 1024, 128, 16);
    m_overlap = spin(0, 256, 16);
    upForm->addRow(tr("Factor"), m_scale);
    upForm->addRow(tr("Tile"), m_tile);
    upForm->addRow(tr("Overlap"), m_overlap);
    return up;
}

void PromptPanel::watchEdits()
{
    auto changed = [this] { Q_EMIT edited(); };
    for (auto* w : findChildren<QPlainTextEdit*>())
        connect(w, &QPlainTextEdit::textChanged, this, changed);
    for (auto* w : findChildren<QLineEdit*>())
        connect(w, &QLineEdit::textChanged, this, changed);
    for (auto* w : findChildren<QSpinBox*>())
        connect(w, &QSpinBox::valueChanged, this, changed);
    for (auto* w : findChildren<QDoubleSpinBox*>())
        connect(w, &QDoubleSpinBox::valueChanged, this, changed);
    for (auto* w : findChildren<QComboBox*>())
        connect(w, &QComboBox::currentIndexChanged, this, changed);
    for (auto* w : findChildren<QCheckBox*>())
        connect(w, &QCheckBox::toggled, this, changed);
}

QString PromptPanel::modelPath() const
{
    return m_model->currentData().toString() == QLatin1String("__open__") ? QString()
                                                                          : m_model->currentData().toString();
}

void PromptPanel::setModelPath(const QString& path)
{
    if (path.isEmpty()) {
        m_model->setCurrentIndex(0);
        return;
    }
    int i = m_model->findData(path);
    if (i < 0) {
        m_model->insertItem(1, QFileInfo(path).fileName(), path);
        i = 1;
    }
    m_model->setCurrentIndex(i);
}

void PromptPanel::setModelList(const QList<ModelEntry>& models)
{
    const QString current = modelPath();
    for (int i = m_model->count() - 1; i >= 1; --i)
        if (m_model->itemData(i).toString() != QLatin1String("__open__"))
            m_model->removeItem(i);
    int at = 1;
    for (const auto& e : models) {
        m_model->insertItem(at, e.name, e.path);
        m_model->setItemData(at, e.path, Qt::ToolTipRole);
        ++at;
    }
    setModelPath(current);
}

void PromptPanel::setUpscalers(const QList<plugin::UpscalerInfo>& upscalers)
{
    const QString current = upscalerId();
    while (m_upscaler->count() > 1)
        m_upscaler->removeItem(1);
    int preferred = -1;
    for (const auto& u : upscalers) {
        m_upscaler->addItem(u.name, u.id);
        m_upscaler->setItemData(m_upscaler->count() - 1, u.description, Qt::ToolTipRole);
        if (preferred < 0 && u.engineModel != QStringLiteral("lanczos"))
            preferred = m_upscaler->count() - 1;
    }
    const int keep = m_upscaler->findData(current);
    m_upscaler->setCurrentIndex(!current.isEmpty() && keep >= 0 ? keep : std::max(0, preferred));
}

QString PromptPanel::upscalerId() const { return m_upscaler->currentData().toString(); }

void PromptPanel::setUpscalerId(const QString& id)
{
    m_upscaler->setCurrentIndex(std::max(0, m_upscaler->findData(id)));
}

void PromptPanel::setModelText(const QString& text) { m_modelInfo->setText(text); }

void PromptPanel::setBusy(bool busy)
{
    m_busy = busy;
    m_generate->setText(busy ? tr("Cancel  (Esc)") : tr("Generate  (Ctrl+Enter)"));
}

QString PromptPanel::modeName() const { return m_mode->currentText(); }
void PromptPanel::setMode(const QString& name) { m_mode->setCurrentText(name); }
void PromptPanel::setPrompt(const QString& p) { m_prompt->setPlainText(p); }

void PromptPanel::setLoraFolders(const QStringList& folders) { m_loraFolders = folders; }

QStringList PromptPanel::loraFolders() const
{
    QStringList all = m_loraFolders;
    for (const auto& f : ls::pipeline::defaultLoraFolders(modelPath().toStdString()))
        all << QString::fromStdString(f.string());
    all.removeDuplicates();
    return all;
}

void PromptPanel::insertLoraTag(const QString& name)
{
    QTextCursor c = m_prompt->textCursor();
    const QString before = m_prompt->toPlainText().left(c.position());
    const bool space = !before.isEmpty() && !before.back().isSpace();
    c.insertText((space ? QStringLiteral(" ") : QString()) + QStringLiteral("<lora:%1:1>").arg(name));
    m_prompt->setTextCursor(c);
    m_prompt->setFocus();
}

void PromptPanel::setGuidance(double scale) { m_cfg->setValue(scale); }

void PromptPanel::setSize(int width, int height)
{
    m_width->setValue(width);
    m_height->setValue(height);
}

void PromptPanel::setSeed(qint64 seed)
{
    m_seed->setText(QString::number(seed));
    m_randomSeed->setChecked(seed < 0);
}

ls::pipeline::GenerationRequest PromptPanel::request(bool hasMask, bool hasBoxes) const
{
    using ls::pipeline::JobMode;
    ls::pipeline::GenerationRequest r;
    const QString mode = m_mode->currentText();
    if (mode == QLatin1String("Auto"))
        r.mode = hasMask ? JobMode::Inpaint : hasBoxes ? JobMode::Layout : JobMode::Txt2Img;
    else
        r.mode = ls::pipeline::jobModeFromName(mode.toStdString());
    r.prompt = m_prompt->toPlainText().toStdString();
    r.negativePrompt = m_negative->toPlainText().toStdString();
    r.sampler = m_sampler->currentText().toStdString();
    r.schedule = m_schedule->currentText().toStdString();
    r.steps = m_steps->value();
    r.cfgScale = m_cfg->value();
    r.seed = m_randomSeed->isChecked() ? -1 : m_seed->text().toLongLong();
    r.width = m_width->value();
    r.height = m_height->value();
    r.batch = m_batch->value();
    r.strength = m_strength->value();
    r.hiresScale = r.mode == JobMode::Txt2Img ? m_hires->value() : 1.0;
    r.hiresStrength = m_hiresStrength->value();
    r.maskBlur = m_blur->value();
    r.maskGrow = m_grow->value();
    r.onlyMasked = m_onlyMasked->isChecked();
    r.softInpainting = m_soft->isChecked();
    r.onlyMaskedPadding = m_padding->value();
    r.captionLayout = m_captionLayout->isChecked();
    r.eta = m_reused.eta;
    r.etaAncestral = m_reused.etaAncestral;
    r.clipSkip = m_reused.clipSkip;
    if (r.hiresScale > 1.0) {
        r.hiresSteps = m_reused.hiresSteps;
        r.hiresSampler = m_reused.hiresSampler;
        r.hiresPrompt = m_reused.hiresPrompt;
        r.hiresNegativePrompt = m_reused.hiresNegativePrompt;
        r.hiresCfgScale = m_reused.hiresCfgScale;
        if (r.hiresScale == m_reusedHiresScale && r.width == m_reused.width && r.height == m_reused.height) {
            r.hiresWidth = m_reused.hiresWidth;
            r.hiresHeight = m_reused.hiresHeight;
        }
    }
    r.upscaleFactor = m_scale->value();
    r.tileSize = m_tile->value();
    r.tileOverlap = m_overlap->value();
    if (r.mode == JobMode::Upscale && r.sampler != "DDIM")
        r.sampler = "DDIM";
    return r;
}

void PromptPanel::applyRequest(const ls::pipeline::GenerationRequest& r)
{
    m_prompt->setPlainText(QString::fromStdString(r.prompt));
    m_negative->setPlainText(QString::fromStdString(r.negativePrompt));
    m_sampler->setCurrentText(QString::fromStdString(r.sampler));
    m_schedule->setCurrentText(QString::fromStdString(r.schedule));
    m_steps->setValue(r.steps);
    m_cfg->setValue(r.cfgScale);
    setSeed(r.seed);
    m_width->setValue(r.width);
    m_height->setValue(r.height);
    m_strength->setValue(r.strength);
    // a hires size ("Hires resize") shows as the scale it comes to
    const double scale = r.hiresEnabled() && r.width > 0 ? static_cast<double>(r.hiresSize().first) / r.width : 1.0;
    m_hires->setValue(scale);
    m_reused = r;
    m_reusedHiresScale = m_hires->value();
    m_hiresStrength->setValue(r.hiresStrength);
    m_blur->setValue(r.maskBlur);
    m_grow->setValue(r.maskGrow);
    m_onlyMasked->setChecked(r.onlyMasked);
    m_soft->setChecked(r.softInpainting);
    m_padding->setValue(r.onlyMaskedPadding);
    m_captionLayout->setChecked(r.captionLayout);
}

} // namespace ls::ui

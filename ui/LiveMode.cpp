#include "LiveMode.h"

#include "GenerationController.h"

#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QRandomGenerator>
#include <QSpinBox>
#include <QTimer>
#include <QVBoxLayout>

#include <limits>

namespace ls::ui {

// The live picture, fitted to the widget with its aspect kept.
class LiveView : public QWidget {
public:
    LiveView()
    {
        setMinimumSize(160, 160);
        setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    }
    void setPicture(const QImage& img)
    {
        m_img = img;
        update();
    }
    void setPlaceholder(const QString& text)
    {
        m_text = text;
        update();
    }

protected:
    void paintEvent(QPaintEvent*) override
    {
        QPainter p(this);
        p.fillRect(rect(), QColor(40, 42, 48));
        if (m_img.isNull()) {
            p.setPen(QColor(200, 200, 200));
            p.drawText(rect().adjusted(8, 8, -8, -8), Qt::AlignCenter | Qt::TextWordWrap, m_text);
            return;
        }
        const QSizeF fit = QSizeF(m_img.size()).scaled(QSizeF(size()), Qt::KeepAspectRatio);
        const QRectF r(QPointF((width() - fit.width()) / 2, (height() - fit.height()) / 2), fit);
        p.setRenderHint(QPainter::SmoothPixmapTransform, fit.width() < m_img.width());
        p.drawImage(r, m_img);
    }

private:
    QImage m_img;
    QString m_text;
};

LiveMode::LiveMode(GenerationController* controller, RequestFn request, QObject* parent)
    : QObject(parent)
    , m_controller(controller)
    , m_request(std::move(request))
    , m_panel(new QWidget)
    , m_toggle(new QCheckBox(tr("Live")))
    , m_fast(new QCheckBox(tr("fast decode (TAESD)")))
    , m_strength(new QDoubleSpinBox)
    , m_seed(new QSpinBox)
    , m_keep(new QPushButton(tr("Keep")))
    , m_status(new QLabel)
    , m_view(new LiveView)
    , m_debounce(new QTimer(this))
{
    m_clock.start();
    m_panel->setObjectName(QStringLiteral("livePanel"));
    m_toggle->setObjectName(QStringLiteral("liveToggle"));
    m_toggle->setToolTip(tr("The picture follows every edit of the canvas, the prompt and the settings (Ctrl+L)"));
    m_strength->setRange(0.05, 1.0);
    m_strength->setSingleStep(0.05);
    m_strength->setValue(0.6);
    m_strength->setObjectName(QStringLiteral("liveStrength"));
    m_strength->setToolTip(tr("How much of the canvas is repainted: low keeps your painting, 1 ignores it. Inpainting "
                              "uses it as its denoising strength; layouts ignore it."));
    m_seed->setRange(0, std::numeric_limits<int>::max());
    m_seed->setValue(static_cast<int>(QRandomGenerator::global()->bounded(1 << 30)));
    m_seed->setToolTip(tr("One seed for every live picture, so the picture changes only where you do"));
    auto* dice = new QPushButton(tr("New"));
    dice->setToolTip(tr("Another seed"));
    connect(dice, &QPushButton::clicked, this,
        [this] { m_seed->setValue(static_cast<int>(QRandomGenerator::global()->bounded(1 << 30))); });
    m_fast->setToolTip(tr("Decode with the TAESD decoder (Settings > Preview decoder, or taesd_decoder beside the "
                          "model): much faster on large models, softer detail"));
    m_keep->setObjectName(QStringLiteral("liveKeep"));
    m_keep->setToolTip(tr("Put the live picture on the canvas (undoable) and into the history"));
    m_keep->setEnabled(false);
    m_status->setWordWrap(true);
    m_view->setPlaceholder(tr("Turn Live on: the picture follows your strokes, boxes and prompt."));

    auto* layout = new QVBoxLayout(m_panel);
    layout->setContentsMargins(6, 6, 6, 6);
    auto* top = new QHBoxLayout;
    top->addWidget(m_toggle);
    top->addStretch(1);
    top->addWidget(m_keep);
    layout->addLayout(top);
    auto* form = new QFormLayout;
    form->addRow(tr("Strength"), m_strength);
    auto* seedRow = new QHBoxLayout;
    seedRow->addWidget(m_seed, 1);
    seedRow->addWidget(dice);
    form->addRow(tr("Seed"), seedRow);
    form->addRow(QString(), m_fast);
    layout->addLayout(form);
    layout->addWidget(m_view, 1);
    layout->addWidget(m_status);

    m_debounce->setSingleShot(true);
    connect(m_debounce, &QTimer::timeout, this, &LiveMode::submit);
    connect(m_toggle, &QCheckBox::toggled, this, &LiveMode::setOn);
    connect(m_keep, &QPushButton::clicked, this, &LiveMode::keep);
    connect(m_strength, &QDoubleSpinBox::valueChanged, this, [this] { edited(250); });
    connect(m_seed, &QSpinBox::valueChanged, this, [this] { edited(250); });
    connect(m_fast, &QCheckBox::toggled, this, [this] { edited(); });

    connect(m_controller, &GenerationController::preview, this, [this](int id, int, const QImage& img) {
        if (current(id))
            show(id, img, false);
    });
    connect(m_controller, &GenerationController::finished, this, [this](int id, const JobResult& result) {
        if (!m_jobs.contains(id))
            return;
        const bool fresh = current(id);
        m_jobs.remove(id);
        if (!fresh || result.pictures.isEmpty())
            return; // an edit came after the one it was made from: never shown
        const JobResult::Picture& p = result.pictures.front();
        m_parameters = p.parameters;
        m_settings = p.settings;
        m_latency = (m_clock.elapsed() - m_editAt) / 1000.0;
        show(id, p.image, true);
    });
    connect(m_controller, &GenerationController::failed, this, [this](int id, const QString& message) {
        if (!m_jobs.contains(id))
            return;
        const bool fresh = current(id);
        m_jobs.remove(id);
        if (fresh)
            m_status->setText(tr("Live: %1").arg(message));
    });
    connect(m_controller, &GenerationController::cancelled, this, [this](int id) { m_jobs.remove(id); });
}

double LiveMode::strength() const { return m_strength->value(); }
void LiveMode::setStrength(double s) { m_strength->setValue(s); }
qint64 LiveMode::seed() const { return m_seed->value(); }
void LiveMode::setSeed(qint64 seed) { m_seed->setValue(static_cast<int>(seed)); }
void LiveMode::setFastDecode(bool on) { m_fast->setChecked(on); }

void LiveMode::setOn(bool on)
{
    if (on == m_on)
        return;
    m_on = on;
    {
        const QSignalBlocker block(m_toggle);
        m_toggle->setChecked(on);
    }
    if (on) {
        edited(0);
    } else {
        m_debounce->stop();
        stopJobs();
        m_status->setText(tr("Live is off"));
    }
    Q_EMIT toggled(on);
}

void LiveMode::edited(int delayMs)
{
    if (!m_on)
        return;
    ++m_edit;
    m_editAt = m_clock.elapsed();
    stopJobs(); // what runs is already stale: free the worker at its next step
    m_debounce->start(std::max(0, delayMs));
}

void LiveMode::stopJobs()
{
    const QList<int> ids = m_jobs.keys(); // cancelling a waiting job removes it from m_jobs at once
    for (int id : ids)
        m_controller->cancelJob(id);
}

bool LiveMode::current(int jobId) const { return m_jobs.value(jobId, -1) == m_edit; }

void LiveMode::submit()
{
    if (!m_on)
        return;
    QString why;
    std::optional<ls::pipeline::GenerationRequest> r = m_request(&why);
    if (!r) {
        m_status->setText(tr("Live waits: %1").arg(why));
        return;
    }
    using ls::pipeline::JobMode;
    const double s = strength();
    if (r->mode == JobMode::Txt2Img && !r->initImage.empty() && s < 1.0)
        r->mode = JobMode::Img2Img; // follow the painting
    if (r->mode != JobMode::Img2Img && r->mode != JobMode::Inpaint)
        r->initImage = {};
    if (r->mode == JobMode::Img2Img || r->mode == JobMode::Inpaint)
        r->strength = s;
    r->seed = seed();
    r->batch = 1;
    r->hiresScale = 1.0; // one pass: live is about the first picture
    r->hiresWidth = r->hiresHeight = 0;
    r->fastDecode = r->fastDecode || m_fast->isChecked(); // the app's setting, or the live panel's own
    const int id = m_controller->enqueue(*r);
    m_jobs.insert(id, m_edit);
    m_owned.insert(id);
    m_status->setText(tr("Live: rendering..."));
}

void LiveMode::show(int jobId, const QImage& picture, bool final)
{
    m_view->setPicture(picture);
    if (!final)
        return;
    m_picture = picture;
    m_pictureJob = jobId;
    m_keep->setEnabled(true);
    m_status->setText(tr("Live: %1 s from the edit, seed %2").arg(m_latency, 0, 'f', 2).arg(seed()));
    Q_EMIT pictureShown(jobId, picture);
}

void LiveMode::keep()
{
    if (m_picture.isNull())
        return;
    Q_EMIT keepRequested(m_picture, m_parameters, m_settings);
}

} // namespace ls::ui

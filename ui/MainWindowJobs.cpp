// The main window's jobs: the request for the canvas, Generate and cancel, the controller's signals into the canvas,
// status bar and history.
#include "MainWindow.h"

#include "Canvas.h"
#include "ControlPanel.h"
#include "GenerationController.h"
#include "HistoryPanel.h"
#include "LiveMode.h"
#include "PromptPanel.h"
#include "RemoteBackend.h"

#include <nlohmann/json.hpp>

#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>

namespace ls::ui {

void MainWindow::connectController()
{
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
    connect(m_controller, &GenerationController::finished, this, [this](int id, const JobResult& result) {
        if (m_live->owns(id))
            return;
        for (const auto& p : result.pictures)
            addHistory(p.image, p.parameters, p.settings);
        if (id != m_job)
            return;
        m_canvas->setPreview({});
        if (!result.pictures.isEmpty())
            m_canvas->setImage(result.pictures.front().image);
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
    const QString error = m_history->addResult(image, parameters, settings);
    if (!error.isEmpty())
        m_status->setText(tr("Could not save to history: %1").arg(error));
    markChanged();
    auto j = nlohmann::json::parse(settings.toStdString(), nullptr, false);
    if (!j.is_discarded() && j.contains("seed"))
        m_panel->setLastSeed(j["seed"].get<qint64>());
}

void MainWindow::applyResult(const QImage& image)
{
    m_canvas->clearCompare();
    m_canvas->setPreview({});
    m_canvas->setImage(image);
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

} // namespace ls::ui

#include "GenerationController.h"
#include "JobQueue.h"
#include "RemoteBackend.h"

#include "pipeline/Engine.h"
#include "util/Error.h"

#include <QMetaObject>
#include <QMutex>
#include <QThread>
#include <QTimer>

#include <atomic>

#include <sys/resource.h>
#include <unistd.h>

namespace ls::ui {

QImage toQImage(const ls::Image& img)
{
    if (img.empty())
        return {};
    const QImage::Format f = img.channels == 1 ? QImage::Format_Grayscale8
        : img.channels == 4                    ? QImage::Format_RGBA8888
                                               : QImage::Format_RGB888;
    // copy(): the QImage owns its pixels, so it may cross threads.
    return QImage(img.pixels.data(), img.width, img.height, img.width * img.channels, f).copy();
}

ls::Image fromQImage(const QImage& q)
{
    const QImage c = q.convertToFormat(QImage::Format_RGB888);
    ls::Image img(c.width(), c.height(), 3);
    for (int y = 0; y < c.height(); ++y)
        std::memcpy(img.at(0, y), c.constScanLine(y), static_cast<size_t>(c.width()) * 3);
    return img;
}

ls::Image maskFromQImage(const QImage& q)
{
    const QImage c = q.convertToFormat(QImage::Format_Grayscale8);
    ls::Image img(c.width(), c.height(), 1);
    for (int y = 0; y < c.height(); ++y)
        std::memcpy(img.at(0, y), c.constScanLine(y), static_cast<size_t>(c.width()));
    return img;
}

// Lives on the worker thread; owns the engine (and its thread-local torch state).
class GenerationWorker : public QObject {
    Q_OBJECT
public:
    explicit GenerationWorker(GenerationController* owner)
        : m_owner(owner)
    {
    }
    JobQueue jobs;
    ls::StopToken stop;
    std::atomic<int> latestLoad { 0 }; // a load whose number is no longer the latest stops at its next tensor

public Q_SLOTS:
    void load(const QString& path, const QString& config, const QString& vocab, int threads, const QString& device,
        const QString& vae, int serial)
    {
        struct LoadEnds {
            JobQueue& jobs;
            ~LoadEnds() { jobs.loadEnded(); }
        } ends { jobs };
        if (serial != latestLoad)
            return; // another model was chosen since
        try {
            ls::pipeline::EngineLoadOptions o;
            o.configFile = config.toStdString();
            o.vocabulary = vocab.toStdString();
            o.threads = threads;
            o.vae = vae.toStdString();
            o.vaeFallback = true;
            o.device = ls::pipeline::findDevice(device.toStdString()).value_or(ls::pipeline::Device::Cpu);
            o.onProgress = [this, serial, last = -1](double share) mutable {
                if (serial != latestLoad)
                    return false;
                const int percent = static_cast<int>(share * 100);
                if (percent != last)
                    Q_EMIT m_owner->modelProgress(percent);
                last = percent;
                return true;
            };
            auto s = m_engine.load(path.toStdString(), o,
                [this](const std::string& m) { Q_EMIT m_owner->modelStatus(QString::fromStdString(m)); });
            Q_EMIT m_owner->modelLoaded(
                QString::fromStdString(s.path), QString::fromStdString(s.family), s.nativeResolution, s.upscaler);
            for (const auto& w : s.warnings)
                Q_EMIT m_owner->modelStatus(QStringLiteral("Warning: ") + QString::fromStdString(w));
        } catch (const ls::Error& e) {
            if (e.kind() != ls::ErrorKind::Cancelled) // stopped for a newer load, which follows at once
                Q_EMIT m_owner->modelFailed(QString::fromStdString(e.what()));
        } catch (const std::exception& e) {
            Q_EMIT m_owner->modelFailed(QString::fromStdString(e.what()));
        }
    }
    void setLoraFolders(const QStringList& folders)
    {
        std::vector<std::filesystem::path> f;
        for (const auto& s : folders)
            f.emplace_back(s.toStdString());
        m_engine.setLoraFolders(f);
    }
    void setEmbeddingFolders(const QStringList& folders)
    {
        std::vector<std::filesystem::path> f;
        for (const auto& s : folders)
            f.emplace_back(s.toStdString());
        m_engine.setEmbeddingFolders(f);
    }
    void setPreviewDecoder(const QString& file) { m_engine.setPreviewDecoder(file.toStdString()); }
    void drain()
    {
        while (auto next = jobs.takeNext([this] { stop.reset(); })) {
            const QueuedJob& job = *next;
            Q_EMIT m_owner->queueChanged(jobs.size());
            Q_EMIT m_owner->started(job.id);
            try {
                ls::pipeline::Engine& engine = job.engineModel.isEmpty() ? m_engine : upscaler(job.engineModel);
                auto result = engine.run(
                    job.request,
                    [&](const ls::pipeline::StepInfo& s) {
                        const double rate = s.elapsedSeconds > 0 ? s.step / s.elapsedSeconds : 0;
                        Q_EMIT m_owner->progress(
                            job.id, s.step, s.total, rate, rate > 0 ? (s.total - s.step) / rate : 0);
                        if (s.preview)
                            Q_EMIT m_owner->preview(job.id, s.step, toQImage(*s.preview));
                    },
                    stop);
                JobResult out;
                for (size_t i = 0; i < result.images.size(); ++i)
                    out.pictures.push_back(
                        { toQImage(result.images[i]), QString::fromStdString(result.metadata[i]["parameters"]),
                            QString::fromStdString(result.metadata[i]["latent_studio"]),
                            i < result.seeds.size() ? static_cast<qint64>(result.seeds[i]) : -1 });
                for (const auto& w : result.warnings) {
                    out.warnings << QString::fromStdString(w);
                    Q_EMIT m_owner->modelStatus(QStringLiteral("Warning: ") + QString::fromStdString(w));
                }
                Q_EMIT m_owner->finished(job.id, out);
            } catch (const ls::Error& e) {
                if (e.kind() == ls::ErrorKind::Cancelled)
                    Q_EMIT m_owner->cancelled(job.id);
                else
                    Q_EMIT m_owner->failed(job.id, QString::fromStdString(e.what()));
            } catch (const std::exception& e) {
                Q_EMIT m_owner->failed(job.id, QString::fromStdString(e.what()));
            }
            jobs.finishCurrent();
        }
    }

private:
    // The plugins' upscalers run on a second engine, so the main model stays loaded.
    ls::pipeline::Engine& upscaler(const QString& model)
    {
        if (model != m_upscalerModel) {
            m_upscalerModel.clear();
            m_upscaler.unload();
            if (model != QStringLiteral("lanczos")) {
                Q_EMIT m_owner->modelStatus(QStringLiteral("Loading upscaler %1...").arg(model));
                m_upscaler.load(model.toStdString(), {}, {});
            }
            m_upscalerModel = model;
        }
        return m_upscaler;
    }

    GenerationController* m_owner;
    ls::pipeline::Engine m_engine;
    ls::pipeline::Engine m_upscaler;
    QString m_upscalerModel;
};

GenerationController::GenerationController(QObject* parent)
    : QObject(parent)
    , m_thread(new QThread(this))
    , m_worker(new GenerationWorker(this))
{
    qRegisterMetaType<QList<QImage>>("QList<QImage>");
    qRegisterMetaType<ls::ui::JobResult>();
    m_worker->moveToThread(m_thread);
    connect(m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(
        m_thread, &QThread::started, m_worker,
        [] {
            // The engine's compute threads (libtorch's pool is spawned from this thread and inherits its niceness)
            // yield to the GUI thread when cores are scarce, so the window never stalls behind a generation.
            ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 4);
        },
        Qt::DirectConnection);
    m_thread->start();
    m_remote = new RemoteBackend(this);
    connect(m_remote, &RemoteBackend::started, this, &GenerationController::started);
    connect(m_remote, &RemoteBackend::progress, this, &GenerationController::progress);
    connect(m_remote, &RemoteBackend::preview, this, &GenerationController::preview);
    connect(m_remote, &RemoteBackend::finished, this, &GenerationController::finished);
    connect(m_remote, &RemoteBackend::failed, this, &GenerationController::failed);
    connect(m_remote, &RemoteBackend::cancelled, this, &GenerationController::cancelled);
    connect(m_remote, &RemoteBackend::queueChanged, this, [this] { Q_EMIT queueChanged(queuedJobs()); });
}

GenerationController::~GenerationController()
{
    ++m_worker->latestLoad; // a load in progress stops at its next tensor
    clearQueue();
    cancelCurrent();
    m_thread->quit();
    m_thread->wait();
}

void GenerationController::loadModel(const QString& path, const QString& configFile, const QString& vocabulary,
    int threads, const QString& device, const QString& vae)
{
    const int serial = ++m_worker->latestLoad; // a load still running for an earlier choice stops
    if (isRemoteModelPath(path)) {
        m_remoteModel = remoteModelTitle(path);
        QTimer::singleShot(0, this, [this, path] {
            if (remoteModelPath(m_remoteModel) == path) // (not another choice since)
                Q_EMIT modelLoaded(path, QStringLiteral("remote"), 512, false);
        });
        return;
    }
    m_remoteModel.clear();
    m_worker->jobs.loadStarted(); // busy() until the worker has handled it (its load ends it)
    QMetaObject::invokeMethod(m_worker, "load", Qt::QueuedConnection, Q_ARG(QString, path), Q_ARG(QString, configFile),
        Q_ARG(QString, vocabulary), Q_ARG(int, threads), Q_ARG(QString, device), Q_ARG(QString, vae),
        Q_ARG(int, serial));
}

bool GenerationController::cudaAvailable() { return ls::pipeline::Engine::cudaAvailable(); }

void GenerationController::setLoraFolders(const QStringList& folders)
{
    QMetaObject::invokeMethod(m_worker, "setLoraFolders", Qt::QueuedConnection, Q_ARG(QStringList, folders));
}

void GenerationController::setPreviewDecoder(const QString& taesdDecoder)
{
    QMetaObject::invokeMethod(m_worker, "setPreviewDecoder", Qt::QueuedConnection, Q_ARG(QString, taesdDecoder));
}

void GenerationController::setEmbeddingFolders(const QStringList& folders)
{
    QMetaObject::invokeMethod(m_worker, "setEmbeddingFolders", Qt::QueuedConnection, Q_ARG(QStringList, folders));
}

int GenerationController::enqueue(const ls::pipeline::GenerationRequest& request, const QString& engineModel)
{
    const int id = m_nextId++;
    if (!m_remoteModel.isEmpty() && engineModel.isEmpty()) {
        m_remote->enqueue(id, request, m_remoteModel);
        return id;
    }
    m_worker->jobs.push({ id, request, engineModel });
    Q_EMIT queueChanged(m_worker->jobs.size());
    QMetaObject::invokeMethod(m_worker, "drain", Qt::QueuedConnection);
    return id;
}

// Signals go out after JobQueue has released its lock: slots may call back into the controller.
void GenerationController::cancelCurrent()
{
    if (m_remote->busy()) {
        m_remote->cancelCurrent();
        return;
    }
    const int dropped = m_worker->jobs.cancelCurrentOrNext([this] { m_worker->stop.requestStop(); });
    if (dropped != 0) {
        Q_EMIT cancelled(dropped);
        Q_EMIT queueChanged(m_worker->jobs.size());
    }
}

void GenerationController::cancelJob(int jobId)
{
    m_remote->cancelJob(jobId);
    if (m_worker->jobs.cancelJob(jobId, [this] { m_worker->stop.requestStop(); })) {
        Q_EMIT cancelled(jobId);
        Q_EMIT queueChanged(m_worker->jobs.size());
    }
}

void GenerationController::clearQueue()
{
    m_remote->clearQueue();
    const std::vector<int> dropped = m_worker->jobs.clear();
    for (int id : dropped)
        Q_EMIT cancelled(id);
    if (!dropped.empty())
        Q_EMIT queueChanged(0);
}

int GenerationController::queuedJobs() const { return m_worker->jobs.size() + m_remote->queuedJobs(); }

bool GenerationController::busy() const { return m_worker->jobs.busy() || m_remote->busy(); }

bool GenerationController::jobsPending() const
{
    return m_worker->jobs.running() || m_worker->jobs.size() > 0 || m_remote->busy();
}

} // namespace ls::ui

#include "GenerationController.moc"

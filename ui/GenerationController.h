#pragma once
// Runs generations on one long-lived worker thread and reports back with queued signals tagged by job id, so the
// view can drop stale ones. Model loading happens on the same worker. Cancellation is a status, not an error.
#include "JobResult.h"
#include "pipeline/GenerationRequest.h"

#include <QImage>
#include <QObject>
#include <QString>
#include <QStringList>

#include <memory>

class QThread;

namespace ls::ui {

class GenerationWorker;
class RemoteBackend;

QImage toQImage(const ls::Image& img);
ls::Image fromQImage(const QImage& img); // RGB
ls::Image maskFromQImage(const QImage& img); // first channel / alpha as 1-channel

class GenerationController : public QObject {
    Q_OBJECT
public:
    explicit GenerationController(QObject* parent = nullptr);
    ~GenerationController() override;

    // vae: a stand-alone VAE used where it fits the model (else the model's own, with a warning).
    void loadModel(const QString& path, const QString& configFile = {}, const QString& vocabulary = {}, int threads = 0,
        const QString& device = {}, const QString& vae = {});
    static bool cudaAvailable();
    // Folders searched for the LoRAs that prompts name (<lora:NAME:W>), before the default ones; kept across loads.
    void setLoraFolders(const QStringList& folders);
    // The same for textual-inversion embeddings (used by their file name in a prompt).
    void setEmbeddingFolders(const QStringList& folders);
    // TAESD decoder for the per-step previews (Settings > Preview decoder); empty: one beside the model, if any.
    void setPreviewDecoder(const QString& taesdDecoder);
    // Queues a job and returns its id. engineModel empty: the loaded model; "lanczos": plain resampling; otherwise a
    // model (path or "bundled:NAME") that a second engine on the worker loads once and keeps, for upscaler plugins.
    int enqueue(const ls::pipeline::GenerationRequest& request, const QString& engineModel = {});
    // Stops the running job at its next step; when none runs yet, drops the job that would start next.
    void cancelCurrent();
    // One job: stopped at its next step when it runs, dropped (cancelled at once) when it waits; others untouched.
    void cancelJob(int jobId);
    void clearQueue();
    int queuedJobs() const;
    bool busy() const; // a job runs or waits, or a model is loading
    bool jobsPending() const; // a job runs or waits
    // Remote servers (AUTOMATIC1111 API): a model path "remote:TITLE" (RemoteBackend.h) makes the following jobs run
    // there, with the same signals; loading it loads nothing here.
    RemoteBackend* remote() const { return m_remote; }
    bool remoteActive() const { return !m_remoteModel.isEmpty(); }

Q_SIGNALS:
    void modelStatus(const QString& message);
    void modelProgress(int percent); // share of the weights loaded; choosing another model stops the load
    void modelLoaded(const QString& path, const QString& family, int nativeResolution, bool upscaler);
    void modelFailed(const QString& message);
    void started(int jobId);
    void progress(int jobId, int step, int total, double itPerSecond, double etaSeconds);
    void preview(int jobId, int step, const QImage& image);
    void finished(int jobId, const ls::ui::JobResult& result);
    void failed(int jobId, const QString& message);
    void cancelled(int jobId);
    void queueChanged(int queuedJobs); // jobs waiting (not counting the running one)

private:
    QThread* m_thread = nullptr;
    GenerationWorker* m_worker = nullptr;
    int m_nextId = 1;
    RemoteBackend* m_remote = nullptr;
    QString m_remoteModel; // the title of the remote model in use (empty: the local engine)
};

} // namespace ls::ui

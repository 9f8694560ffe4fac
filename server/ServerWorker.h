#pragma once
// The engine behind the server: one thread, one Engine, one queue (first come, first served), and the shared state
// that /progress reports (A1111's shared.state).
#include "server/ApiRequest.h"
#include "server/ApiServer.h"
#include "server/ModelCatalog.h"

#include "util/StopToken.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace ls::server {

// One queued piece of work and its answer (HTTP status and JSON body).
class Task {
public:
    explicit Task(std::string kind, std::function<void(Task&)> body)
        : kind(std::move(kind))
        , body(std::move(body))
    {
    }
    const std::string kind; // "txt2img", "img2img", "extras", "options"
    const std::function<void(Task&)> body; // runs on the worker; calls finish()
    StopToken stop;
    int status = 0;
    nlohmann::json response;

    void finish(int httpStatus, nlohmann::json body);
    bool waitFor(std::chrono::milliseconds timeout); // true once finished
    bool done() const;

private:
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_done = false;
};

class ServerWorker {
public:
    explicit ServerWorker(const ServerOptions& options);
    ~ServerWorker();
    void start(); // loads the first model in the background, then serves the queue
    void stop();

    bool enqueue(std::shared_ptr<Task> task); // false when the queue is full
    // The client left: dropped if still waiting, stopped within one UNet call if running.
    void abandon(const std::shared_ptr<Task>& task);
    void interrupt(bool skip); // /interrupt stops the running job; /skip its current batch only

    nlohmann::json progress(bool skipImage);
    nlohmann::json options() const;
    // The settings set through POST /options (clip skip, etas) under a request's override_settings (the request's
    // own win).
    nlohmann::json withOptions(nlohmann::json body) const;

    std::shared_ptr<Task> generationTask(ApiJob job);
    std::shared_ptr<Task> extrasTask(ExtrasJob job);
    std::shared_ptr<Task> optionsTask(nlohmann::json body);

    ModelCatalog& catalog() { return m_catalog; }
    // (name, model file or "") for /upscalers: None, Lanczos, Nearest, then upscaling models.
    std::vector<std::pair<std::string, std::string>> upscalers() const;
    std::vector<std::filesystem::path> loraFolders() const;

private:
    struct Progress;
    void loop();
    void runGeneration(Task& task, ApiJob& job);
    void runExtras(Task& task, const ExtrasJob& job);
    void ensureModel(const std::string& search, const char* field);
    void resolveFiles(ApiJob& job);
    // /progress: a job starts (returns its timestamp); each step of the engine reported.
    std::string beginProgress(const std::string& job, int jobCount, int steps);
    pipeline::StepCallback progressReporter();
    std::string loadedPath() const;
    pipeline::ModelSummary loadModel(const std::string& path); // on the worker

    const ServerOptions m_options;
    ModelCatalog m_catalog;
    pipeline::Engine m_engine; // used on the worker thread only
    std::unique_ptr<Progress> m_progress;

    mutable std::mutex m_mutex; // guards everything below
    std::condition_variable m_cv;
    std::deque<std::shared_ptr<Task>> m_queue;
    std::shared_ptr<Task> m_current;
    bool m_stopping = false;
    bool m_skip = false;
    std::string m_currentModel; // path of the model /options selected (jobs without an override use it)
    std::string m_loadedPath; // path of the model in the engine
    nlohmann::json m_settings; // what POST /options set
    std::thread m_thread;
    std::mutex m_joinMutex;
};

} // namespace ls::server

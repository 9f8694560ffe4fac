#include "server/ServerWorker.h"

#include "server/ApiResponse.h"

#include "pipeline/ImageOps.h"
#include "pipeline/LoraFiles.h"
#include "text/LoraTags.h"
#include "util/Error.h"

#include <cstdio>

namespace ls::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

void Task::finish(int httpStatus, json body)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_done)
            return;
        status = httpStatus;
        response = std::move(body);
        m_done = true;
    }
    m_cv.notify_all();
}

bool Task::waitFor(std::chrono::milliseconds timeout)
{
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, timeout, [this] { return m_done; });
}

bool Task::done() const
{
    std::lock_guard lock(m_mutex);
    return m_done;
}

// A1111's shared.state, as /progress reads it.
struct ServerWorker::Progress {
    std::mutex mutex;
    bool active = false;
    std::string job, timestamp = "0", textinfo;
    int jobCount = 0, jobNo = 0, step = 0, steps = 0;
    bool interrupted = false, skipped = false;
    Clock::time_point start;
    Image preview;
    int previewSerial = 0, encodedSerial = -1;
    std::string encoded;
};

namespace {

// A LoRA named by a client is looked up in the server's folders only: no absolute paths, no "..".
void refuseLoraPaths(const ApiJob& job)
{
    std::vector<FieldProblem> problems;
    for (const auto& [field, text] :
        { std::pair { "prompt", job.request.prompt }, std::pair { "negative_prompt", job.request.negativePrompt } }) {
        std::vector<text::LoraTag> tags;
        text::extractLoraTags(text, &tags);
        for (const auto& t : tags)
            if (!t.name.empty() && (t.name.front() == '/' || t.name.find("..") != std::string::npos))
                problems.push_back({ { "body", field }, "LoRA '" + t.name + "': name a LoRA of GET /sdapi/v1/loras" });
    }
    if (!problems.empty())
        throw InvalidRequest(std::move(problems));
}

} // namespace

ServerWorker::ServerWorker(const ServerOptions& o)
    : m_options(o)
    , m_catalog(o.modelDirs, o.controlNetDirs, o.bundled)
    , m_progress(std::make_unique<Progress>())
{
    // A1111's options that clients read (its ints with a non-zero default come back as floats)
    m_settings = { { "CLIP_stop_at_last_layers", 1.0 }, { "eta_ddim", 0.0 }, { "eta_ancestral", 1.0 },
        { "sd_vae", "Automatic" }, { "samples_format", "png" }, { "jpeg_quality", 80.0 }, { "enable_pnginfo", true },
        { "return_grid", true }, { "face_restoration", false }, { "tiling", false }, { "eta_noise_seed_delta", 0 },
        { "randn_source", "CPU" }, { "live_previews_enable", true }, { "show_progress_every_n_steps", 1.0 },
        { "sd_checkpoints_limit", 1.0 }, { "initial_noise_multiplier", 1.0 }, { "img2img_fix_steps", false },
        { "hide_samplers", nlohmann::json::array() }, { "quicksettings_list", { "sd_model_checkpoint" } } };
    m_engine.setLoraFolders(o.loraDirs);
    m_engine.setEmbeddingFolders(o.embeddingDirs);
}

ServerWorker::~ServerWorker() { stop(); }

void ServerWorker::start()
{
    const auto all = m_catalog.checkpoints();
    std::optional<CatalogEntry> first;
    if (!m_options.model.empty()) {
        first = m_catalog.findCheckpoint(m_options.model);
        if (!first)
            fail(ErrorKind::InvalidInput,
                "--model " + m_options.model + ": no such model in the model folders (GET /sdapi/v1/sd-models)");
    } else if (!all.empty()) {
        first = all.front();
    }
    if (first)
        m_currentModel = first->path.string();
    m_thread = std::thread([this] { loop(); });
    // the first model loads before any job, so that the first client does not wait for it
    if (first)
        enqueue(std::make_shared<Task>("load", [this](Task& t) {
            ensureModel({}, "sd_model_checkpoint");
            t.finish(200, nullptr);
        }));
}

void ServerWorker::stop()
{
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
        if (m_current)
            m_current->stop.requestStop();
    }
    m_cv.notify_all();
    {
        std::lock_guard join(m_joinMutex); // stop() may come from two threads (a signal, the destructor)
        if (m_thread.joinable())
            m_thread.join();
    }
    std::lock_guard lock(m_mutex);
    for (auto& t : m_queue)
        t->finish(503, { { "detail", "the server is shutting down" } });
    m_queue.clear();
}

bool ServerWorker::enqueue(std::shared_ptr<Task> task)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping || static_cast<int>(m_queue.size()) >= m_options.maxQueue)
            return false;
        m_queue.push_back(std::move(task));
    }
    m_cv.notify_all();
    return true;
}

void ServerWorker::abandon(const std::shared_ptr<Task>& task)
{
    std::lock_guard lock(m_mutex);
    const auto it = std::find(m_queue.begin(), m_queue.end(), task);
    if (it != m_queue.end()) {
        m_queue.erase(it);
        task->finish(499, nullptr);
    } else {
        task->stop.requestStop();
    }
}

void ServerWorker::interrupt(bool skip)
{
    std::lock_guard lock(m_mutex);
    if (!m_current || m_current->kind == "load" || m_current->kind == "options")
        return;
    m_skip = skip;
    {
        std::lock_guard p(m_progress->mutex);
        (skip ? m_progress->skipped : m_progress->interrupted) = true;
    }
    m_current->stop.requestStop();
}

void ServerWorker::loop()
{
    for (;;) {
        std::shared_ptr<Task> t;
        {
            std::unique_lock lock(m_mutex);
            m_cv.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
            if (m_stopping)
                return;
            t = m_queue.front();
            m_queue.pop_front();
            m_current = t;
            m_skip = false;
        }
        try {
            t->body(*t);
        } catch (const InvalidRequest& e) {
            t->finish(422, problemsDetail(e.problems()));
        } catch (const Error& e) {
            const bool client = e.kind() == ErrorKind::InvalidInput || e.kind() == ErrorKind::Mismatch
                || e.kind() == ErrorKind::Unsupported;
            if (e.kind() == ErrorKind::Cancelled)
                t->finish(499, nullptr);
            else if (client)
                t->finish(422, problemsDetail({ { { "body" }, e.what() } }));
            else
                t->finish(500, errorBody(errorKindName(e.kind()), e.what()));
            if (t->kind == "load")
                std::fprintf(stderr, "serve: %s\n", e.what());
        } catch (const std::exception& e) {
            t->finish(500, errorBody("Internal", e.what()));
        }
        {
            std::lock_guard p(m_progress->mutex);
            m_progress->active = false;
            m_progress->jobCount = 0;
            m_progress->textinfo.clear();
        }
        std::lock_guard lock(m_mutex);
        m_current.reset();
    }
}

void ServerWorker::ensureModel(const std::string& search, const char* field)
{
    std::string path;
    if (search.empty()) {
        std::lock_guard lock(m_mutex);
        path = m_currentModel;
    } else {
        const auto e = m_catalog.findCheckpoint(search);
        if (!e)
            throw InvalidRequest({ { { "body", "override_settings", field },
                "model '" + search + "' not found (GET /sdapi/v1/sd-models lists them)" } });
        path = e->path.string();
    }
    if (path.empty())
        throw InvalidRequest({ { { "body", "override_settings", field },
            "this server has no model: start it with --models DIR or --model FILE" } });
    if (path == loadedPath() && m_engine.hasModel())
        return;
    {
        std::lock_guard p(m_progress->mutex);
        m_progress->textinfo = "Loading " + path;
    }
    std::fprintf(stderr, "serve: loading %s\n", path.c_str());
    loadModel(path);
}

std::string ServerWorker::loadedPath() const
{
    std::lock_guard lock(m_mutex);
    return m_loadedPath;
}

pipeline::ModelSummary ServerWorker::loadModel(const std::string& path)
{
    {
        std::lock_guard lock(m_mutex);
        m_loadedPath.clear();
    }
    const auto summary = m_engine.load(path, m_options.load);
    for (const auto& w : summary.warnings)
        std::fprintf(stderr, "serve: %s\n", w.c_str());
    {
        std::lock_guard lock(m_mutex);
        m_loadedPath = path;
    }
    if (!summary.sha256.empty())
        m_catalog.setHash(path, summary.sha256);
    return summary;
}

void ServerWorker::resolveFiles(ApiJob& job)
{
    auto& r = job.request;
    std::vector<FieldProblem> problems;
    for (size_t i = 0; i < r.controls.size(); ++i) {
        const auto e = m_catalog.findControlNet(job.controlModels[i]);
        if (!e)
            problems.push_back({ { "body", "alwayson_scripts", "controlnet", "args", std::to_string(i), "model" },
                "ControlNet '" + job.controlModels[i] + "' not found (GET /controlnet/model_list lists them)" });
        else
            r.controls[i].model = e->path.string();
    }
    if (!r.refinerModel.empty()) {
        const auto e = m_catalog.findCheckpoint(r.refinerModel);
        if (!e)
            problems.push_back({ { "body", "refiner_checkpoint" },
                "model '" + r.refinerModel + "' not found (GET /sdapi/v1/sd-models)" });
        else
            r.refinerModel = e->path.string();
    }
    if (job.vae != "" && job.vae != "Automatic" && job.vae != "None")
        problems.push_back({ { "body", "override_settings", "sd_vae" },
            "only \"Automatic\" (the model's own VAE) is offered by this server" });
    if (!problems.empty())
        throw InvalidRequest(std::move(problems));
    refuseLoraPaths(job);
}

std::shared_ptr<Task> ServerWorker::generationTask(ApiJob job)
{
    const char* kind = job.request.mode == pipeline::JobMode::Img2Img || job.request.mode == pipeline::JobMode::Inpaint
        ? "img2img"
        : "txt2img";
    auto shared = std::make_shared<ApiJob>(std::move(job));
    return std::make_shared<Task>(kind, [this, shared](Task& t) { runGeneration(t, *shared); });
}

void ServerWorker::runGeneration(Task& task, ApiJob& job)
{
    ensureModel(job.checkpoint, "sd_model_checkpoint");
    resolveFiles(job);
    auto& r = job.request;
    if (const auto problems = m_engine.check(r); !problems.empty())
        throw InvalidRequest(fieldProblems(problems));
    const std::string timestamp = beginProgress("scripts_" + task.kind, job.iterations, r.steps);
    JobOutcome out;
    const int64_t firstSeed = r.seed;
    for (int k = 0; k < job.iterations; ++k) {
        {
            std::lock_guard p(m_progress->mutex);
            m_progress->jobNo = k;
            m_progress->step = 0;
        }
        r.seed = firstSeed + static_cast<int64_t>(k) * r.batch;
        try {
            auto result = m_engine.run(r, progressReporter(), task.stop);
            for (size_t i = 0; i < result.images.size(); ++i) {
                out.images.push_back(std::move(result.images[i]));
                out.seeds.push_back(i < result.seeds.size() ? result.seeds[i] : r.seed + static_cast<int64_t>(i));
                out.metadata.push_back(
                    i < result.metadata.size() ? result.metadata[i] : std::map<std::string, std::string> {});
            }
            out.warnings.insert(out.warnings.end(), result.warnings.begin(), result.warnings.end());
        } catch (const Error& e) {
            if (e.kind() != ErrorKind::Cancelled)
                throw;
            bool skip;
            {
                std::lock_guard lock(m_mutex);
                skip = m_skip;
                m_skip = false;
            }
            if (!skip) {
                out.interrupted = true;
                break;
            }
            task.stop.reset(); // /skip: on with the next batch
        }
    }
    r.seed = firstSeed;
    const auto& s = m_engine.summary();
    const ModelIdentity model { s.name, s.sha256.substr(0, std::min<size_t>(10, s.sha256.size())), s.inpainting };
    task.finish(200, generationResponse(job, out, model, timestamp));
}

std::string ServerWorker::beginProgress(const std::string& job, int jobCount, int steps)
{
    std::lock_guard p(m_progress->mutex);
    auto& s = *m_progress;
    s.active = true;
    s.job = job;
    s.timestamp = jobTimestamp();
    s.textinfo.clear();
    s.jobCount = jobCount;
    s.jobNo = s.step = 0;
    s.steps = steps;
    s.interrupted = s.skipped = false;
    s.start = Clock::now();
    s.preview = {};
    return s.timestamp;
}

pipeline::StepCallback ServerWorker::progressReporter()
{
    return [this](const pipeline::StepInfo& s) {
        std::lock_guard p(m_progress->mutex);
        m_progress->step = s.step;
        m_progress->steps = s.total;
        if (s.preview) {
            m_progress->preview = *s.preview;
            ++m_progress->previewSerial;
        }
    };
}

std::shared_ptr<Task> ServerWorker::extrasTask(ExtrasJob job)
{
    return std::make_shared<Task>("extras", [this, job](Task& t) { runExtras(t, job); });
}

void ServerWorker::runExtras(Task& task, const ExtrasJob& job)
{
    int w = static_cast<int>(job.image.width * job.resize), h = static_cast<int>(job.image.height * job.resize);
    if (job.resizeMode == 1) {
        w = job.width;
        h = job.height;
    }
    if (static_cast<int64_t>(w) * h > m_options.maxPixels)
        throw InvalidRequest({ { { "body", "upscaling_resize" },
            "the result would be " + std::to_string(w) + "x" + std::to_string(h) + ", over this server's limit" } });
    Image up = job.image;
    std::string modelPath;
    for (const auto& [name, path] : upscalers())
        if (name == job.upscaler)
            modelPath = path;
    if (job.upscaler == "None") { // A1111: upscaler "None" leaves the picture as it is
        task.finish(200, { { "html_info", "<p></p>" }, { "image", encodeApiImage(up) } });
        return;
    }
    const bool known = job.upscaler == "Lanczos" || job.upscaler == "Nearest" || !modelPath.empty();
    if (!known)
        throw InvalidRequest({ { { "body", "upscaler_1" },
            "upscaler '" + job.upscaler + "' not found (GET /sdapi/v1/upscalers lists them)" } });
    if (!modelPath.empty() && (w > up.width || h > up.height)) {
        beginProgress("extras", 1, 0);
        if (loadedPath() != modelPath || !m_engine.hasModel())
            loadModel(modelPath);
        pipeline::GenerationRequest r;
        r.mode = pipeline::JobMode::Upscale;
        r.initImage = up;
        r.sampler = "DDIM";
        r.seed = 0;
        up = m_engine.run(r, progressReporter(), task.stop).images.at(0);
    }
    if (job.resizeMode == 1 && job.crop) {
        up = resizeForApi(up, 1, w, h); // cover the target, then cut its middle
    } else if (up.width != w || up.height != h) {
        if (job.upscaler == "Nearest") {
            Image n(w, h, up.channels);
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x)
                    std::copy_n(up.at(x * up.width / w, y * up.height / h), up.channels, n.at(x, y));
            up = n;
        } else {
            up = pipeline::resizeLanczos(up, w, h);
        }
    }
    char by[64];
    std::snprintf(by, sizeof by, "%g", job.resize);
    const std::string info = job.resizeMode == 1
        ? "Postprocess upscale to: " + std::to_string(w) + "x" + std::to_string(h)
        : std::string("Postprocess upscale by: ") + by;
    task.finish(200,
        { { "html_info", "<p>" + info + ", Postprocess upscaler: " + job.upscaler + "</p>" },
            { "image", encodeApiImage(up) } });
}

std::shared_ptr<Task> ServerWorker::optionsTask(json body)
{
    {
        std::vector<FieldProblem> unknown;
        std::lock_guard lock(m_mutex);
        for (const auto& [k, v] : body.items())
            if (k != "sd_model_checkpoint" && k != "sd_checkpoint_hash" && !m_settings.contains(k))
                unknown.push_back({ { "body", k }, "unknown option (GET /sdapi/v1/options lists them)" });
        if (!unknown.empty())
            throw InvalidRequest(std::move(unknown));
    }
    return std::make_shared<Task>("options", [this, body](Task& t) {
        if (body.contains("sd_model_checkpoint") && body["sd_model_checkpoint"].is_string()) {
            const std::string name = body["sd_model_checkpoint"].get<std::string>();
            const auto e = m_catalog.findCheckpoint(name);
            if (!e)
                throw InvalidRequest({ { { "body", "sd_model_checkpoint" },
                    "model '" + name + "' not found (GET /sdapi/v1/sd-models lists them)" } });
            {
                std::lock_guard lock(m_mutex);
                m_currentModel = e->path.string();
            }
            ensureModel({}, "sd_model_checkpoint");
        }
        std::lock_guard lock(m_mutex);
        for (const auto& [k, v] : body.items())
            if (k != "sd_model_checkpoint")
                m_settings[k] = v;
        t.finish(200, nullptr);
    });
}

json ServerWorker::options() const
{
    std::string current;
    json o;
    {
        std::lock_guard lock(m_mutex);
        current = m_currentModel;
        o = m_settings;
    }
    std::string title;
    std::string sha;
    for (const auto& e : m_catalog.checkpoints())
        if (e.path.string() == current) {
            title = e.title();
            sha = e.sha256;
        }
    o["sd_model_checkpoint"] = title.empty() ? json(nullptr) : json(title);
    o["sd_checkpoint_hash"] = sha.empty() ? json(nullptr) : json(sha);
    return o;
}

json ServerWorker::withOptions(json body) const
{
    if (!body.is_object())
        return body;
    json settings;
    {
        std::lock_guard lock(m_mutex);
        settings = m_settings;
    }
    json overrides = body.contains("override_settings") && body["override_settings"].is_object()
        ? body["override_settings"]
        : json::object();
    for (const char* k : { "CLIP_stop_at_last_layers", "eta_ddim", "eta_ancestral" })
        if (!overrides.contains(k) && settings.contains(k))
            overrides[k] = settings[k];
    if (!body.contains("override_settings") || body["override_settings"].is_object()
        || body["override_settings"].is_null())
        body["override_settings"] = overrides;
    return body;
}

json ServerWorker::progress(bool skipImage)
{
    auto& s = *m_progress;
    std::lock_guard p(s.mutex);
    const json state = { { "skipped", s.skipped }, { "interrupted", s.interrupted }, { "stopping_generation", false },
        { "job", s.active ? s.job : std::string() }, { "job_count", s.active ? s.jobCount : 0 },
        { "job_timestamp", s.timestamp }, { "job_no", s.active ? s.jobNo : 0 }, { "sampling_step", s.step },
        { "sampling_steps", s.steps } };
    const json textinfo = s.textinfo.empty() ? json(nullptr) : json(s.textinfo);
    if (!s.active || s.jobCount == 0)
        return { { "progress", 0.0 }, { "eta_relative", 0.0 }, { "state", state }, { "current_image", nullptr },
            { "textinfo", textinfo } };
    // modules/api/api.py progressapi
    double progress = 0.01 + static_cast<double>(s.jobNo) / s.jobCount;
    if (s.steps > 0)
        progress += 1.0 / s.jobCount * s.step / s.steps;
    const double elapsed = std::chrono::duration<double>(Clock::now() - s.start).count();
    const double eta = elapsed / progress - elapsed;
    progress = std::min(progress, 1.0);
    json image = nullptr;
    if (!skipImage && !s.preview.empty()) {
        if (s.encodedSerial != s.previewSerial) {
            s.encoded = encodeApiImage(s.preview);
            s.encodedSerial = s.previewSerial;
        }
        image = s.encoded;
    }
    return { { "progress", progress }, { "eta_relative", eta }, { "state", state }, { "current_image", image },
        { "textinfo", textinfo } };
}

std::vector<std::pair<std::string, std::string>> ServerWorker::upscalers() const
{
    std::vector<std::pair<std::string, std::string>> out { { "None", "" }, { "Lanczos", "" }, { "Nearest", "" } };
    if (m_options.bundled)
        out.push_back({ "LDM", "bundled:default-sr" });
    return out;
}

std::vector<std::filesystem::path> ServerWorker::loraFolders() const
{
    auto all = m_options.loraDirs;
    std::string current;
    {
        std::lock_guard lock(m_mutex);
        current = m_loadedPath.empty() ? m_currentModel : m_loadedPath;
    }
    if (current.rfind("bundled:", 0) != 0 && !current.empty())
        for (const auto& f : pipeline::defaultLoraFolders(current))
            all.push_back(f);
    return all;
}

} // namespace ls::server

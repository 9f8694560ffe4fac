#include "pipeline/Engine.h"

#include "pipeline/Generator.h"
#include "pipeline/LoraFiles.h"
#include "pipeline/ModelLoading.h"
#include "util/Error.h"
#include "util/Threads.h"

#include <ATen/Context.h>

namespace ls::pipeline {

struct Engine::Impl {
    LoadedModel model;
    ModelSummary summary;
    std::unique_ptr<Generator> generator = std::make_unique<Generator>(nullptr, nullptr);
    std::vector<std::filesystem::path> loraFolders, embeddingFolders;
    std::filesystem::path modelFile;
    std::filesystem::path previewDecoder;

    void applyLoraFolders()
    {
        auto all = loraFolders;
        for (const auto& f : defaultLoraFolders(modelFile))
            all.push_back(f);
        generator->setLoraFolders(all);
        auto emb = embeddingFolders;
        for (const auto& f : defaultEmbeddingFolders(modelFile))
            emb.push_back(f);
        generator->setEmbeddingFolders(emb);
        if (!previewDecoder.empty())
            generator->setPreviewDecoder(previewDecoder);
    }
};

Engine::Engine()
    : d(std::make_unique<Impl>())
{
}

Engine::~Engine() = default;

ModelSummary Engine::load(const std::filesystem::path& path, const EngineLoadOptions& o,
    const std::function<void(const std::string&)>& onStatus)
{
    configureThreads(o.threads);
    ModelLoadOptions lo;
    lo.configFile = o.configFile;
    lo.vocabulary = o.vocabulary;
    lo.vae = o.vae;
    lo.vaeFallback = o.vaeFallback;
    lo.prediction = o.prediction;
    lo.classesFile = o.classesFile;
    if (o.dtype != "fp32" && o.dtype != "fp16" && o.dtype != "bf16")
        fail(ErrorKind::InvalidInput, "dtype: '" + o.dtype + "' is not fp32, fp16 or bf16");
    lo.dtype = o.dtype == "fp16" ? at::kHalf : o.dtype == "bf16" ? at::kBFloat16 : at::kFloat;
    lo.hash = o.hash;
    lo.onStatus = onStatus;
    lo.onProgress = o.onProgress;
    const std::string ps = path.string();
    const std::filesystem::path resolved = ps.rfind("bundled:", 0) == 0 ? findBundledModel(ps.substr(8)) : path;
    if (o.device == Device::Cuda && o.deviceRequired && !at::hasCUDA())
        fail(ErrorKind::Unsupported, "device cuda: this build has no CUDA (or no GPU is visible)");
    LoadedModel m = loadModel(resolved, lo);
    if (o.device == Device::Cuda) {
        if (at::hasCUDA()) {
            if (onStatus)
                onStatus("moving the model to the GPU");
            m.model->moveTo(at::Device(at::kCUDA));
        } else {
            m.warnings.push_back(
                "CUDA was asked for, but this build has no CUDA or no GPU is visible: generating on the CPU");
        }
    }
    d->model = m;
    d->generator = std::make_unique<Generator>(m.model, m.tokenizer, m.info, m.layoutClasses);
    d->modelFile = resolved;
    d->applyLoraFolders();
    const auto f = m.model->config.family;
    const bool upscaler = models::isUpscaler(f);
    std::vector<JobMode> jobs;
    if (upscaler)
        jobs = { JobMode::Upscale };
    else if (f == models::Family::Layout2Img)
        jobs = { JobMode::Layout };
    else
        jobs = { JobMode::Txt2Img, JobMode::Img2Img, JobMode::Inpaint, JobMode::Layout };
    d->summary = { resolved.string(), models::familyName(f), m.info.name, m.info.sha256,
        m.model->config.unet.inChannels == 9, nativeResolution(m.model->config), upscaler, jobs, m.warnings };
    return d->summary;
}

void Engine::unload()
{
    d->model = {};
    d->summary = {};
    d->generator = std::make_unique<Generator>(nullptr, nullptr);
    d->modelFile.clear();
    d->applyLoraFolders();
}

void Engine::setLoraFolders(std::vector<std::filesystem::path> folders)
{
    d->loraFolders = std::move(folders);
    d->applyLoraFolders();
}

std::vector<std::filesystem::path> Engine::loraFolders() const { return d->generator->loraFolders(); }

void Engine::setEmbeddingFolders(std::vector<std::filesystem::path> folders)
{
    d->embeddingFolders = std::move(folders);
    d->applyLoraFolders();
}

void Engine::setPreviewDecoder(std::filesystem::path taesdDecoder)
{
    d->previewDecoder = std::move(taesdDecoder);
    d->applyLoraFolders();
}

bool Engine::cudaAvailable() { return at::hasCUDA(); }

std::string bundledModelPath(JobMode mode)
{
    return mode == JobMode::Upscale ? "bundled:default-sr" : "bundled:default";
}

bool Engine::hasModel() const { return d->model.model != nullptr; }
const ModelSummary& Engine::summary() const { return d->summary; }

GenerationResult Engine::run(const GenerationRequest& r, const StepCallback& onStep, const StopToken& stop)
{
    return d->generator->run(r, onStep, stop);
}

std::vector<Problem> Engine::check(const GenerationRequest& r) const
{
    auto p = r.validate();
    auto more = d->generator->check(r);
    p.insert(p.end(), more.begin(), more.end());
    return p;
}

} // namespace ls::pipeline

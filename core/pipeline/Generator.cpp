#include "pipeline/Generator.h"

#include "pipeline/jobs/Jobs.h"

#include "pipeline/LoraFiles.h"
#include "text/WorldTokenizer.h"
#include "util/Error.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <random>

namespace ls::pipeline {

using models::Family;

using detail::Clock;

Generator::Generator(std::shared_ptr<models::LatentModel> model, std::shared_ptr<const text::ClipTokenizer> tokenizer,
    ModelInfo info, std::vector<std::string> layoutClasses)
    : d(std::make_unique<detail::GeneratorState>())
    , m_model(model)
{
    d->model = std::move(model);
    d->tokenizer = std::move(tokenizer);
    d->info = std::move(info);
    d->classes = std::move(layoutClasses);
    d->loraFolders = defaultLoraFolders(d->model ? std::filesystem::path(d->model->path) : std::filesystem::path());
    d->embeddingFolders
        = defaultEmbeddingFolders(d->model ? std::filesystem::path(d->model->path) : std::filesystem::path());
    if (d->model) {
        const auto f = d->model->config.family;
        if (f == Family::SD1 || f == Family::SD1Inpaint || f == Family::SD2 || f == Family::SD2Inpaint)
            d->taesdFile = findPreviewDecoder(d->model->path);
        else if (models::isSdxl(f))
            d->taesdFile = findPreviewDecoder(d->model->path, true);
    }
}

void Generator::setPreviewDecoder(const std::filesystem::path& taesdDecoder)
{
    d->taesdFile = taesdDecoder;
    d->taesd.reset();
    d->taesdError.clear();
    d->taesdTried = false;
}

std::filesystem::path Generator::previewDecoder() const { return d->taesdFile; }

void Generator::setEmbeddingFolders(std::vector<std::filesystem::path> folders)
{
    d->embeddingFolders = std::move(folders);
}
const std::vector<std::filesystem::path>& Generator::embeddingFolders() const { return d->embeddingFolders; }

void Generator::setLoraFolders(std::vector<std::filesystem::path> folders) { d->loraFolders = std::move(folders); }
const std::vector<std::filesystem::path>& Generator::loraFolders() const { return d->loraFolders; }

Generator::~Generator()
{
    try {
        if (d->model) // the model may outlive this generator: give it back without this generator's LoRAs
            d->loraSet.restore(*d->model);
    } catch (...) {
    }
}

uint64_t availableMemory()
{
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit)
        if (key == "MemAvailable:")
            return kb * 1024;
    return 0;
}

uint64_t Generator::estimateMemory(const GenerationRequest& r) const
{
    if (!d->model || r.mode == JobMode::Upscale)
        return 0;
    const auto& cfg = d->model->config;
    const double s = static_cast<double>(c10::elementSize(d->model->computeType()));
    const int64_t f = cfg.firstStage.downFactor();
    const double n0 = std::ceil(r.width / double(f)) * std::ceil(r.height / double(f)); // latent positions
    const double batch = std::max(1, r.batch) * (r.cfgScale != 1.0 ? 2.0 : 1.0);
    const auto& u = cfg.unet;
    // Skip connections kept for the decoder half, level by level, plus the working tensors of the widest level
    // (resblock temporaries, q/k/v, the GEGLU feed-forward's 8x hidden width).
    double skips = 0;
    for (size_t l = 0; l < u.channelMult.size(); ++l) {
        const double nl = n0 / std::pow(4.0, static_cast<double>(l));
        const double blocks
            = static_cast<double>(l < u.numResBlocks.size() ? u.numResBlocks[l] : u.numResBlocks.back()) + 1;
        skips += blocks * static_cast<double>(u.modelChannels * u.channelMult[l]) * nl;
    }
    const double work = 16.0 * static_cast<double>(u.modelChannels * u.channelMult.front()) * n0;
    // Attention scores are computed in chunks of at most 64M elements.
    const double scores = std::min(batch * 8.0 * n0 * n0, 64.0 * 1024 * 1024);
    const double unet = batch * (skips + work) * s + scores * s;
    // The decoder runs one image at a time at full resolution: about four tensors of its widest level.
    const auto& fs = cfg.firstStage;
    const double decoder = 4.0 * static_cast<double>(fs.ch * fs.chMult.front()) * double(r.width) * double(r.height) * s
        + std::min(n0 * n0, 64.0 * 1024 * 1024) * s;
    return static_cast<uint64_t>(
        std::max(unet, decoder) + batch * 4.0 * n0 * 4.0 * 8.0); // + latents, noise, sampler history
}

std::vector<Problem> Generator::check(const GenerationRequest& r) const
{
    std::vector<Problem> p;
    if (!d->model) {
        if (r.mode != JobMode::Upscale)
            p.push_back({ "model", std::string(jobModeName(r.mode)) + " needs a model" });
        return p;
    }
    const Family f = d->model->config.family;
    const std::string fam = models::familyName(f);
    const bool upscaler = d->isUpscaler();
    if (upscaler && r.mode != JobMode::Upscale)
        p.push_back(
            { "model", "a " + fam + " model only upscales; choose a text-to-image model for " + jobModeName(r.mode) });
    if (!upscaler && r.mode == JobMode::Upscale && f == Family::Layout2Img)
        p.push_back({ "model",
            "the layout2img model cannot upscale; choose an upscaler model (LDM-SR 4x, SD x4), a text-to-image model "
            "(tiled image-to-image) or none for Lanczos" });
    if (upscaler && !r.controls.empty())
        p.push_back({ "control", "an upscaler model takes no ControlNet (a text-to-image model upscales with one)" });
    if (r.fastDecode && r.mode == JobMode::Upscale)
        p.push_back({ "fast_decode",
            "TAESD decodes a text-to-image model's latents, not an upscaler's: turn it off "
            "for upscaling" });
    else if (r.fastDecode && d->taesdFile.empty())
        p.push_back({ "fast_decode",
            "no TAESD decoder for this model: put taesd_decoder.safetensors (taesdxl_decoder for SDXL) beside it or "
            "in its vae_approx/ folder, or choose one (--taesd, Settings > Preview decoder)" });
    if (f == Family::Layout2Img && r.mode != JobMode::Layout)
        p.push_back({ "model", "the layout2img model only does layout-to-image (boxes with class labels)" });
    if ((d->model->clip || d->model->openclip) && !d->tokenizer)
        p.push_back({ "vocabulary", "this model needs the CLIP vocabulary (bpe_simple_vocab_16e6.txt.gz)" });
    {
        std::vector<text::LoraTag> tags;
        GenerationRequest stripped = r;
        try {
            detail::stripLoraTags(stripped, &tags);
        } catch (const Error&) { // a malformed tag: validate() names it
        }
        for (const auto& t : tags)
            if (!findLoraFile(t.name, d->loraFolders))
                p.push_back({ "lora", "'" + t.name + "' is not a LoRA file in " + d->describeLoraFolders() });
    }
    if (f == Family::Layout2Img) {
        for (size_t i = 0; i < r.boxes.size(); ++i) {
            const auto& b = r.boxes[i];
            const std::string name = b.label.empty() ? b.prompt : b.label;
            if (std::find(d->classes.begin(), d->classes.end(), name) == d->classes.end())
                p.push_back({ "boxes[" + std::to_string(i) + "]",
                    "'" + name + "' is not one of the layout model's " + std::to_string(d->classes.size())
                        + " classes" });
        }
    }
    if (f == Family::Synthetic && r.mode == JobMode::Layout) {
        static const text::WorldTokenizer tok;
        for (size_t i = 0; i < r.boxes.size(); ++i) {
            const auto& b = r.boxes[i];
            if (tok.labelToken(b.label.empty() ? b.prompt : b.label) < 0)
                p.push_back({ "boxes[" + std::to_string(i) + "]",
                    "the bundled model knows colours red, green, blue, yellow and shapes circle, square, triangle; '"
                        + (b.label.empty() ? b.prompt : b.label) + "' names no colour and shape" });
        }
    }
    if (r.mode == JobMode::Upscale && (f == Family::LdmSR || f == Family::SyntheticSR) && r.upscaleFactor != 4)
        p.push_back({ "scale", "the LDM-SR model upscales by 4" });
    // Refuse, with an estimate, what cannot fit, before anything is allocated.
    const uint64_t need = estimateMemory(r);
    const uint64_t budget = m_budget > 0 ? m_budget : availableMemory();
    if (need > 0 && budget > 0 && need > budget) {
        char buf[256];
        std::snprintf(buf, sizeof buf,
            "%dx%d with batch %d needs about %.1f GB of working memory, %.1f GB is available; choose a smaller size or "
            "batch",
            r.width, r.height, std::max(1, r.batch), need / 1e9, budget / 1e9);
        p.push_back({ "size",
            std::string(buf) + (r.mode == JobMode::Txt2Img ? ", or generate small and upscale with tiles" : "") });
    }
    return p;
}

GenerationResult Generator::run(const GenerationRequest& r, const StepCallback& onStep, const StopToken& stop)
{
    // Running out of memory is explained, and leaves the engine usable for the next request.
    const auto explain = [&](const std::string& what) -> std::string {
        return "out of memory while generating " + std::to_string(r.width) + "x" + std::to_string(r.height) + " (batch "
            + std::to_string(r.batch) + "): choose a smaller size or batch, or upscale with tiles (" + what + ")";
    };
    try {
        return runChecked(r, onStep, stop);
    } catch (const std::bad_alloc&) {
        fail(ErrorKind::OutOfMemory, explain("allocation failed"));
    } catch (const c10::Error& e) {
        const std::string msg = e.what_without_backtrace();
        if (msg.find("can't allocate memory") != std::string::npos || msg.find("out of memory") != std::string::npos)
            fail(ErrorKind::OutOfMemory, explain(msg.substr(0, msg.find('\n'))));
        throw;
    }
}

GenerationResult Generator::runChecked(
    const GenerationRequest& r0, const StepCallback& onStep, const StopToken& stop, const GenerationRequest* recordAs)
{
    torch::NoGradGuard noGrad;
    // 1. Every problem of the request at once, before any work
    auto problems = r0.validate();
    auto more = check(r0);
    problems.insert(problems.end(), more.begin(), more.end());
    if (!problems.empty()) {
        std::string msg = "the request has " + std::to_string(problems.size()) + " problem(s):";
        for (const auto& p : problems)
            msg += "\n  " + p.field + ": " + p.message;
        fail(ErrorKind::InvalidInput, msg);
    }
    // 2. A hires pass is two jobs (jobs/Hires.cpp)
    if (r0.mode == JobMode::Txt2Img && r0.hiresEnabled())
        return runHires(r0, onStep, stop);

    // 3. Outpainting's larger canvas, and the seed
    GenerationRequest r = r0;
    detail::applyOutpaint(r);
    if (r.seed < 0)
        r.seed = static_cast<int64_t>(std::random_device {}() & 0xFFFFFFFFu);
    const auto t0 = Clock::now();
    GenerationResult result;

    // 4. Adapters. LoRAs: the tags leave the prompts the model sees (the metadata keeps the prompts as written); every
    // request sets the model's LoRAs anew, so one request's LoRA never reaches the next. Embeddings: the prompts' words
    // that name one become its vectors.
    std::vector<text::LoraTag> loraTags;
    detail::stripLoraTags(r, &loraTags);
    r.loras.clear();
    std::vector<models::LoraSet::Use> loraUses;
    if (d->model)
        loraUses = d->applyLoras(loraTags, result.warnings);
    for (const auto& u : loraUses)
        result.loras.push_back({ u.lora->name, u.lora->path, u.lora->hash, u.textWeight, u.unetWeight,
            u.lora->unetModules, u.lora->textModules });
    d->prepareEmbeddings(r);
    if (d->model && d->model->config.family == Family::Synthetic)
        if (auto w = d->unknownWordsWarning(r); !w.empty())
            result.warnings.push_back(w);

    // 5. The job, each picture with its metadata
    detail::ResultWriter out(*d, result, r0, r, recordAs, loraUses, d->info.name.empty() ? r.modelName : d->info.name);
    if (r.mode != JobMode::Upscale)
        detail::runDiffusion(*d, r, onStep, stop, t0, out);
    else if (d->upscaleMethod() == UpscaleMethod::TiledImg2Img)
        detail::runTiledUpscale(*d, r, onStep, stop, t0, out);
    else // Lanczos, a super-resolution model or the SD x4 upscaler
        detail::runUpscale(*d, r, onStep, stop, t0, out);
    if (!d->taesdError.empty()) {
        result.warnings.push_back("TAESD previews off (the projection is shown): " + d->taesdError);
        d->taesdError.clear(); // said once
    }
    result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return result;
}

} // namespace ls::pipeline

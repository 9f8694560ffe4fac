#include "pipeline/Generator.h"

#include "pipeline/Conditioning.h"
#include "pipeline/ImageOps.h"
#include "pipeline/Infotext.h"
#include "pipeline/LoraFiles.h"
#include "pipeline/Preview.h"
#include "pipeline/Sampling.h"
#include "models/Lora.h"
#include "models/TextualInversion.h"
#include "text/WorldLayout.h"
#include "util/Error.h"
#include "util/Sha256.h"
#include "util/Threads.h"

#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/grad_mode.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <random>

namespace ls::pipeline {

using models::Family;
using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

int roundUp(int v, int m) { return (v + m - 1) / m * m; }

// A name inside A1111's "Name: hash, Name: hash" lists, which drop ':' and ',' from names.
std::string withoutListMarks(std::string name)
{
    std::erase_if(name, [](char c) { return c == ':' || c == ','; });
    return name;
}

// Takes the <lora:...> tags out of every prompt of the request (appending them to *tags after request.loras).
void stripLoraTags(GenerationRequest& r, std::vector<text::LoraTag>* tags)
{
    tags->insert(tags->end(), r.loras.begin(), r.loras.end());
    r.prompt = text::extractLoraTags(r.prompt, tags);
    r.negativePrompt = text::extractLoraTags(r.negativePrompt, tags);
    for (auto& b : r.boxes)
        b.prompt = text::extractLoraTags(b.prompt, tags);
}

// What was read from files, kept while the file stays the same (by path, modification time and size).
template <class T>
class FileCache {
public:
    template <class Read>
    const T& get(const std::filesystem::path& file, Read&& read)
    {
        const std::string key = std::filesystem::absolute(file).lexically_normal().string();
        std::error_code ec;
        const auto mtime = std::filesystem::last_write_time(file, ec);
        const auto size = std::filesystem::file_size(file, ec);
        auto it = m_entries.find(key);
        if (it == m_entries.end() || it->second.mtime != mtime || it->second.size != size)
            it = m_entries.insert_or_assign(key, Entry { mtime, size, read() }).first;
        return it->second.value;
    }

private:
    struct Entry {
        std::filesystem::file_time_type mtime;
        uintmax_t size = 0;
        T value;
    };
    std::map<std::string, Entry> m_entries;
};

// One seeded CPU generator per batch image: the same seed gives the same noise on any device.
struct NoiseSource {
    std::vector<at::Generator> gens;
    NoiseSource(int64_t seed, int n)
    {
        for (int i = 0; i < n; ++i)
            gens.push_back(at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed + i)));
    }
    at::Tensor draw(at::IntArrayRef perImage, const at::TensorOptions& o)
    {
        std::vector<at::Tensor> parts;
        for (auto& g : gens)
            parts.push_back(at::randn(perImage, g, at::TensorOptions().dtype(at::kFloat)));
        return at::stack(parts).to(o);
    }
};

// Layout channels of the condition and of the unconditional copy, [1, K, h, w] each (models with layout_channels).
struct LayoutChannels {
    at::Tensor cond, uncond;
};

} // namespace

struct Generator::Impl {
    std::shared_ptr<models::LatentModel> model;
    std::shared_ptr<const text::ClipTokenizer> tokenizer;
    ModelInfo info;
    std::vector<std::string> classes;
    std::unique_ptr<LatentPreviewer> previewer;
    std::vector<std::filesystem::path> loraFolders;
    FileCache<std::shared_ptr<const models::Lora>> loraCache;
    models::LoraSet loraSet;

    // Reads (or takes from the cache) every LoRA the tags name and applies exactly that set to the model.
    std::vector<models::LoraSet::Use> applyLoras(const std::vector<text::LoraTag>& tags, std::vector<std::string>& warnings)
    {
        std::vector<models::LoraSet::Use> uses;
        for (const auto& t : tags) {
            const auto path = findLoraFile(t.name, loraFolders);
            if (!path)
                fail(ErrorKind::InvalidInput, "lora: '" + t.name + "' is not a LoRA file in " + describeLoraFolders());
            const auto& lora = loraCache.get(*path, [&] {
                auto l = std::make_shared<models::Lora>(models::readLora(*path, *model));
                l->name = t.name;
                return std::shared_ptr<const models::Lora>(l);
            });
            warnings.insert(warnings.end(), lora->warnings.begin(), lora->warnings.end());
            uses.push_back({ lora, t.textWeight, t.unetWeight });
        }
        loraSet.apply(*model, uses);
        return uses;
    }
    // Textual inversion: the embeddings the request's prompts name become the text encoder's extra token rows.
    std::vector<std::filesystem::path> embeddingFolders;
    struct EmbeddingFile {
        at::Tensor vectors;
        std::string hash;
    };
    FileCache<EmbeddingFile> embeddingCache;
    std::vector<text::EmbeddingToken> embeddingTokens;
    std::vector<std::pair<std::string, std::string>> embeddingsUsed; // name, hash

    void prepareEmbeddings(const GenerationRequest& r)
    {
        embeddingTokens.clear();
        embeddingsUsed.clear();
        nn::Embedding table { nullptr };
        int64_t dim = 0;
        if (model && model->clip) {
            table = model->clip->token_embedding;
            dim = model->config.clip.hiddenSize;
        } else if (model && model->openclip) {
            table = model->openclip->token_embedding;
            dim = model->config.openclip.width;
        }
        if (!table)
            return;
        table->extra = at::Tensor();
        const auto files = listEmbeddingFiles(embeddingFolders);
        if (files.empty())
            return;
        std::vector<std::string> names;
        for (const auto& f : files)
            names.push_back(f.path.stem().string());
        std::string text = r.prompt + "\n" + r.negativePrompt;
        for (const auto& b : r.boxes)
            text += "\n" + b.prompt;
        std::vector<at::Tensor> vectors;
        int64_t next = table->weight.size(0); // the first id past the vocabulary
        for (const auto& name : text::embeddingNamesIn(text, names)) {
            const auto& path = files[static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin())].path;
            const auto& e = embeddingCache.get(path, [&] { return EmbeddingFile { models::readEmbedding(path, dim), sha256File(path).substr(0, 12) }; });
            const auto& v = e.vectors;
            embeddingTokens.push_back({ name, static_cast<int>(next), static_cast<int>(v.size(0)) });
            embeddingsUsed.emplace_back(name, e.hash);
            vectors.push_back(v);
            next += v.size(0);
        }
        if (!vectors.empty())
            table->extra = at::cat(vectors);
    }

    std::string describeLoraFolders() const
    {
        std::string s;
        for (const auto& f : loraFolders)
            s += (s.empty() ? "" : ", ") + f.string();
        return s.empty() ? std::string("no LoRA folder") : s + " (or give a path)";
    }

    at::ScalarType dtype() const { return model->computeType(); }
    int pixelMultiple() const
    {
        const int f = static_cast<int>(model->config.firstStage.downFactor());
        return f * (1 << (model->config.unet.channelMult.size() - 1));
    }
    bool inpaintModel() const { return model->config.unet.inChannels == model->config.firstStage.embedDim * 2 + 1; }
    bool isUpscaler() const
    {
        const Family f = model->config.family;
        return f == Family::LdmSR || f == Family::SD2Upscaler || f == Family::SyntheticSR;
    }

    // Guided eps for a batch: contexts stacked as [uncond..., cond...] (or only cond when scale == 1). concat is appended
    // to every copy's input; layout ([1, K, h, w] for the condition and for the unconditional copy) follows it, per copy.
    sampling::EpsFn guidedEps(const StopToken& stop, at::Tensor cond, at::Tensor uncond, double scale, at::Tensor concat = {},
        at::Tensor classLabels = {}, std::function<at::Tensor(const at::Tensor&)> combineCond = nullptr, int condCount = 1,
        LayoutChannels layout = {})
    {
        const bool v = model->config.parameterization == "v";
        return [this, &stop, cond, uncond, scale, concat, classLabels, combineCond, condCount, v, layout](const at::Tensor& x, const at::Tensor& t, double acp) {
            stop.check();
            adaptThreadsToLoad(); // as many threads as the cores other programs leave free
            const int64_t b = x.size(0);
            const bool cfg = scale != 1.0 && uncond.defined();
            const int64_t copies = condCount + (cfg ? 1 : 0);
            std::vector<at::Tensor> xs(static_cast<size_t>(copies), x);
            auto xin = at::cat(xs);
            if (concat.defined())
                xin = at::cat({ xin, concat.repeat({ copies, 1, 1, 1 }) }, 1);
            if (layout.cond.defined()) {
                std::vector<at::Tensor> ls;
                if (cfg)
                    ls.push_back(layout.uncond.expand({ b, -1, -1, -1 }));
                for (int k = 0; k < condCount; ++k)
                    ls.push_back(layout.cond.expand({ b, -1, -1, -1 }));
                xin = at::cat({ xin, at::cat(ls).to(xin.options()) }, 1);
            }
            auto tin = t.repeat({ copies });
            at::Tensor ctx;
            if (cond.defined()) {
                // cond holds condCount contexts of batch 1 each: [condCount, T, D]; expand over the batch.
                std::vector<at::Tensor> cs;
                if (cfg)
                    cs.push_back(uncond.expand({ b, -1, -1 }));
                for (int k = 0; k < condCount; ++k)
                    cs.push_back(cond.narrow(0, k, 1).expand({ b, -1, -1 }));
                ctx = at::cat(cs);
            }
            at::Tensor y = classLabels.defined() ? classLabels.repeat({ copies }) : at::Tensor();
            auto out = model->denoise(xin, tin, ctx, y).to(at::kCPU, at::kFloat);
            if (v) {
                // v -> eps at x_t: eps = sqrt(acp) v + sqrt(1 - acp) x_t
                auto xr = xin.narrow(1, 0, x.size(1)).to(at::kFloat);
                out = static_cast<float>(std::sqrt(acp)) * out + static_cast<float>(std::sqrt(1 - acp)) * xr;
            }
            auto parts = out.split(b);
            at::Tensor c;
            const size_t first = cfg ? 1 : 0;
            if (combineCond) {
                std::vector<at::Tensor> conds(parts.begin() + static_cast<std::ptrdiff_t>(first), parts.end());
                c = combineCond(at::stack(conds)); // [condCount, B, C, h, w] -> [B, C, h, w]
            } else {
                c = parts[first];
            }
            if (!cfg)
                return c;
            return parts[0] + static_cast<float>(scale) * (c - parts[0]);
        };
    }

    Image decodeImage(const at::Tensor& latent, int index, int vaeTile)
    {
        return tensorToImage(model->decodeLatent(latent.narrow(0, index, 1), vaeTile).to(at::kCPU, at::kFloat));
    }

    sampling::StepFn stepReporter(const GenerationRequest& r, const StepCallback& cb, Clock::time_point t0, int tile, int tiles)
    {
        return [this, &r, cb, t0, tile, tiles](int64_t i, int64_t n, const at::Tensor& x, const at::Tensor& x0) {
            if (!cb)
                return true;
            StepInfo s;
            s.step = static_cast<int>(i + 1);
            s.total = static_cast<int>(n);
            s.tile = tile;
            s.tiles = tiles;
            s.elapsedSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
            Image preview;
            const bool last = i + 1 == n;
            if (r.decodeEvery > 0 && ((i + 1) % r.decodeEvery == 0 || last)) {
                torch::NoGradGuard ng;
                preview = decodeImage(x0, 0, r.vaeTile);
                s.fullDecode = true;
            } else if (r.previewEvery > 0 && ((i + 1) % r.previewEvery == 0 || last)) {
                if (!previewer)
                    previewer = std::make_unique<LatentPreviewer>(*model);
                preview = previewer->project(x0, 0);
            }
            s.preview = preview.empty() ? nullptr : &preview;
            cb(s);
            return true;
        };
    }
};

Generator::Generator(std::shared_ptr<models::LatentModel> model, std::shared_ptr<const text::ClipTokenizer> tokenizer, ModelInfo info,
    std::vector<std::string> layoutClasses)
    : d(std::make_unique<Impl>())
    , m_model(model)
{
    d->model = std::move(model);
    d->tokenizer = std::move(tokenizer);
    d->info = std::move(info);
    d->classes = std::move(layoutClasses);
    d->loraFolders = defaultLoraFolders(d->model ? std::filesystem::path(d->model->path) : std::filesystem::path());
    d->embeddingFolders = defaultEmbeddingFolders(d->model ? std::filesystem::path(d->model->path) : std::filesystem::path());
}

void Generator::setEmbeddingFolders(std::vector<std::filesystem::path> folders) { d->embeddingFolders = std::move(folders); }
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

GenerationResult Generator::runHires(const GenerationRequest& r0, const StepCallback& onStep, const StopToken& stop)
{
    const auto t0 = Clock::now();
    GenerationRequest base = r0;
    base.hiresScale = 1.0;
    if (base.seed < 0)
        base.seed = static_cast<int64_t>(std::random_device {}() & 0xFFFFFFFFu);
    base.hiresWidth = base.hiresHeight = 0;
    const auto [w2, h2] = r0.hiresSize();
    // AUTOMATIC1111's "Hires resize" with both sides: enlarge to cover (keeping the ratio), then cut the middle
    int coverW = w2, coverH = h2;
    if (r0.hiresWidth > 0 && r0.hiresHeight > 0) {
        if (static_cast<double>(r0.width) / r0.height < static_cast<double>(r0.hiresWidth) / r0.hiresHeight)
            coverH = r0.hiresWidth * r0.height / r0.width;
        else
            coverW = r0.hiresHeight * r0.width / r0.height;
    }
    // Progress runs over both passes: the first pass's steps (the whole batch at once), then each image's second pass.
    const int hiresSteps = r0.hiresSteps > 0 ? r0.hiresSteps : r0.steps;
    int firstTotal = r0.steps, done = 0;
    int secondTotal = std::max(1, static_cast<int>(std::lround(hiresSteps * r0.hiresStrength))); // until the pass says
    auto report = [&](const StepInfo& s, bool second) {
        if (!onStep)
            return;
        StepInfo t = s;
        if (second)
            secondTotal = s.total;
        else
            firstTotal = s.total;
        t.step = second ? firstTotal + done + s.step : s.step;
        t.total = firstTotal + secondTotal * std::max(1, r0.batch);
        onStep(t);
    };
    const GenerationResult first = runChecked(base, [&](const StepInfo& s) { report(s, false); }, stop);
    GenerationResult out;
    for (size_t i = 0; i < first.images.size(); ++i) {
        GenerationRequest hr = r0;
        hr.mode = JobMode::Img2Img;
        hr.hiresScale = 1.0;
        hr.hiresWidth = hr.hiresHeight = 0;
        hr.initImage = resizeLanczos(toRgb(first.images[i]), coverW, coverH);
        if (coverW != w2 || coverH != h2) // as A1111 trims the latent: whole latent pixels off each side
            hr.initImage = cropImage(hr.initImage, (coverW - w2) / 8 / 2 * 8, (coverH - h2) / 8 / 2 * 8, w2, h2);
        if (!r0.hiresSampler.empty())
            hr.sampler = r0.hiresSampler;
        if (!r0.hiresPrompt.empty())
            hr.prompt = r0.hiresPrompt;
        if (!r0.hiresNegativePrompt.empty())
            hr.negativePrompt = r0.hiresNegativePrompt;
        if (r0.hiresCfgScale > 0)
            hr.cfgScale = r0.hiresCfgScale;
        hr.width = w2;
        hr.height = h2;
        hr.strength = r0.hiresStrength;
        hr.steps = hiresSteps;
        hr.seed = first.seeds[i];
        hr.batch = 1;
        // The metadata records the text-to-image request with its hires settings (the seed is the image's).
        const GenerationResult second = runChecked(hr, [&](const StepInfo& s) { report(s, true); }, stop, &r0);
        done += secondTotal;
        out.images.push_back(second.images.front());
        out.seeds.push_back(first.seeds[i]);
        out.metadata.push_back(second.metadata.front());
        for (const auto& w : second.warnings) // the passes share most warnings: each once
            if (std::find(out.warnings.begin(), out.warnings.end(), w) == out.warnings.end()
                && std::find(first.warnings.begin(), first.warnings.end(), w) == first.warnings.end())
                out.warnings.push_back(w);
        if (i == 0)
            out.loras = second.loras;
    }
    out.warnings.insert(out.warnings.begin(), first.warnings.begin(), first.warnings.end());
    out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return out;
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
        const double blocks = static_cast<double>(l < u.numResBlocks.size() ? u.numResBlocks[l] : u.numResBlocks.back()) + 1;
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
    return static_cast<uint64_t>(std::max(unet, decoder) + batch * 4.0 * n0 * 4.0 * 8.0); // + latents, noise, sampler history
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
        p.push_back({ "model", "a " + fam + " model only upscales; choose a text-to-image model for " + jobModeName(r.mode) });
    if (!upscaler && r.mode == JobMode::Upscale)
        p.push_back({ "model", "a " + fam + " model cannot upscale; choose an upscaler model (LDM-SR 4x, SD x4) or none for Lanczos" });
    if (f == Family::Layout2Img && r.mode != JobMode::Layout)
        p.push_back({ "model", "the layout2img model only does layout-to-image (boxes with class labels)" });
    if ((d->model->clip || d->model->openclip) && !d->tokenizer)
        p.push_back({ "vocabulary", "this model needs the CLIP vocabulary (bpe_simple_vocab_16e6.txt.gz)" });
    {
        std::vector<text::LoraTag> tags;
        GenerationRequest stripped = r;
        try {
            stripLoraTags(stripped, &tags);
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
                p.push_back({ "boxes[" + std::to_string(i) + "]", "'" + name + "' is not one of the layout model's " + std::to_string(d->classes.size()) + " classes" });
        }
    }
    if (f == Family::Synthetic && r.mode == JobMode::Layout) {
        static const text::WorldTokenizer tok;
        for (size_t i = 0; i < r.boxes.size(); ++i) {
            const auto& b = r.boxes[i];
            if (tok.labelToken(b.label.empty() ? b.prompt : b.label) < 0)
                p.push_back({ "boxes[" + std::to_string(i) + "]", "the bundled model knows colours red, green, blue, yellow and shapes circle, square, triangle; '"
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
        std::snprintf(buf, sizeof buf, "%dx%d with batch %d needs about %.1f GB of working memory, %.1f GB is available; choose a smaller size or batch",
            r.width, r.height, std::max(1, r.batch), need / 1e9, budget / 1e9);
        p.push_back({ "size", std::string(buf) + (r.mode == JobMode::Txt2Img ? ", or generate small and upscale with tiles" : "") });
    }
    return p;
}

GenerationResult Generator::run(const GenerationRequest& r, const StepCallback& onStep, const StopToken& stop)
{
    // Running out of memory is explained, and leaves the engine usable for the next request.
    const auto explain = [&](const std::string& what) -> std::string {
        return "out of memory while generating " + std::to_string(r.width) + "x" + std::to_string(r.height) + " (batch " + std::to_string(r.batch)
            + "): choose a smaller size or batch, or upscale with tiles (" + what + ")";
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

GenerationResult Generator::runChecked(const GenerationRequest& r0, const StepCallback& onStep, const StopToken& stop,
    const GenerationRequest* recordAs)
{
    torch::NoGradGuard noGrad;
    auto problems = r0.validate();
    auto more = check(r0);
    problems.insert(problems.end(), more.begin(), more.end());
    if (!problems.empty()) {
        std::string msg = "the request has " + std::to_string(problems.size()) + " problem(s):";
        for (const auto& p : problems)
            msg += "\n  " + p.field + ": " + p.message;
        fail(ErrorKind::InvalidInput, msg);
    }
    if (r0.mode == JobMode::Txt2Img && r0.hiresEnabled())
        return runHires(r0, onStep, stop);
    GenerationRequest r = r0;
    if (r.mode == JobMode::Inpaint && (r.extendLeft || r.extendTop || r.extendRight || r.extendBottom)) {
        auto [canvas, newMask] = outpaintCanvas(r.initImage, r.extendLeft, r.extendTop, r.extendRight, r.extendBottom);
        if (!r.mask.empty()) { // the user's own mask, moved onto the canvas
            Image moved(canvas.width, canvas.height, 1, 0);
            for (int y = 0; y < r.mask.height; ++y)
                for (int x = 0; x < r.mask.width; ++x)
                    *moved.at(x + r.extendLeft, y + r.extendTop) = r.mask.at(x, y)[0];
            for (size_t i = 0; i < newMask.pixels.size(); ++i)
                newMask.pixels[i] = std::max(newMask.pixels[i], moved.pixels[i]);
        }
        r.initImage = canvas;
        r.mask = newMask;
        r.extendLeft = r.extendTop = r.extendRight = r.extendBottom = 0;
        r.strength = 1.0;
    }
    if (r.seed < 0)
        r.seed = static_cast<int64_t>(std::random_device {}() & 0xFFFFFFFFu);
    const auto t0 = Clock::now();
    GenerationResult result;
    // LoRAs: the tags leave the prompts the model sees; the metadata keeps the prompts as written. Every request sets
    // the model's LoRAs anew, so one request's LoRA never reaches the next.
    std::vector<text::LoraTag> loraTags;
    stripLoraTags(r, &loraTags);
    r.loras.clear();
    std::vector<models::LoraSet::Use> loraUses;
    if (d->model)
        loraUses = d->applyLoras(loraTags, result.warnings);
    for (const auto& u : loraUses)
        result.loras.push_back({ u.lora->name, u.lora->path, u.lora->hash, u.textWeight, u.unetWeight, u.lora->unetModules,
            u.lora->textModules });
    d->prepareEmbeddings(r);
    if (d->model && d->model->config.family == Family::Synthetic) { // say so when a prompt's words do not reach the model
        static const text::WorldTokenizer tok;
        std::vector<std::string> unknown;
        for (const auto* t : { &r.prompt, &r.negativePrompt }) {
            std::vector<std::string> u;
            tok.encode(*t, {}, &u);
            for (auto& w : u)
                if (std::find(unknown.begin(), unknown.end(), w) == unknown.end())
                    unknown.push_back(w);
        }
        if (!unknown.empty()) {
            std::string words, known;
            for (const auto& w : unknown)
                words += (words.empty() ? "'" : ", '") + w + "'";
            for (const auto& w : tok.words())
                known += (known.empty() ? "" : " ") + w;
            result.warnings.push_back("the bundled model does not know the word" + std::string(unknown.size() > 1 ? "s " : " ") + words
                + " and leaves " + (unknown.size() > 1 ? "them" : "it") + " out; it knows only: " + known
                + " (coloured shapes on a plain background, see MODEL_CARD.md)");
        }
    }
    const std::string modelName = d->info.name.empty() ? r.modelName : d->info.name;

    auto finish = [&](const Image& img, int64_t seed) {
        GenerationRequest rec = recordAs ? *recordAs : r;
        rec.seed = seed;
        rec.batch = 1;
        rec.modelName = modelName;
        if (!recordAs) { // the prompts as written, LoRA tags included
            rec.prompt = r0.prompt;
            rec.negativePrompt = r0.negativePrompt;
            rec.loras = r0.loras;
            for (size_t i = 0; i < rec.boxes.size() && i < r0.boxes.size(); ++i)
                rec.boxes[i].prompt = r0.boxes[i].prompt;
        }
        std::map<std::string, std::string> meta;
        std::vector<std::pair<std::string, std::string>> extra;
        json lj = json::array();
        std::string hashes;
        for (size_t i = 0; i < loraUses.size(); ++i) {
            const auto& l = *loraUses[i].lora;
            hashes += (hashes.empty() ? "" : ", ") + withoutListMarks(l.name) + ": " + l.hash;
            lj.push_back({ { "name", l.name }, { "path", l.path }, { "hash", l.hash }, { "te", loraUses[i].textWeight },
                { "unet", loraUses[i].unetWeight }, { "unet_modules", l.unetModules }, { "text_modules", l.textModules } });
        }
        if (!hashes.empty())
            extra.emplace_back("Lora hashes", hashes);
        std::string tiHashes;
        json tj = json::array();
        for (const auto& [name, hash] : d->embeddingsUsed) {
            tiHashes += (tiHashes.empty() ? "" : ", ") + withoutListMarks(name) + ": " + hash;
            tj.push_back({ { "name", name }, { "hash", hash } });
        }
        if (!tiHashes.empty())
            extra.emplace_back("TI hashes", tiHashes);
        if (!d->info.vae.empty()) { // AUTOMATIC1111's names
            if (!d->info.vaeHash.empty())
                extra.emplace_back("VAE hash", d->info.vaeHash);
            extra.emplace_back("VAE", d->info.vae);
        }
        // AUTOMATIC1111 gives the first pass's size for a hires picture
        meta["parameters"] = buildInfotext(rec, seed, modelName, d->info.hash, recordAs ? rec.width : img.width, recordAs ? rec.height : img.height, extra);
        json j = rec.toJson();
        j["model_hash"] = d->info.hash;
        if (!lj.empty())
            j["lora_files"] = lj;
        if (!tj.empty())
            j["embeddings"] = tj;
        if (!d->info.vae.empty())
            j["vae"] = { { "name", d->info.vae }, { "hash", d->info.vaeHash } };
        j["version"] = LS_VERSION;
        meta["latent_studio"] = j.dump();
        result.images.push_back(img);
        result.seeds.push_back(seed);
        result.metadata.push_back(std::move(meta));
    };

    // ---------------------------------------------------------------- upscaling
    if (r.mode == JobMode::Upscale) {
        const Image lr = toRgb(r.initImage);
        if (!d->model) {
            finish(resizeLanczos(lr, lr.width * r.upscaleFactor, lr.height * r.upscaleFactor), r.seed);
            result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
            return result;
        }
        auto& m = *d->model;
        const bool x4 = m.config.family == Family::SD2Upscaler;
        const int f = static_cast<int>(m.config.firstStage.downFactor()); // 4: latent size = low-res size
        const int mult = (1 << (m.config.unet.channelMult.size() - 1));
        at::Tensor cond, uncond;
        std::unique_ptr<Conditioner> cd;
        if (x4) {
            cd = std::make_unique<Conditioner>(m, d->tokenizer, &d->embeddingTokens);
            cond = cd->encodePrompt(r.prompt, r.clipSkip);
            uncond = cd->encodePrompt(r.negativePrompt, r.clipSkip);
            cd->matchLengths(cond, uncond, r.clipSkip);
        }
        const int tile = std::min({ r.tileSize, lr.width, lr.height }) < r.tileSize ? std::max(lr.width, lr.height) : r.tileSize;
        const int overlap = r.tileOverlap;
        const auto xs = models::tileStarts(lr.width, tile, overlap), ys = models::tileStarts(lr.height, tile, overlap);
        const int tiles = static_cast<int>(xs.size() * ys.size());
        const int outW = lr.width * f, outH = lr.height * f;
        auto acc = at::zeros({ 1, 3, outH, outW });
        auto wsum = at::zeros({ 1, 1, outH, outW });
        auto lrT = imageToTensor(lr);
        float augSignal = 1.0f, augNoise = 0.0f; // SD x4: noise augmentation of the low-res image, its own schedule
        if (x4) {
            auto low = sampling::BetaSchedule::linear(m.config.lowScaleStart, m.config.lowScaleEnd, 1000);
            augSignal = static_cast<float>(std::sqrt(low.alphasCumprod64[r.noiseLevel].item<double>()));
            augNoise = static_cast<float>(std::sqrt(1 - low.alphasCumprod64[r.noiseLevel].item<double>()));
        }
        NoiseSource noise(r.seed, 1);
        // One noise field for the whole image, so overlapping tiles start from the same noise.
        auto fullNoise = noise.draw({ m.config.firstStage.embedDim, roundUp(lr.height, mult), roundUp(lr.width, mult) }, at::TensorOptions());
        int tileIndex = 0;
        for (const int ty : ys) {
            for (const int tx : xs) {
                ++tileIndex;
                const int tw = std::min(tile, lr.width), th = std::min(tile, lr.height);
                const int pw = roundUp(tw, mult), ph = roundUp(th, mult);
                auto crop = lrT.narrow(2, ty, th).narrow(3, tx, tw);
                crop = at::replication_pad2d(crop, { 0, pw - tw, 0, ph - th });
                at::Tensor concat, labels;
                if (x4) {
                    concat = augSignal * crop + augNoise * noise.draw({ 3, ph, pw }, at::TensorOptions());
                    labels = at::full({ 1 }, r.noiseLevel, at::TensorOptions().dtype(at::kLong));
                } else {
                    concat = crop;
                }
                auto eps = d->guidedEps(stop, x4 ? cond : at::Tensor(), uncond, x4 ? r.cfgScale : 1.0, concat, labels);
                SamplingPlan plan { r.sampler, r.schedule, r.steps, r.eta, r.etaAncestral };
                auto start = fullNoise.narrow(2, ty, std::min(ph, static_cast<int>(fullNoise.size(2)) - ty)).narrow(3, tx, std::min(pw, static_cast<int>(fullNoise.size(3)) - tx));
                if (start.size(2) != ph || start.size(3) != pw)
                    start = noise.draw({ m.config.firstStage.embedDim, ph, pw }, at::TensorOptions());
                std::optional<LatentStart> from;
                if (m.config.family == Family::SyntheticSR) {
                    // The bundled SR model: start from the terminal state of the bicubic-upsampled tile (see LatentStart).
                    auto up = at::upsample_bicubic2d(crop, { ph * f, pw * f }, false).clamp(-1, 1);
                    from = LatentStart { m.encodeImage(up).to(at::kCPU, at::kFloat), r.strength, true };
                }
                auto latent = runSampling(plan, m.schedule, eps, start, [&](int64_t, const at::Tensor& like) { return noise.draw(like.sizes().slice(1), at::TensorOptions()); },
                    from, std::nullopt, d->stepReporter(r, onStep, t0, tileIndex, tiles));
                stop.check();
                auto img = m.decodeLatent(latent).to(at::kCPU, at::kFloat).narrow(2, 0, th * f).narrow(3, 0, tw * f);
                // Linear ramps in the overlap so seams blend.
                auto ramp = [&](int len, bool lowEdge, bool highEdge) {
                    auto w = at::ones({ len });
                    const int o = overlap * f;
                    if (o > 0) {
                        auto r1 = (at::arange(o, at::TensorOptions().dtype(at::kFloat)) + 1) / (o + 1);
                        if (lowEdge)
                            w.narrow(0, 0, std::min(o, len)).copy_(r1.narrow(0, 0, std::min(o, len)));
                        if (highEdge)
                            w.narrow(0, len - std::min(o, len), std::min(o, len)).copy_(r1.flip(0).narrow(0, 0, std::min(o, len)));
                    }
                    return w;
                };
                auto wy = ramp(th * f, ty > 0, ty + th < lr.height);
                auto wx = ramp(tw * f, tx > 0, tx + tw < lr.width);
                auto w = (wy.view({ -1, 1 }) * wx.view({ 1, -1 })).view({ 1, 1, th * f, tw * f });
                acc.narrow(2, ty * f, th * f).narrow(3, tx * f, tw * f).add_(img * w);
                wsum.narrow(2, ty * f, th * f).narrow(3, tx * f, tw * f).add_(w);
            }
        }
        finish(tensorToImage(acc / wsum.clamp_min(1e-6)), r.seed);
        result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        return result;
    }

    auto& m = *d->model;
    const int mult = d->pixelMultiple();
    const int f = static_cast<int>(m.config.firstStage.downFactor());
    const int64_t latentC = m.config.unet.outChannels;

    // ---------------------------------------------------------------- inpainting geometry
    Image init;
    at::Tensor maskFull; // [1,1,H,W] 0..1 at the original resolution (grown, unblurred)
    at::Tensor compositeMask;
    std::array<int, 4> region { 0, 0, 0, 0 };
    int workW = r.width, workH = r.height;
    if (r.mode == JobMode::Img2Img || r.mode == JobMode::Inpaint) {
        init = toRgb(r.initImage);
        workW = init.width;
        workH = init.height;
    }
    if (r.mode == JobMode::Inpaint) {
        maskFull = (growMask(maskToTensor(r.mask), r.maskGrow) >= 0.5).to(at::kFloat);
        compositeMask = at::maximum(blurMask(maskFull, r.maskBlur), maskFull);
        // Keep every pixel outside the feathered mask untouched: zero beyond the blur's reach.
        region = { 0, 0, init.width, init.height };
        if (r.onlyMasked) {
            auto b = maskBounds(growMask(maskFull, r.maskBlur));
            const int pad = r.onlyMaskedPadding;
            int x0 = std::max(0, b[0] - pad), y0 = std::max(0, b[1] - pad);
            int x1 = std::min(init.width, b[2] + pad), y1 = std::min(init.height, b[3] + pad);
            // Expand to the aspect of the working resolution so the crop is not distorted.
            const double aspect = static_cast<double>(r.width) / r.height;
            double cw = x1 - x0, ch = y1 - y0;
            if (cw / ch < aspect) {
                const double want = std::min<double>(init.width, ch * aspect);
                const double grow = (want - cw) / 2;
                x0 = std::max(0, static_cast<int>(std::floor(x0 - grow)));
                x1 = std::min(init.width, static_cast<int>(std::ceil(x0 + want)));
            } else {
                const double want = std::min<double>(init.height, cw / aspect);
                const double grow = (want - ch) / 2;
                y0 = std::max(0, static_cast<int>(std::floor(y0 - grow)));
                y1 = std::min(init.height, static_cast<int>(std::ceil(y0 + want)));
            }
            region = { x0, y0, x1, y1 };
            workW = r.width;
            workH = r.height;
        }
    }
    const int genW = roundUp(workW, mult), genH = roundUp(workH, mult);
    const int64_t lh = genH / f, lw = genW / f;

    // ---------------------------------------------------------------- conditioning
    at::Tensor cond, uncond;
    int condCount = 1;
    std::function<at::Tensor(const at::Tensor&)> combine;
    LayoutChannels layout;
    if (m.config.family == Family::Layout2Img) {
        text::LayoutTokenBuilder builder;
        builder.noObjectClasses = static_cast<int64_t>(d->classes.size());
        std::vector<text::LayoutObject> objs;
        for (const auto& b : r.boxes) {
            text::LayoutObject o;
            const std::string name = b.label.empty() ? b.prompt : b.label;
            o.categoryNo = std::find(d->classes.begin(), d->classes.end(), name) - d->classes.begin();
            o.bbox = { b.x / r.width, b.y / r.height, b.w / r.width, b.h / r.height };
            objs.push_back(o);
        }
        Conditioner cd(m, d->tokenizer);
        cond = cd.encodeTokens(builder.build(objs));
        uncond = cd.encodeTokens(builder.build({}));
    } else if (m.config.family == Family::Synthetic) {
        Conditioner cd(m, d->tokenizer);
        std::vector<text::WorldBox> boxes;
        if (r.mode == JobMode::Layout)
            for (const auto& b : r.boxes)
                boxes.push_back({ b.x / genW, b.y / genH, (b.x + b.w) / genW, (b.y + b.h) / genH, b.label.empty() ? b.prompt : b.label });
        else if (m.config.layoutChannels && r.captionLayout)
            boxes = text::layoutFromCaption(r.prompt); // "a red circle at the top left": the boxes the phrases describe
        cond = cd.encodeWorld(r.prompt, boxes);
        uncond = cd.encodeWorld(r.negativePrompt);
        if (m.config.layoutChannels) {
            const auto k = m.config.layoutChannels;
            layout.cond = at::tensor(text::rasteriseWorldLayout(boxes, static_cast<int>(lh), static_cast<int>(lw))).view({ 1, k, lh, lw });
            layout.uncond = at::zeros_like(layout.cond);
        }
    } else if (m.clip || m.openclip) {
        Conditioner cd(m, d->tokenizer, &d->embeddingTokens);
        cond = cd.encodePrompt(r.prompt, r.clipSkip);
        uncond = cd.encodePrompt(r.negativePrompt, r.clipSkip);
        if (r.mode == JobMode::Layout) {
            // Regional guidance: one noise prediction per box prompt, blended by soft box masks over the global one.
            std::vector<at::Tensor> conds { cond };
            std::vector<at::Tensor> masks;
            for (const auto& b : r.boxes) {
                conds.push_back(cd.encodePrompt(b.prompt.empty() ? b.label : b.prompt, r.clipSkip));
                auto mk = at::zeros({ 1, 1, genH, genW });
                const int x0 = std::clamp(static_cast<int>(std::round(b.x)), 0, genW), y0 = std::clamp(static_cast<int>(std::round(b.y)), 0, genH);
                const int x1 = std::clamp(static_cast<int>(std::round(b.x + b.w)), 0, genW), y1 = std::clamp(static_cast<int>(std::round(b.y + b.h)), 0, genH);
                if (x1 > x0 && y1 > y0)
                    mk.narrow(2, y0, y1 - y0).narrow(3, x0, x1 - x0).fill_(1.0);
                masks.push_back(at::avg_pool2d(mk, { f, f }));
            }
            size_t longest = 0;
            for (auto& c : conds)
                longest = std::max<size_t>(longest, static_cast<size_t>(c.size(1)));
            for (auto& c : conds) {
                auto u = uncond;
                cd.matchLengths(c, u, r.clipSkip);
                while (static_cast<size_t>(c.size(1)) < longest) {
                    auto e = cd.encodePrompt("", r.clipSkip);
                    c = at::cat({ c, e }, 1);
                }
            }
            cd.matchLengths(conds[0], uncond, r.clipSkip);
            while (static_cast<size_t>(uncond.size(1)) < longest)
                uncond = at::cat({ uncond, cd.encodePrompt("", r.clipSkip) }, 1);
            cond = at::cat(conds);
            condCount = static_cast<int>(conds.size());
            auto boxMasks = at::cat(masks); // [R, 1, h, w]
            combine = [boxMasks](const at::Tensor& eps) { // eps [1+R, B, C, h, w]
                auto mk = boxMasks.unsqueeze(1);           // [R, 1, 1, h, w]
                auto cover = mk.sum(0).clamp_max(1.0);     // [1, 1, h, w]
                auto regional = (eps.narrow(0, 1, eps.size(0) - 1) * mk).sum(0) / mk.sum(0).clamp_min(1e-6);
                return eps[0] * (1 - cover) + regional * cover;
            };
        } else {
            cd.matchLengths(cond, uncond, r.clipSkip);
        }
    }

    // ---------------------------------------------------------------- per batch
    NoiseSource noise(r.seed, r.batch);
    const auto lat = at::TensorOptions().dtype(at::kFloat);
    auto xT = noise.draw({ latentC, lh, lw }, lat);
    sampling::NoiseFn stepNoise = [&](int64_t, const at::Tensor& like) { return noise.draw(like.sizes().slice(1), lat); };

    std::optional<LatentStart> start;
    std::optional<LatentBlend> blend;
    at::Tensor concat;
    Image work; // the image the model sees (inpaint: maybe the crop)
    at::Tensor workMask;
    if (r.mode == JobMode::Img2Img || r.mode == JobMode::Inpaint) {
        if (r.mode == JobMode::Inpaint && r.onlyMasked) {
            Image crop(region[2] - region[0], region[3] - region[1], 3);
            for (int y = 0; y < crop.height; ++y)
                std::memcpy(crop.at(0, y), init.at(region[0], region[1] + y), static_cast<size_t>(crop.width) * 3);
            work = resizeLanczos(crop, genW, genH);
            auto mcrop = maskFull.narrow(2, region[1], crop.height).narrow(3, region[0], crop.width);
            workMask = (at::upsample_bilinear2d(mcrop, { genH, genW }, false) > 0.0).to(at::kFloat);
        } else {
            work = init;
            if (genW != init.width || genH != init.height) {
                // Pad to the model's multiple by edge replication; cropped back after decoding.
                auto t = imageToTensor(init);
                t = at::replication_pad2d(t, { 0, genW - init.width, 0, genH - init.height });
                work = tensorToImage(t);
            }
            if (r.mode == JobMode::Inpaint)
                workMask = at::constant_pad_nd(maskFull, { 0, genW - init.width, 0, genH - init.height }, 0);
        }
        auto encNoise = noise.draw({ m.config.firstStage.embedDim, lh, lw }, lat);
        auto initLatent = m.encodeImage(imageToTensor(work).repeat({ r.batch, 1, 1, 1 }), encNoise).to(at::kCPU, at::kFloat);
        if (r.mode == JobMode::Inpaint) {
            auto latentMask = at::max_pool2d(workMask, { f, f }); // any repainted pixel -> repaint the latent
            if (d->inpaintModel()) {
                auto masked = imageToTensor(work) * (workMask < 0.5).to(at::kFloat);
                auto maskedLatent = m.encodeImage(masked.repeat({ r.batch, 1, 1, 1 }), encNoise).to(at::kCPU, at::kFloat);
                concat = at::cat({ at::upsample_nearest2d(workMask, { lh, lw }).repeat({ r.batch, 1, 1, 1 }), maskedLatent }, 1);
                start = LatentStart { initLatent, r.strength };
            } else {
                blend = LatentBlend { initLatent, latentMask };
                start = LatentStart { initLatent, r.strength };
            }
        } else {
            start = LatentStart { initLatent, r.strength };
        }
    } else if (d->inpaintModel()) {
        // An inpainting model asked for plain generation: everything is "masked".
        auto zeros = m.encodeImage(at::zeros({ r.batch, 3, genH, genW })).to(at::kCPU, at::kFloat);
        concat = at::cat({ at::ones({ r.batch, 1, lh, lw }), zeros }, 1);
    }

    auto eps = d->guidedEps(stop, cond, uncond, r.cfgScale, concat, {}, combine, condCount, layout);
    SamplingPlan plan { r.sampler, r.schedule, r.steps, r.eta, r.etaAncestral };
    auto latent = runSampling(plan, m.schedule, eps, xT, stepNoise, start, blend, d->stepReporter(r, onStep, t0, 1, 1));

    for (int i = 0; i < r.batch; ++i) {
        stop.check();
        Image img = d->decodeImage(latent, i, r.vaeTile);
        if (r.mode == JobMode::Inpaint) {
            if (r.onlyMasked) {
                const int cw = region[2] - region[0], ch = region[3] - region[1];
                Image back = resizeLanczos(img, cw, ch);
                Image full = init;
                for (int y = 0; y < ch; ++y)
                    std::memcpy(full.at(region[0], region[1] + y), back.at(0, y), static_cast<size_t>(cw) * 3);
                img = composite(init, full, compositeMask);
            } else {
                Image cropped(init.width, init.height, 3);
                for (int y = 0; y < init.height; ++y)
                    std::memcpy(cropped.at(0, y), img.at(0, y), static_cast<size_t>(init.width) * 3);
                img = composite(init, cropped, compositeMask);
            }
        } else if (img.width != workW || img.height != workH) {
            Image cropped(workW, workH, 3);
            for (int y = 0; y < workH; ++y)
                std::memcpy(cropped.at(0, y), img.at(0, y), static_cast<size_t>(workW) * 3);
            img = cropped;
        }
        finish(img, r.seed + i);
    }
    result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return result;
}

} // namespace ls::pipeline

#include "pipeline/jobs/JobContext.h"
#include "pipeline/jobs/Jobs.h"

#include "models/TextualInversion.h"
#include "pipeline/ImageOps.h"
#include "pipeline/LoraFiles.h"
#include "pipeline/ModelLoading.h"
#include "text/WorldTokenizer.h"
#include "util/Error.h"
#include "util/Sha256.h"
#include "util/Threads.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>

namespace ls::pipeline::detail {

namespace {
// TAESD's decode of one latent of the batch, as an image ([0, 1] out, the images' [-1, 1] in).
Image tinyDecode(const models::TinyAutoencoderHalf& tiny, const at::Tensor& latent, int index)
{
    return tensorToImage(tiny.forward(latent.narrow(0, index, 1)).to(at::kCPU, at::kFloat) * 2 - 1);
}
} // namespace

std::string withoutListMarks(std::string name)
{
    std::erase_if(name, [](char c) { return c == ':' || c == ','; });
    return name;
}

void stripLoraTags(GenerationRequest& r, std::vector<text::LoraTag>* tags)
{
    tags->insert(tags->end(), r.loras.begin(), r.loras.end());
    r.prompt = text::extractLoraTags(r.prompt, tags);
    r.negativePrompt = text::extractLoraTags(r.negativePrompt, tags);
    for (auto& b : r.boxes)
        b.prompt = text::extractLoraTags(b.prompt, tags);
}

std::vector<models::LoraSet::Use> GeneratorState::applyLoras(
    const std::vector<text::LoraTag>& tags, std::vector<std::string>& warnings)
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

void GeneratorState::prepareEmbeddings(const GenerationRequest& r)
{
    embeddingTokens.clear();
    embeddingsUsed.clear();
    nn::Embedding table { nullptr }, tableG { nullptr };
    int64_t dim = 0;
    const bool sdxl = model && models::isSdxl(model->config.family);
    if (sdxl) {
        // SDXL embeddings hold one set of vectors per tower (clip_l, clip_g), under the same new token ids.
        if (model->clip)
            table = model->clip->token_embedding;
        tableG = model->openclip->token_embedding;
    } else if (model && model->clip) {
        table = model->clip->token_embedding;
        dim = model->config.clip.hiddenSize;
    } else if (model && model->openclip) {
        table = model->openclip->token_embedding;
        dim = model->config.openclip.width;
    }
    if (!table && !tableG)
        return;
    for (auto* t : { &table, &tableG })
        if (*t)
            (*t)->extra = at::Tensor();
    const auto files = listEmbeddingFiles(embeddingFolders);
    if (files.empty())
        return;
    std::vector<std::string> names;
    for (const auto& f : files)
        names.push_back(f.path.stem().string());
    std::string text = r.prompt + "\n" + r.negativePrompt;
    for (const auto& b : r.boxes)
        text += "\n" + b.prompt;
    std::vector<at::Tensor> vectors, vectorsG;
    int64_t next = (table ? table : tableG)->weight.size(0); // the first id past the vocabulary
    for (const auto& name : text::embeddingNamesIn(text, names)) {
        const auto& path = files[static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin())].path;
        const auto& e = embeddingCache.get(path, [&] {
            EmbeddingFile f;
            if (sdxl) {
                f.vectors = models::readEmbedding(path, model->config.clip.hiddenSize, "clip_l");
                f.vectorsG = models::readEmbedding(path, model->config.openclip.width, "clip_g");
            } else {
                f.vectors = models::readEmbedding(path, dim);
            }
            f.hash = sha256File(path).substr(0, 12);
            return f;
        });
        const auto& v = e.vectors;
        embeddingTokens.push_back({ name, static_cast<int>(next), static_cast<int>(v.size(0)) });
        embeddingsUsed.emplace_back(name, e.hash);
        vectors.push_back(v);
        if (e.vectorsG.defined())
            vectorsG.push_back(e.vectorsG);
        next += v.size(0);
    }
    if (tableG && !vectorsG.empty())
        tableG->extra = at::cat(vectorsG);
    if (table && !vectors.empty())
        table->extra = at::cat(vectors);
}

std::string GeneratorState::describeLoraFolders() const
{
    std::string s;
    for (const auto& f : loraFolders)
        s += (s.empty() ? "" : ", ") + f.string();
    return s.empty() ? std::string("no LoRA folder") : s + " (or give a path)";
}

std::shared_ptr<models::LatentModel> GeneratorState::refinerFor(const std::filesystem::path& path)
{
    if (refiner && refinerPath == path)
        return refiner;
    refiner.reset();
    ModelLoadOptions o;
    o.dtype = model->options.dtype().toScalarType();
    o.tokenizer = false; // the base's vocabulary reads the prompts
    auto lm = loadModel(path, o);
    if (lm.model->config.unet.outChannels != model->config.unet.outChannels
        || lm.model->config.firstStage.downFactor() != model->config.firstStage.downFactor())
        fail(ErrorKind::Mismatch,
            path.string() + ": a " + models::familyName(lm.model->config.family)
                + " model cannot refine this model's latents (" + models::familyName(model->config.family) + ")");
    if (model->device().is_cuda())
        lm.model->moveTo(model->device());
    refiner = lm.model;
    refinerInfo = lm.info;
    refinerPath = path;
    return refiner;
}

sampling::EpsFn GeneratorState::guidedEps(const StopToken& stop, const JobCondition& condition, double scale,
    at::Tensor concat, at::Tensor classLabels, std::shared_ptr<models::LatentModel> on)
{
    auto model = on ? on : this->model;
    const bool v = model->config.parameterization == "v";
    const at::Tensor cond = condition.cond, uncond = condition.uncond;
    const at::Tensor condVector = condition.condVector, uncondVector = condition.uncondVector;
    const int condCount = condition.condCount;
    const auto combineCond = condition.combine;
    const LayoutChannels layout = condition.layout;
    const auto control = condition.control;
    return [model, &stop, cond, uncond, scale, concat, classLabels, combineCond, condCount, v, layout, condVector,
               uncondVector, control](const at::Tensor& x, const at::Tensor& t, double acp) {
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
        if (condVector.defined()) {
            std::vector<at::Tensor> ys;
            if (cfg)
                ys.push_back(uncondVector.expand({ b, -1 }));
            for (int k = 0; k < condCount; ++k)
                ys.push_back(condVector.narrow(0, k, 1).expand({ b, -1 }));
            y = at::cat(ys);
        }
        std::vector<at::Tensor> residuals;
        if (control)
            residuals = control(xin, tin, ctx, y, cfg ? b : 0, t.max().item<double>());
        auto out = model->denoise(xin, tin, ctx, y, residuals.empty() ? nullptr : &residuals).to(at::kCPU, at::kFloat);
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

sampling::StepFn GeneratorState::stepReporter(
    const GenerationRequest& r, const StepCallback& cb, Clock::time_point t0, int tile, int tiles)
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
            torch::NoGradGuard ng;
            if (const auto* tiny = previewDecoder()) {
                preview = tinyDecode(*tiny, x0, 0);
            } else {
                if (!previewer)
                    previewer = std::make_unique<LatentPreviewer>(*model);
                preview = previewer->project(x0, 0);
            }
        }
        s.preview = preview.empty() ? nullptr : &preview;
        cb(s);
        return true;
    };
}

std::string GeneratorState::unknownWordsWarning(const GenerationRequest& r) const
{
    static const text::WorldTokenizer tok;
    std::vector<std::string> unknown;
    for (const auto* t : { &r.prompt, &r.negativePrompt }) {
        std::vector<std::string> u;
        tok.encode(*t, {}, &u);
        for (auto& w : u)
            if (std::find(unknown.begin(), unknown.end(), w) == unknown.end())
                unknown.push_back(w);
    }
    if (unknown.empty())
        return {};
    std::string words, known;
    for (const auto& w : unknown)
        words += (words.empty() ? "'" : ", '") + w + "'";
    for (const auto& w : tok.words())
        known += (known.empty() ? "" : " ") + w;
    return "the bundled model does not know the word" + std::string(unknown.size() > 1 ? "s " : " ") + words
        + " and leaves " + (unknown.size() > 1 ? "them" : "it") + " out; it knows only: " + known
        + " (coloured shapes on a plain background, see MODEL_CARD.md)";
}

const models::TinyAutoencoderHalf* GeneratorState::previewDecoder()
{
    if (taesdFile.empty())
        return nullptr;
    if (!taesdTried) {
        taesdTried = true;
        try {
            taesd = models::loadTinyAutoencoder(taesdFile, models::TinyAutoencoderHalf::Kind::Decoder);
            if (taesd->latentChannels() != model->config.unet.outChannels)
                fail(ErrorKind::InvalidInput,
                    taesdFile.string() + ": a TAESD decoder for " + std::to_string(taesd->latentChannels())
                        + " latent channels; this model has " + std::to_string(model->config.unet.outChannels));
            taesd->to(at::TensorOptions().dtype(at::kFloat).device(model->device()));
        } catch (const std::exception& e) {
            taesd.reset();
            taesdError = e.what();
        }
    }
    return taesd ? &*taesd : nullptr;
}

Image GeneratorState::decodeImage(const at::Tensor& latent, int index, int vaeTile)
{
    return tensorToImage(model->decodeLatent(latent.narrow(0, index, 1), vaeTile).to(at::kCPU, at::kFloat));
}

Image GeneratorState::decodeResult(const at::Tensor& latent, int index, const GenerationRequest& r)
{
    if (!r.fastDecode)
        return decodeImage(latent, index, r.vaeTile);
    const auto* tiny = previewDecoder();
    if (!tiny)
        fail(ErrorKind::InvalidInput, "fast decode: " + (taesdError.empty() ? "no TAESD decoder" : taesdError));
    torch::NoGradGuard ng;
    Image img = tinyDecode(*tiny, latent, index);
    // TAESD always decodes 8x; a first stage with another factor gets the VAE's size back.
    const int f = static_cast<int>(model->config.firstStage.downFactor());
    const int w = static_cast<int>(latent.size(3)) * f, h = static_cast<int>(latent.size(2)) * f;
    return img.width == w && img.height == h ? img : resizeLanczos(img, w, h);
}

} // namespace ls::pipeline::detail

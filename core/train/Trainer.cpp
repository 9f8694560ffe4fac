#include "train/Trainer.h"

#include "io/ConfigFile.h"
#include "io/SafeTensors.h"
#include "models/LatentModel.h"
#include "pipeline/ImageOps.h"
#include "text/WorldLayout.h"
#include "text/WorldTokenizer.h"
#include "train/SyntheticWorld.h"
#include "util/Error.h"

#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

namespace ls::train {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kAutoencoder
    = R"({"target": "ldm.models.autoencoder.AutoencoderKL", "params": {"embed_dim": 4, "ddconfig": {
  "double_z": true, "z_channels": 4, "resolution": 64, "in_channels": 3, "out_ch": 3, "ch": 32, "ch_mult": [1, 2, 2],
  "num_res_blocks": 1, "attn_resolutions": [], "dropout": 0.0}}})";

json baseParams()
{
    json p;
    p["linear_start"] = 0.00085;
    p["linear_end"] = 0.012;
    p["timesteps"] = 1000;
    p["parameterization"] = "eps";
    p["scale_factor"] = 1.0; // replaced by 1/std of the trained autoencoder's latents
    p["first_stage_config"] = json::parse(kAutoencoder);
    return p;
}

} // namespace

// Warm start from another checkpoint of the same family (`train --init FILE`): tensors of equal shape are copied; a
// tensor that grew (conv_in gaining coordinate channels) keeps the old values in its leading slice and zeros in the
// new part, so the warm-started model computes exactly what the old one did until training moves the new weights.
void warmStart(torch::nn::Module& m, const io::WeightSource& w, const std::string& prefix,
    const std::function<void(const std::string&)>& log)
{
    torch::NoGradGuard ng;
    int copied = 0;
    for (auto& item : m.named_parameters(true)) {
        const std::string key = prefix + item.key();
        at::Tensor& dst = item.value();
        if (!w.contains(key)) {
            log("init: " + key + " not in " + w.path() + ", keeps its fresh initialisation");
            continue;
        }
        at::Tensor src = w.load(key).to(dst.scalar_type());
        if (src.sizes() == dst.sizes()) {
            dst.copy_(src);
            ++copied;
            continue;
        }
        bool fits = src.dim() == dst.dim();
        for (int64_t d = 0; fits && d < src.dim(); ++d)
            fits = src.size(d) <= dst.size(d);
        if (!fits)
            fail(ErrorKind::Mismatch,
                "train --init " + w.path() + ": " + key + " has shape " + io::shapeToString(src.sizes().vec())
                    + ", the model needs " + io::shapeToString(dst.sizes().vec()));
        dst.zero_();
        at::Tensor slice = dst;
        for (int64_t d = 0; d < src.dim(); ++d)
            slice = slice.narrow(d, 0, src.size(d));
        slice.copy_(src);
        ++copied;
        log("init: " + key + " grown from " + io::shapeToString(src.sizes().vec()) + " to "
            + io::shapeToString(dst.sizes().vec()) + " (new part zero)");
    }
    log("init: " + std::to_string(copied) + " tensors from " + w.path());
}

json bundledDiffusionConfig()
{
    json p = baseParams();
    p["family"] = "latent-studio-synthetic";
    p["conditioning_key"] = "crossattn";
    p["unet_config"] = { { "target", "ldm.modules.diffusionmodules.openaimodel.UNetModel" },
        { "params",
            { { "in_channels", 4 + text::kWorldLayoutChannels }, { "out_channels", 4 }, { "model_channels", 64 },
                { "attention_resolutions", { 1, 2 } }, { "num_res_blocks", 1 }, { "channel_mult", { 1, 2, 2 } },
                { "num_head_channels", 32 }, { "use_spatial_transformer", true }, { "transformer_depth", 1 },
                { "context_dim", 128 }, { "legacy", false }, { "coord_channels", 2 } } } };
    const text::WorldTokenizer tok;
    p["cond_stage_config"] = { { "target", "ldm.modules.encoders.modules.BERTEmbedder" },
        { "params",
            { { "n_embed", 128 }, { "n_layer", 2 }, { "vocab_size", tok.vocabSize() },
                { "max_seq_len", text::WorldTokenizer::kSequence } } } };
    p["layout_channels"] = text::kWorldLayoutChannels;
    p["tokenizer"]
        = { { "kind", "latent-studio-world" }, { "words", tok.words() }, { "grid", text::WorldTokenizer::kGrid } };
    return { { "model", { { "target", "ldm.models.diffusion.ddpm.LatentDiffusion" }, { "params", p } } } };
}

at::Tensor diffusionLoss(
    const at::Tensor& pred, const at::Tensor& z0, const at::Tensor& noise, const at::Tensor& acp, bool v)
{
    auto snr = (acp / (1 - acp)).view({ -1 });
    if (!v) {
        // Min-SNR-5 weighting (Hang et al. 2023): the nearly clean timesteps, which carry no layout or colour
        // decisions, stop dominating the eps loss; converges several times faster.
        auto weight = at::clamp_max(snr, 5.0) / snr;
        return (pred - noise).pow(2).mean({ 1, 2, 3 }) * weight;
    }
    // v = sqrt(acp) eps - sqrt(1 - acp) x0. The v loss weighs the x0 error by SNR + 1; clipping that at 5 + 1 keeps the
    // nearly clean timesteps from dominating (min-SNR) while the pure-noise end, where the layout is decided from the
    // condition alone, keeps its full weight.
    auto target = acp.sqrt() * noise - (1 - acp).sqrt() * z0;
    auto weight = at::clamp_max(snr + 1, 6.0) / (snr + 1);
    return (pred - target).pow(2).mean({ 1, 2, 3 }) * weight;
}

json bundledSrConfig()
{
    json p = baseParams();
    p["family"] = "latent-studio-synthetic-sr";
    p["conditioning_key"] = "concat";
    p["unet_config"] = { { "target", "ldm.modules.diffusionmodules.openaimodel.UNetModel" },
        { "params",
            { { "in_channels", 7 }, { "out_channels", 4 }, { "model_channels", 32 },
                { "attention_resolutions", json::array() }, { "num_res_blocks", 1 }, { "channel_mult", { 1, 2, 2 } },
                { "num_head_channels", 32 }, { "legacy", false } } } };
    p["cond_stage_config"] = { { "target", "torch.nn.Identity" } };
    return { { "model", { { "target", "ldm.models.diffusion.ddpm.LatentDiffusion" }, { "params", p } } } };
}

namespace {

// PyTorch-default-like initialisation; output layers of residual branches start at zero (as the original code).
void initForTraining(torch::nn::Module& m, uint64_t seed)
{
    torch::NoGradGuard ng;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    for (auto& item : m.named_parameters(true)) {
        const std::string& k = item.key();
        at::Tensor& t = item.value();
        const bool bias = k.size() >= 4 && k.compare(k.size() - 4, 4, "bias") == 0;
        const bool zeroOut = k.find("out_layers.3.weight") != std::string::npos
            || k.find("proj_out.weight") != std::string::npos || k == "out.2.weight";
        if (bias || zeroOut) {
            t.zero_();
        } else if (t.dim() == 1) {
            t.fill_(1.0);
        } else if (k.find("emb") != std::string::npos && t.dim() == 2 && k.find("time_embed") == std::string::npos) {
            t.normal_(0.0, 0.02, gen);
        } else {
            const double fanIn = static_cast<double>(t.numel() / t.size(0));
            const double bound = 1.0 / std::sqrt(fanIn);
            t.uniform_(-bound, bound, gen);
        }
        t.set_requires_grad(true);
    }
}

std::vector<at::Tensor> trainable(torch::nn::Module& m)
{
    std::vector<at::Tensor> out;
    for (auto& p : m.parameters(true))
        if (p.requires_grad())
            out.push_back(p);
    return out;
}

void saveModule(torch::nn::Module& m, const std::string& prefix, std::vector<std::pair<std::string, at::Tensor>>& out)
{
    for (auto& item : m.named_parameters(true))
        out.emplace_back(prefix + item.key(), item.value().detach().clone());
    for (auto& item : m.named_buffers(true))
        out.emplace_back(prefix + item.key(), item.value().detach().clone());
}

void loadInto(torch::nn::Module& m, const io::WeightSource& w, const std::string& prefix)
{
    models::LoadReport rep;
    models::loadModule(m, w, prefix, rep);
    if (!rep.ok())
        fail(ErrorKind::Mismatch, rep.describe(w.path()));
}

// A batch of training scenes as [B, 3, 64, 64] in [-1, 1] plus the scenes.
struct Batch {
    at::Tensor images;
    std::vector<Scene> scenes;
};

Batch makeBatch(uint64_t& cursor, int b)
{
    Batch out;
    std::vector<at::Tensor> imgs;
    for (int i = 0; i < b; ++i) {
        Scene s = makeScene(Split::Train, cursor++);
        imgs.push_back(pipeline::imageToTensor(render(s)));
        out.scenes.push_back(std::move(s));
    }
    out.images = at::cat(imgs);
    return out;
}

struct Progress {
    std::function<void(const std::string&)> log;
    std::string stage;
    int total = 0;
    Clock::time_point start = Clock::now();
    int startStep = 0;
    double avg = -1;
    void step(int i, double loss)
    {
        avg = avg < 0 ? loss : 0.98 * avg + 0.02 * loss;
        if (i % 25 != 0 && i != total)
            return;
        const double el = std::chrono::duration<double>(Clock::now() - start).count();
        const double rate = (i - startStep) / std::max(el, 1e-9);
        char buf[256];
        std::snprintf(buf, sizeof buf, "%s step %d/%d | loss %.4f (avg %.4f) | %.2f it/s | ETA %.0fs", stage.c_str(), i,
            total, loss, avg, rate, rate > 0 ? (total - i) / rate : 0.0);
        log(buf);
    }
};

struct StageFiles {
    fs::path dir;
    fs::path weights() const { return dir / "weights.safetensors"; }
    fs::path optimizer() const { return dir / "optimizer.pt"; }
    fs::path progress() const { return dir / "progress.json"; }
};

int readStep(const StageFiles& f)
{
    std::ifstream in(f.progress());
    if (!in)
        return 0;
    json j = json::parse(in, nullptr, false);
    return j.is_discarded() ? 0 : j.value("step", 0);
}

void writeProgress(const StageFiles& f, int step, double loss, double seconds)
{
    json j = { { "step", step }, { "loss", loss }, { "seconds", seconds } };
    io::writeFileAtomic(f.progress(), j.dump(2));
}

// Per-pixel loss weights of the first stage: objects cover a small part of each image, so their pixels (and, with
// ring > 0, the background within `ring` pixels of them, where a shape's outline is decided) weigh 10, the rest 1.
at::Tensor objectWeight(const at::Tensor& x, const std::vector<Scene>& scenes, int ring)
{
    std::vector<at::Tensor> bgs;
    for (const auto& sc : scenes) {
        const auto& c = kBackgrounds[sc.background];
        bgs.push_back(at::tensor({ c[0] / 127.5f - 1, c[1] / 127.5f - 1, c[2] / 127.5f - 1 }).view({ 1, 3, 1, 1 }));
    }
    auto mask = ((x - at::cat(bgs).to(x.device())).abs().amax(1, true) > 0.05).to(at::kFloat);
    if (ring > 0)
        mask = at::max_pool2d(mask, { 2 * ring + 1, 2 * ring + 1 }, { 1, 1 }, { ring, ring });
    return 1.0 + 9.0 * mask;
}

// The first stage's reconstruction loss: L1 + L2/2 per pixel, weighted by objectWeight(ring).
at::Tensor reconstructionLoss(const at::Tensor& rec, const at::Tensor& x, const std::vector<Scene>& scenes, int ring)
{
    auto err = (rec - x).abs();
    return (objectWeight(x, scenes, ring) * (err + 0.5 * err.pow(2))).mean();
}

// A checkpoint of the autoencoder or decoder stage: every autoencoder tensor, the optimiser, the step.
void saveFirstStage(
    models::AutoencoderImpl& ae, torch::optim::Optimizer& opt, const StageFiles& files, int step, const Progress& pr)
{
    std::vector<std::pair<std::string, at::Tensor>> t;
    saveModule(ae, "", t);
    io::writeSafeTensors(files.weights(), t);
    torch::save(opt, files.optimizer().string());
    writeProgress(files, step, pr.avg, std::chrono::duration<double>(Clock::now() - pr.start).count());
}

at::Tensor klLoss(const at::Tensor& mean, const at::Tensor& logvar)
{
    auto lv = logvar.clamp(-30.0, 20.0);
    return 0.5 * (mean.pow(2) + lv.exp() - 1.0 - lv).sum({ 1, 2, 3 }).mean();
}

// Token sequences with condition dropout (caption only, boxes only, both, or nothing for guidance) and, for models
// with layout channels, the same boxes painted at the latent's size ([B, kWorldLayoutChannels, h, w]).
struct Condition {
    at::Tensor tokens, layout;
};

Condition conditionFor(
    const std::vector<Scene>& scenes, at::Generator& gen, bool dropout, int64_t layoutChannels, int64_t h, int64_t w)
{
    static const text::WorldTokenizer tok;
    std::vector<int64_t> all;
    std::vector<at::Tensor> maps;
    for (const auto& s : scenes) {
        const double u = dropout ? at::rand({ 1 }, gen).item<double>() : 0.5;
        const bool noCaption = u < 0.3;
        const bool noBoxes = u < 0.1 || (u >= 0.3 && u < 0.45);
        std::vector<text::WorldBox> boxes;
        if (!noBoxes)
            for (const auto& o : s.objects) {
                auto b = o.box();
                boxes.push_back({ b[0] / 64.0, b[1] / 64.0, b[2] / 64.0, b[3] / 64.0, o.label() });
            }
        auto ids = tok.encode(noCaption ? std::string() : s.caption(), boxes);
        all.insert(all.end(), ids.begin(), ids.end());
        if (layoutChannels)
            maps.push_back(at::tensor(text::rasteriseWorldLayout(boxes, static_cast<int>(h), static_cast<int>(w)))
                               .view({ 1, layoutChannels, h, w }));
    }
    Condition c;
    c.tokens = at::tensor(all, at::TensorOptions().dtype(at::kLong)).view({ static_cast<int64_t>(scenes.size()), -1 });
    if (layoutChannels)
        c.layout = at::cat(maps);
    return c;
}

struct Ema {
    std::vector<at::Tensor> shadow;
    double decay;
    explicit Ema(const std::vector<at::Tensor>& params, double d)
        : decay(d)
    {
        for (auto& p : params)
            shadow.push_back(p.detach().clone());
    }
    void update(const std::vector<at::Tensor>& params, int step)
    {
        torch::NoGradGuard ng;
        const double d = std::min(decay, (1.0 + step) / (10.0 + step));
        for (size_t i = 0; i < params.size(); ++i)
            shadow[i].mul_(d).add_(params[i].detach(), 1 - d);
    }
    void swapInto(const std::vector<at::Tensor>& params)
    {
        torch::NoGradGuard ng;
        for (size_t i = 0; i < params.size(); ++i) {
            auto tmp = params[i].detach().clone();
            params[i].detach().copy_(shadow[i]);
            shadow[i].copy_(tmp);
        }
    }
};

// The diffusion stages train on a fixed set of training scenes whose latents (and, for sr, low-resolution images)
// are computed once: the frozen encoder would otherwise cost as much per step as the UNet. Cached in the stage folder
// so that a resumed run does not encode again.
struct LatentSet {
    at::Tensor z; // [N, 4, 16, 16], scaled
    at::Tensor lr; // sr: [N, 3, 16, 16] in [-1, 1]
    std::vector<Scene> scenes;
};

LatentSet latentSet(models::LatentModel& model, double scale, int count, bool sr, const fs::path& cacheFile,
    uint64_t first, const at::Device& device, const std::function<void(const std::string&)>& log)
{
    torch::NoGradGuard ng;
    LatentSet set;
    for (int i = 0; i < count; ++i)
        set.scenes.push_back(makeScene(Split::Train, first + static_cast<uint64_t>(i)));
    if (fs::exists(cacheFile)) {
        io::SafeTensorsFile f(cacheFile);
        auto z = f.load("z");
        if (z.size(0) == count && std::abs(f.load("scale").item<double>() - scale) < 1e-9) {
            set.z = z.to(device);
            if (sr)
                set.lr = f.load("lr").to(device);
            log("using cached latents " + cacheFile.string());
            return set;
        }
    }
    std::vector<at::Tensor> zs, lrs;
    const auto t0 = Clock::now();
    for (int i = 0; i < count; i += 128) {
        const int n = std::min(128, count - i);
        std::vector<at::Tensor> imgs;
        for (int k = 0; k < n; ++k)
            imgs.push_back(pipeline::imageToTensor(render(set.scenes[static_cast<size_t>(i + k)])));
        auto x = at::cat(imgs).to(device);
        zs.push_back(model.firstStage->encode(x) * scale);
        if (sr)
            lrs.push_back(at::avg_pool2d(x, { 4, 4 }));
        if ((i / 128) % 32 == 0)
            log("encoding training scenes " + std::to_string(i + n) + "/" + std::to_string(count) + " ("
                + std::to_string(static_cast<int>(std::chrono::duration<double>(Clock::now() - t0).count())) + " s)");
    }
    set.z = at::cat(zs);
    std::vector<std::pair<std::string, at::Tensor>> t { { "z", set.z.cpu() },
        { "scale", at::tensor({ scale }, at::kDouble) } };
    if (sr) {
        set.lr = at::cat(lrs);
        t.emplace_back("lr", set.lr.cpu());
    }
    io::writeSafeTensors(cacheFile, t);
    return set;
}

} // namespace

int runTraining(const TrainOptions& o0)
{
    TrainOptions o = o0;
    if (!o.log)
        o.log = [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); };
    if (o.out.empty())
        fail(ErrorKind::InvalidInput, "train: --out is required");
    const at::Device device = o.device == "cuda" ? at::Device(at::kCUDA) : at::Device(at::kCPU);
    if (device.is_cuda() && !at::hasCUDA())
        fail(ErrorKind::Unsupported, "train: this libtorch build has no CUDA");
    const auto fopts = at::TensorOptions().dtype(at::kFloat).device(device);
    StageFiles aeFiles { o.out / "autoencoder" };

    if (o.stage == "autoencoder") {
        fs::create_directories(aeFiles.dir);
        const int steps = o.steps > 0 ? o.steps : 3000;
        const int batch = o.batch > 0 ? o.batch : 16;
        auto ae = models::Autoencoder(models::AutoencoderConfig::fromJson(json::parse(kAutoencoder)), fopts);
        initForTraining(*ae, o.seed);
        {
            // Start with a near-deterministic posterior (std ~0.02): with the tiny KL weight, unit initial noise would
            // drown the latents and the decoder would only learn the background.
            torch::NoGradGuard ng;
            const int64_t e = ae->config.embedDim;
            ae->quant_conv->bias.narrow(0, e, e).fill_(-8.0);
            ae->quant_conv->weight.narrow(0, e, e).mul_(0.01);
        }
        auto params = trainable(*ae);
        torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr > 0 ? o.lr : 1e-3).weight_decay(0.0));
        int start = 0;
        if (o.resume && fs::exists(aeFiles.weights())) {
            io::SafeTensorsFile w(aeFiles.weights());
            loadInto(*ae, w, "");
            if (fs::exists(aeFiles.optimizer()))
                torch::load(opt, aeFiles.optimizer().string());
            for (auto& g : opt.param_groups()) // the saved state carries the old rate; --lr wins
                static_cast<torch::optim::AdamWOptions&>(g.options()).lr(o.lr > 0 ? o.lr : 1e-3);
            start = readStep(aeFiles);
            o.log("resuming autoencoder at step " + std::to_string(start));
        }
        auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed * 31 + start);
        uint64_t cursor = static_cast<uint64_t>(start) * batch;
        Progress pr { o.log, "autoencoder", steps, Clock::now(), start };
        double loss = 0;
        for (int step = start + 1; step <= steps; ++step) {
            auto b = makeBatch(cursor, batch);
            auto x = b.images.to(device);
            auto moments = ae->encodeMoments(x);
            auto parts = moments.chunk(2, 1);
            auto noise = at::randn(parts[0].sizes(), gen, at::TensorOptions().dtype(at::kFloat)).to(device);
            auto z = parts[0] + at::exp(0.5 * parts[1].clamp(-30.0, 20.0)) * noise;
            auto rec = ae->decode(z);
            auto l = reconstructionLoss(rec, x, b.scenes, 0) + 1e-6 * klLoss(parts[0], parts[1]);
            opt.zero_grad();
            l.backward();
            opt.step();
            loss = l.item<double>();
            pr.step(step, loss);
            if (step % o.saveEvery == 0 || step == steps)
                saveFirstStage(*ae, opt, aeFiles, step, pr);
        }
        return 0;
    }

    if (o.stage == "decoder") {
        // The decoder fine-tuned on the frozen encoder's latents (as SD's ft-EMA/ft-MSE VAE): the latent space stays
        // the same, so diffusion stages trained on the autoencoder keep working. Latents are perturbed by Gaussian
        // noise of up to --latent-noise latent standard deviations so that the decoder draws crisp shapes from the
        // slightly-off latents a sampler ends on, and the loss also weighs the background ring around each object,
        // where a square's corners and a circle's outline differ.
        StageFiles files { o.out / "decoder" };
        if (!fs::exists(aeFiles.weights()))
            fail(ErrorKind::InvalidInput,
                "train decoder: train the autoencoder first (" + aeFiles.weights().string() + " not found)");
        fs::create_directories(files.dir);
        const int steps = o.steps > 0 ? o.steps : 1500;
        const int batch = o.batch > 0 ? o.batch : 16;
        const double lr = o.lr > 0 ? o.lr : 2e-4;
        if (!(o.latentNoise >= 0.0 && o.latentNoise <= 2.0))
            fail(ErrorKind::InvalidInput,
                "train decoder: --latent-noise must be in [0, 2] (latent standard deviations)");
        auto ae = models::Autoencoder(models::AutoencoderConfig::fromJson(json::parse(kAutoencoder)), fopts);
        const bool resuming = o.resume && fs::exists(files.weights());
        {
            io::SafeTensorsFile w(resuming ? files.weights() : aeFiles.weights());
            loadInto(*ae, w, "");
        }
        for (auto& p : ae->parameters())
            p.set_requires_grad(false);
        std::vector<at::Tensor> params;
        for (torch::nn::Module* m : { static_cast<torch::nn::Module*>(ae->decoder.get()),
                 static_cast<torch::nn::Module*>(ae->post_quant_conv.get()) })
            for (auto& p : m->parameters()) {
                p.set_requires_grad(true);
                params.push_back(p);
            }
        torch::optim::AdamW opt(params, torch::optim::AdamWOptions(lr).weight_decay(0.0));
        int start = 0;
        if (resuming) {
            if (fs::exists(files.optimizer()))
                torch::load(opt, files.optimizer().string());
            for (auto& g : opt.param_groups())
                static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
            start = readStep(files);
            o.log("resuming decoder at step " + std::to_string(start));
        }
        double latentStd = 1.0;
        {
            torch::NoGradGuard ng;
            uint64_t c = 1u << 30;
            latentStd = ae->encode(makeBatch(c, 64).images.to(device)).std().item<double>();
        }
        auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed * 53 + start);
        uint64_t cursor = (1ull << 20) + static_cast<uint64_t>(start) * batch; // other scenes than the autoencoder's
        Progress pr { o.log, "decoder", steps, Clock::now(), start };
        const auto cpu = at::TensorOptions().dtype(at::kFloat);
        for (int step = start + 1; step <= steps; ++step) {
            auto b = makeBatch(cursor, batch);
            auto x = b.images.to(device);
            at::Tensor z;
            {
                torch::NoGradGuard ng;
                const int64_t f = ae->config.downFactor();
                const std::vector<int64_t> zShape { batch, ae->config.embedDim, x.size(2) / f, x.size(3) / f };
                z = ae->encode(x, at::randn(zShape, gen, cpu).to(device)); // a posterior sample
                auto sigma = at::rand({ batch, 1, 1, 1 }, gen, cpu).to(device) * (o.latentNoise * latentStd);
                z = z + sigma * at::randn(z.sizes(), gen, cpu).to(device);
            }
            auto l = reconstructionLoss(ae->decode(z), x, b.scenes, 1);
            const double cosine = 0.55 + 0.45 * std::cos(M_PI * step / static_cast<double>(steps));
            for (auto& g : opt.param_groups())
                static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr * cosine);
            opt.zero_grad();
            l.backward();
            opt.step();
            pr.step(step, l.item<double>());
            if (step % o.saveEvery == 0 || step == steps)
                saveFirstStage(*ae, opt, files, step, pr);
        }
        return 0;
    }

    if (o.stage == "diffusion" || o.stage == "sr") {
        const bool sr = o.stage == "sr";
        StageFiles files { o.out / o.stage };
        fs::create_directories(files.dir);
        if (!fs::exists(aeFiles.weights()))
            fail(ErrorKind::InvalidInput,
                "train " + o.stage + ": train the autoencoder first (" + aeFiles.weights().string() + " not found)");
        // The stage's configuration is fixed when it starts (config.json in the stage folder) and read back by --resume
        // and by bundle, so a stage keeps its architecture whatever the current defaults are.
        json cfgJson;
        const fs::path cfgFile = files.dir / "config.json";
        if (o.resume && fs::exists(cfgFile)) {
            cfgJson = io::readConfigFile(cfgFile);
        } else {
            cfgJson = sr ? bundledSrConfig() : bundledDiffusionConfig();
            if (!sr && o.coordChannels >= 0)
                cfgJson["model"]["params"]["unet_config"]["params"]["coord_channels"] = o.coordChannels;
            if (!sr && o.layoutChannels == 0) {
                cfgJson["model"]["params"].erase("layout_channels");
                cfgJson["model"]["params"]["unet_config"]["params"]["in_channels"] = 4;
            } else if (!sr && o.layoutChannels > 0 && o.layoutChannels != text::kWorldLayoutChannels) {
                fail(ErrorKind::InvalidInput,
                    "train: --layout-channels must be 0 or " + std::to_string(text::kWorldLayoutChannels));
            }
            if (o.zeroTerminalSnr) {
                // SD's linear schedule leaves 7% of the signal at t = T; rescaled to zero terminal SNR the model must
                // take the whole layout from the condition at the start of sampling (tried for the bundled model:
                // MODEL_CARD.md).
                cfgJson["model"]["params"]["rescale_betas_zero_snr"] = true;
                cfgJson["model"]["params"]["parameterization"] = "v";
            }
            io::writeFileAtomic(cfgFile, cfgJson.dump(2));
        }
        auto cfg = models::configFromLdmJson(cfgJson);
        auto model = models::LatentModel::build(cfg, fopts);
        {
            io::SafeTensorsFile w(aeFiles.weights());
            loadInto(*model->firstStage, w, "");
        }
        // Latent scale: 1 / std of the latents (as SD's 0.18215), measured on training scenes.
        double scale = 1.0;
        {
            torch::NoGradGuard ng;
            uint64_t c = 1u << 30;
            auto b = makeBatch(c, 64);
            auto z = model->firstStage->encode(b.images.to(device));
            scale = 1.0 / z.std().item<double>();
        }
        model->config.scaleFactor = scale;
        initForTraining(*model->unet, o.seed + 1);
        std::vector<at::Tensor> params = trainable(*model->unet);
        if (model->bert) {
            initForTraining(*model->bert, o.seed + 2);
            auto more = trainable(*model->bert);
            params.insert(params.end(), more.begin(), more.end());
        }
        if (!o.init.empty() && !(o.resume && fs::exists(files.weights()))) {
            io::SafeTensorsFile w(o.init);
            warmStart(*model->unet, w, "model.diffusion_model.", o.log);
            if (model->bert)
                warmStart(*model->bert, w, "cond_stage_model.transformer.", o.log);
        }
        for (auto& p : model->firstStage->parameters())
            p.set_requires_grad(false);
        const int steps = o.steps > 0 ? o.steps : (sr ? 3000 : 8000);
        const int batch = o.batch > 0 ? o.batch : 32;
        torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr > 0 ? o.lr : 5e-4).weight_decay(0.0));
        Ema ema(params, 0.999);
        int start = 0;
        if (o.resume && fs::exists(files.weights())) {
            io::SafeTensorsFile w(files.weights());
            loadInto(*model->unet, w, "model.diffusion_model.");
            if (model->bert)
                loadInto(*model->bert, w, "cond_stage_model.transformer.");
            if (fs::exists(files.optimizer()))
                torch::load(opt, files.optimizer().string());
            if (fs::exists(files.dir / "ema.safetensors")) {
                io::SafeTensorsFile e(files.dir / "ema.safetensors");
                for (size_t i = 0; i < ema.shadow.size(); ++i)
                    ema.shadow[i].copy_(e.load("p" + std::to_string(i)));
            }
            start = readStep(files);
            o.log("resuming " + o.stage + " at step " + std::to_string(start));
        }
        auto acp = model->schedule.alphasCumprod.to(device);
        auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed * 977 + start);
        const int count = o.dataset > 0 ? o.dataset : 32768;
        const LatentSet data = latentSet(
            *model, scale, count, sr, files.dir / "latents.safetensors", sr ? 500000000ull : 0, device, o.log);
        Progress pr { o.log, o.stage, steps, Clock::now(), start };
        const double baseLr = o.lr > 0 ? o.lr : 1e-3;
        for (int step = start + 1; step <= steps; ++step) {
            auto idx = at::randint(0, count, { batch }, gen, at::TensorOptions().dtype(at::kLong));
            std::vector<Scene> scenes;
            for (int k = 0; k < batch; ++k)
                scenes.push_back(data.scenes[static_cast<size_t>(idx[k].item<int64_t>())]);
            idx = idx.to(device);
            at::Tensor z0 = data.z.index_select(0, idx), concat, ctx;
            if (sr) {
                concat = data.lr.index_select(0, idx);
            } else {
                auto c = conditionFor(scenes, gen, true, cfg.layoutChannels, z0.size(2), z0.size(3));
                ctx = model->bert(c.tokens.to(device));
                if (c.layout.defined())
                    concat = c.layout.to(device);
            }
            auto t = at::randint(0, 1000, { batch }, gen, at::TensorOptions().dtype(at::kLong)).to(device);
            auto noise = at::randn(z0.sizes(), gen, at::TensorOptions().dtype(at::kFloat)).to(device);
            auto a = acp.index_select(0, t).view({ -1, 1, 1, 1 });
            auto xt = a.sqrt() * z0 + (1 - a).sqrt() * noise;
            auto in = concat.defined() ? at::cat({ xt, concat }, 1) : xt;
            auto pred = model->unet(in, t, ctx);
            auto l = diffusionLoss(pred, z0, noise, a, model->config.parameterization == "v").mean();
            // Linear warm-up, then cosine decay to 10%.
            const double warm = std::min(1.0, step / 200.0);
            const double cosine = 0.55 + 0.45 * std::cos(M_PI * step / static_cast<double>(steps));
            for (auto& g : opt.param_groups())
                static_cast<torch::optim::AdamWOptions&>(g.options()).lr(baseLr * warm * cosine);
            opt.zero_grad();
            l.backward();
            torch::nn::utils::clip_grad_norm_(params, 1.0);
            opt.step();
            ema.update(params, step);
            pr.step(step, l.item<double>());
            if (step % o.saveEvery == 0 || step == steps) {
                std::vector<std::pair<std::string, at::Tensor>> tsave;
                saveModule(*model->unet, "model.diffusion_model.", tsave);
                if (model->bert)
                    saveModule(*model->bert, "cond_stage_model.transformer.", tsave);
                io::writeSafeTensors(files.weights(), tsave);
                std::vector<std::pair<std::string, at::Tensor>> e;
                for (size_t i = 0; i < ema.shadow.size(); ++i)
                    e.emplace_back("p" + std::to_string(i), ema.shadow[i]);
                io::writeSafeTensors(files.dir / "ema.safetensors", e);
                torch::save(opt, files.optimizer().string());
                writeProgress(files, step, pr.avg, std::chrono::duration<double>(Clock::now() - pr.start).count());
                io::writeFileAtomic(files.dir / "scale.json", json({ { "scale_factor", scale } }).dump());
            }
        }
        return 0;
    }

    if (o.stage == "bundle") {
        if (o.bundleTo.empty())
            fail(ErrorKind::InvalidInput, "train bundle: --bundle-to FOLDER is required (e.g. resources/models)");
        // The fine-tuned decoder (same encoder, so the same latent space) when the decoder stage ran.
        const StageFiles decFiles { o.out / "decoder" };
        const fs::path firstStage = fs::exists(decFiles.weights()) ? decFiles.weights() : aeFiles.weights();
        o.log("bundle: first stage from " + firstStage.string());
        io::SafeTensorsFile ae(firstStage);
        for (const char* stage : { "diffusion", "sr" }) {
            StageFiles files { o.out / stage };
            if (!fs::exists(files.weights())) {
                o.log(std::string("bundle: skipping ") + stage + " (not trained)");
                continue;
            }
            const bool sr = std::string(stage) == "sr";
            json cfgJson = fs::exists(files.dir / "config.json") ? io::readConfigFile(files.dir / "config.json")
                                                                 : (sr ? bundledSrConfig() : bundledDiffusionConfig());
            std::ifstream sin(files.dir / "scale.json");
            cfgJson["model"]["params"]["scale_factor"] = json::parse(sin)["scale_factor"];
            auto cfg = models::configFromLdmJson(cfgJson);
            auto model = models::LatentModel::build(cfg, at::TensorOptions().dtype(at::kFloat));
            loadInto(*model->firstStage, ae, "");
            io::SafeTensorsFile w(files.weights());
            loadInto(*model->unet, w, "model.diffusion_model.");
            if (model->bert)
                loadInto(*model->bert, w, "cond_stage_model.transformer.");
            // EMA weights are what ships.
            if (fs::exists(files.dir / "ema.safetensors")) {
                io::SafeTensorsFile e(files.dir / "ema.safetensors");
                for (auto& p : model->unet->parameters())
                    p.set_requires_grad(true);
                std::vector<at::Tensor> params = trainable(*model->unet);
                if (model->bert) {
                    for (auto& p : model->bert->parameters())
                        p.set_requires_grad(true);
                    auto more = trainable(*model->bert);
                    params.insert(params.end(), more.begin(), more.end());
                }
                torch::NoGradGuard ng;
                for (size_t i = 0; i < params.size(); ++i)
                    params[i].detach().copy_(e.load("p" + std::to_string(i)));
            }
            const fs::path dest = o.bundleTo / (sr ? "default-sr" : "default");
            fs::create_directories(dest);
            std::vector<std::pair<std::string, at::Tensor>> all;
            model->forEachTensor(
                [&](const std::string& k, at::Tensor& t) { all.emplace_back(k, t.detach().to(at::kHalf)); });
            auto s = model->schedule;
            all.emplace_back("alphas_cumprod", s.alphasCumprod);
            io::writeSafeTensors(dest / "model.safetensors", all, { { "format", "pt" }, { "latent_studio", stage } });
            io::writeFileAtomic(dest / "model.json", cfgJson.dump(2));
            o.log("bundled " + (dest / "model.safetensors").string());
        }
        return 0;
    }
    fail(ErrorKind::InvalidInput,
        "train: unknown stage '" + o.stage + "' (autoencoder, decoder, diffusion, sr, bundle)");
}

} // namespace ls::train

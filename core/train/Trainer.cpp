#include "train/Trainer.h"
#include "train/TrainParts.h"

#include "pipeline/Names.h"

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

json baseParams()
{
    json p;
    p["linear_start"] = 0.00085;
    p["linear_end"] = 0.012;
    p["timesteps"] = 1000;
    p["parameterization"] = "eps";
    p["scale_factor"] = 1.0; // replaced by 1/std of the trained autoencoder's latents
    p["first_stage_config"] = json::parse(detail::kAutoencoder);
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

} // namespace ls::train

namespace ls::train::detail {

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

} // namespace ls::train::detail

namespace ls::train {

int runTraining(const TrainOptions& o0)
{
    detail::TrainRun r { o0 };
    if (!r.o.log)
        r.o.log = [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); };
    if (r.o.out.empty())
        fail(ErrorKind::InvalidInput, "train: --out is required");
    r.device
        = pipeline::findDevice(r.o.device) == pipeline::Device::Cuda ? at::Device(at::kCUDA) : at::Device(at::kCPU);
    if (r.device.is_cuda() && !at::hasCUDA())
        fail(ErrorKind::Unsupported, "train: this libtorch build has no CUDA");
    r.fopts = at::TensorOptions().dtype(at::kFloat).device(r.device);
    r.aeFiles = detail::StageFiles { r.o.out / "autoencoder" };
    const std::string& stage = r.o.stage;
    if (stage == "autoencoder")
        return detail::trainAutoencoder(r);
    if (stage == "decoder")
        return detail::trainDecoder(r);
    if (stage == "diffusion" || stage == "sr")
        return detail::trainDiffusion(r);
    if (stage == "bundle")
        return detail::bundleModels(r);
    fail(ErrorKind::InvalidInput, "train: unknown stage '" + stage + "' (autoencoder, decoder, diffusion, sr, bundle)");
}

} // namespace ls::train

// The training stages of the bundled family (train/Trainer.h): the autoencoder, the decoder fine-tuned on its frozen
// encoder, the diffusion and super-resolution UNets, and the bundle that ships them.
#include "train/TrainParts.h"

#include "io/ConfigFile.h"
#include "io/SafeTensors.h"
#include "text/WorldLayout.h"
#include "train/Trainer.h"
#include "util/Error.h"

#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include <fstream>

namespace ls::train::detail {

using nlohmann::json;

int trainAutoencoder(const TrainRun& r)
{
    const TrainOptions& o = r.o;
    const at::Device device = r.device;
    const auto fopts = r.fopts;
    const StageFiles& aeFiles = r.aeFiles;
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

int trainDecoder(const TrainRun& r)
{
    const TrainOptions& o = r.o;
    const at::Device device = r.device;
    const auto fopts = r.fopts;
    const StageFiles& aeFiles = r.aeFiles;
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
        fail(ErrorKind::InvalidInput, "train decoder: --latent-noise must be in [0, 2] (latent standard deviations)");
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

// The stage's configuration is fixed when it starts (config.json in the stage folder) and read back by --resume and by
// bundle, so a stage keeps its architecture whatever the current defaults are.
json stageConfig(const TrainOptions& o, const StageFiles& files, bool sr)
{
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
    return cfgJson;
}

// The UNet (and BERT) weights, their EMA, the optimiser and the step of a diffusion stage.
void saveDiffusion(models::LatentModel& model, torch::optim::AdamW& opt, const Ema& ema, const StageFiles& files,
    int step, const Progress& pr, double scale)
{
    std::vector<std::pair<std::string, at::Tensor>> tsave;
    saveModule(*model.unet, "model.diffusion_model.", tsave);
    if (model.bert)
        saveModule(*model.bert, "cond_stage_model.transformer.", tsave);
    io::writeSafeTensors(files.weights(), tsave);
    std::vector<std::pair<std::string, at::Tensor>> e;
    for (size_t i = 0; i < ema.shadow.size(); ++i)
        e.emplace_back("p" + std::to_string(i), ema.shadow[i]);
    io::writeSafeTensors(files.dir / "ema.safetensors", e);
    torch::save(opt, files.optimizer().string());
    writeProgress(files, step, pr.avg, std::chrono::duration<double>(Clock::now() - pr.start).count());
    io::writeFileAtomic(files.dir / "scale.json", json({ { "scale_factor", scale } }).dump());
}

// Reads back what saveDiffusion wrote; returns the step to continue from.
int resumeDiffusion(
    models::LatentModel& model, torch::optim::AdamW& opt, Ema& ema, const StageFiles& files, const TrainOptions& o)
{
    io::SafeTensorsFile w(files.weights());
    loadInto(*model.unet, w, "model.diffusion_model.");
    if (model.bert)
        loadInto(*model.bert, w, "cond_stage_model.transformer.");
    if (fs::exists(files.optimizer()))
        torch::load(opt, files.optimizer().string());
    if (fs::exists(files.dir / "ema.safetensors")) {
        io::SafeTensorsFile e(files.dir / "ema.safetensors");
        for (size_t i = 0; i < ema.shadow.size(); ++i)
            ema.shadow[i].copy_(e.load("p" + std::to_string(i)));
    }
    const int start = readStep(files);
    o.log("resuming " + o.stage + " at step " + std::to_string(start));
    return start;
}

int trainDiffusion(const TrainRun& r)
{
    const TrainOptions& o = r.o;
    const at::Device device = r.device;
    const auto fopts = r.fopts;
    const StageFiles& aeFiles = r.aeFiles;
    const bool sr = o.stage == "sr";
    StageFiles files { o.out / o.stage };
    fs::create_directories(files.dir);
    if (!fs::exists(aeFiles.weights()))
        fail(ErrorKind::InvalidInput,
            "train " + o.stage + ": train the autoencoder first (" + aeFiles.weights().string() + " not found)");
    const json cfgJson = stageConfig(o, files, sr);
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
    if (o.resume && fs::exists(files.weights()))
        start = resumeDiffusion(*model, opt, ema, files, o);
    auto acp = model->schedule.alphasCumprod.to(device);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed * 977 + start);
    const int count = o.dataset > 0 ? o.dataset : 32768;
    const LatentSet data
        = latentSet(*model, scale, count, sr, files.dir / "latents.safetensors", sr ? 500000000ull : 0, device, o.log);
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
        if (step % o.saveEvery == 0 || step == steps)
            saveDiffusion(*model, opt, ema, files, step, pr, scale);
    }
    return 0;
}

int bundleModels(const TrainRun& r)
{
    const TrainOptions& o = r.o;
    const StageFiles& aeFiles = r.aeFiles;
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

} // namespace ls::train::detail

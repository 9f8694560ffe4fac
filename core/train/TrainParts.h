#pragma once
// What the training stages share (Trainer.cpp, TrainStages.cpp): the first stage's architecture, batches of scenes,
// progress lines, stage folders, losses, conditions, the EMA and the cached latents. Internal to train/.
#include "models/LatentModel.h"
#include "train/SyntheticWorld.h"
#include "train/TrainOptions.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace ls::io {
class WeightSource;
}

namespace ls::train::detail {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The bundled family's first stage: KL autoencoder, f4, 4 latent channels.
inline const char* const kAutoencoder
    = R"({"target": "ldm.models.autoencoder.AutoencoderKL", "params": {"embed_dim": 4, "ddconfig": {
  "double_z": true, "z_channels": 4, "resolution": 64, "in_channels": 3, "out_ch": 3, "ch": 32, "ch_mult": [1, 2, 2],
  "num_res_blocks": 1, "attn_resolutions": [], "dropout": 0.0}}})";

// PyTorch-default-like initialisation; output layers of residual branches start at zero (as the original code).
void initForTraining(torch::nn::Module& m, uint64_t seed);

std::vector<at::Tensor> trainable(torch::nn::Module& m);

void saveModule(torch::nn::Module& m, const std::string& prefix, std::vector<std::pair<std::string, at::Tensor>>& out);

void loadInto(torch::nn::Module& m, const io::WeightSource& w, const std::string& prefix);

// A batch of training scenes as [B, 3, 64, 64] in [-1, 1] plus the scenes.
struct Batch {
    at::Tensor images;
    std::vector<Scene> scenes;
};

Batch makeBatch(uint64_t& cursor, int b);

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

int readStep(const StageFiles& f);

void writeProgress(const StageFiles& f, int step, double loss, double seconds);

// Per-pixel loss weights of the first stage: objects cover a small part of each image, so their pixels (and, with
// ring > 0, the background within `ring` pixels of them, where a shape's outline is decided) weigh 10, the rest 1.
at::Tensor objectWeight(const at::Tensor& x, const std::vector<Scene>& scenes, int ring);

// The first stage's reconstruction loss: L1 + L2/2 per pixel, weighted by objectWeight(ring).
at::Tensor reconstructionLoss(const at::Tensor& rec, const at::Tensor& x, const std::vector<Scene>& scenes, int ring);

// A checkpoint of the autoencoder or decoder stage: every autoencoder tensor, the optimiser, the step.
void saveFirstStage(
    models::AutoencoderImpl& ae, torch::optim::Optimizer& opt, const StageFiles& files, int step, const Progress& pr);

at::Tensor klLoss(const at::Tensor& mean, const at::Tensor& logvar);

// Token sequences with condition dropout (caption only, boxes only, both, or nothing for guidance) and, for models
// with layout channels, the same boxes painted at the latent's size ([B, kWorldLayoutChannels, h, w]).
struct Condition {
    at::Tensor tokens, layout;
};

Condition conditionFor(
    const std::vector<Scene>& scenes, at::Generator& gen, bool dropout, int64_t layoutChannels, int64_t h, int64_t w);

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
    uint64_t first, const at::Device& device, const std::function<void(const std::string&)>& log);

// A training run: its options (with a log), device and the autoencoder stage's folder, which every stage reads.
struct TrainRun {
    TrainOptions o;
    at::Device device = at::kCPU;
    at::TensorOptions fopts;
    StageFiles aeFiles;
};

// The stages (TrainStages.cpp).
int trainAutoencoder(const TrainRun& r);
int trainDecoder(const TrainRun& r);
int trainDiffusion(const TrainRun& r);
int bundleModels(const TrainRun& r);

} // namespace ls::train::detail

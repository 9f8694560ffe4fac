#pragma once
// Training of the bundled default model family, one stage at a time, each seeded and resumable:
//   autoencoder  KL-regularised, f4, 4 latent channels, trained once and shared by the other stages;
//   diffusion    text-and-layout UNet with cross-attention on one token sequence (caption + box tokens), condition
//                dropout for classifier-free guidance (serves txt2img, layout, img2img and inpainting);
//   sr           4x super-resolution UNet conditioned by concatenating the low-resolution image (as LDM-SR).
// `bundle` writes the trained weights as single-file checkpoints with a JSON config beside them, loadable like any
// user checkpoint.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

namespace torch::nn {
class Module;
}
namespace ls::io {
class WeightSource;
}

namespace ls::train {

struct TrainOptions {
    std::string stage; // autoencoder | decoder | diffusion | sr | bundle
    std::filesystem::path out; // work folder: <out>/<stage>/ holds checkpoints and progress
    int steps = 0; // 0 = the stage's default
    int batch = 0; // 0 = the stage's default
    double lr = 0; // 0 = the stage's default
    std::string device = "cpu";
    bool resume = false;
    uint64_t seed = 1;
    int saveEvery = 250;
    int dataset = 0; // diffusion/sr: training scenes encoded once and cached (0 = default 32768)
    int coordChannels = -1; // diffusion: UNet coordinate channels, 0 or 2 (-1 = the family's default, 2)
    int layoutChannels = -1; // diffusion: layout channels painted from the boxes, 0 or 7 (-1 = the family's default, 7)
    bool zeroTerminalSnr = false; // diffusion/sr: zero-terminal-SNR schedule with v-prediction (else SD's linear, eps)
    double latentNoise = 0.2; // decoder: latents perturbed by Gaussian noise of up to this many latent std
    std::filesystem::path init; // diffusion/sr: warm start from this checkpoint (a bundled model.safetensors)
    std::filesystem::path bundleTo; // bundle: resources/models
    std::function<void(const std::string&)> log; // progress lines (stderr by default)
};

int runTraining(const TrainOptions& options);

// The configurations of the bundled family, in the original LatentDiffusion params form (with "family").
nlohmann::json bundledDiffusionConfig();
nlohmann::json bundledSrConfig();

// Per-sample training loss of a diffusion stage for x_t = sqrt(acp) z0 + sqrt(1 - acp) noise ([B, C, H, W]; acp
// [B, 1, 1, 1]): eps-prediction with min-SNR-5 weights, or v-prediction (target sqrt(acp) noise - sqrt(1 - acp) z0)
// with the x0 error weighted by min(SNR + 1, 6).
at::Tensor diffusionLoss(
    const at::Tensor& pred, const at::Tensor& z0, const at::Tensor& noise, const at::Tensor& acp, bool v);

// Warm start (`train --init`): copies prefix+name for every parameter of m from w. Equal shapes are copied; a tensor
// that grew in any dimension (conv_in gaining coordinate channels) gets the old values in its leading slice and zeros
// elsewhere, so the model computes what the old one did until training moves the new weights. A tensor that does not
// fit is an error naming it; a missing one keeps its initialisation (logged).
void warmStart(torch::nn::Module& m, const io::WeightSource& w, const std::string& prefix,
    const std::function<void(const std::string&)>& log);

} // namespace ls::train

#pragma once
// Training of the bundled default model family, one stage at a time, each seeded and resumable:
//   autoencoder  KL-regularised, f4, 4 latent channels, trained once and shared by the other stages;
//   diffusion    text-and-layout UNet with cross-attention on one token sequence (caption + box tokens), condition
//                dropout for classifier-free guidance (serves txt2img, layout, img2img and inpainting);
//   sr           4x super-resolution UNet conditioned by concatenating the low-resolution image (as LDM-SR).
// `bundle` writes the trained weights as single-file checkpoints with a JSON config beside them, loadable like any
// user checkpoint.
#include "train/TrainOptions.h"

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

#pragma once
// ControlNet (Zhang et al. 2023, lllyasviel/ControlNet cldm/cldm.py): a trainable copy of the UNet's encoder (time
// embedding, input blocks, middle block) that reads a control image through input_hint_block (eight convolutions from
// the picture's size down to the latent's, added once after input_blocks[0]) and hands the UNet one residual per input
// block (zero_convs[i]) and one for the middle block (middle_block_out). Keys as in the original files under
// `control_model.` (or bare, as sd-webui-controlnet extracts them).
#include "models/unet/UNet.h"

namespace ls::models {

struct ControlNetImpl : UNetModelImpl {
    ControlNetImpl(const UNetConfig& config, int64_t hintChannels, const nn::Options& o);
    // x [B, C, h, w] (the UNet's input), hint [B, hintChannels, 8h, 8w] in [0, 1] (inpaint: -1 on masked pixels),
    // timesteps, context -> the residuals, input blocks first, the middle block's last.
    std::vector<at::Tensor> residuals(const at::Tensor& x, const at::Tensor& hint, const at::Tensor& timesteps,
        const at::Tensor& context, const at::Tensor& y = {}, at::Tensor* guidedHint = nullptr);

    int64_t hintChannels;
    std::vector<nn::Conv2d> input_hint_block; // keys input_hint_block.0, .2, ..., .14 (SiLU between)
    std::vector<nn::Conv2d> zero_convs; // zero_convs.i.0
    nn::Conv2d middle_block_out { nullptr }; // middle_block_out.0
};
TORCH_MODULE(ControlNet);

// The control scales of the original code for n residuals: strength for each (normal mode), or, in guess mode,
// strength * 0.825^(12 - i) for i = 0..12 truncated to n (zip in cldm: a smaller model's middle block gets
// 0.825^(12 - (n-1))).
std::vector<double> controlScales(size_t n, double strength, bool guessMode);

} // namespace ls::models

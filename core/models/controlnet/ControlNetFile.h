#pragma once
// Reading a ControlNet file for a loaded model: lllyasviel's v1.1 `.pth` (control_model.* only), the v1.0
// control_sd15_*.pth whole checkpoints (control_model.* beside the model's own keys, which are ignored here), files
// extracted by sd-webui-controlnet (bare keys, often fp16), and "diff" files (a `difference` key: the control keys hold
// differences from the base UNet's weights). Strict: every key of the ControlNet must be there with its shape, and a
// ControlNet made for another model family is refused naming both.
#include "io/WeightSource.h"
#include "models/controlnet/ControlNet.h"

namespace ls::models {

struct ControlNetInfo {
    std::string prefix; // "control_model." or ""
    bool difference = false; // stored as differences from the base UNet
    int64_t hintChannels = 3;
};

// What the file holds (throws Format / Unsupported naming the file when it is not a ControlNet).
ControlNetInfo inspectControlNet(const io::WeightSource& weights);

// Builds the ControlNet for a model whose UNet is `base` (its configuration; with its weights when the file stores
// differences) and loads it strictly.
ControlNet loadControlNet(const io::WeightSource& weights, const UNetConfig& base, const at::TensorOptions& options,
    const UNetModel* baseWeights = nullptr);

} // namespace ls::models

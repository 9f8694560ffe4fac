#pragma once
// The OpenCLIP ViT-H/14 text tower of SD2 (FrozenOpenCLIPEmbedder, keys under `cond_stage_model.model.`).
// SD2 uses the penultimate layer's output passed through ln_final.
#include "models/Layers.h"

#include <nlohmann/json_fwd.hpp>

namespace ls::models {

struct OpenClipTextConfig {
    int64_t vocabSize = 49408;
    int64_t width = 1024;
    int64_t layers = 24;
    int64_t heads = 16;
    int64_t mlp = 4096;
    int64_t contextLength = 77;
    int64_t embedDim = 1024; // text_projection output
    bool operator==(const OpenClipTextConfig&) const = default;
    nlohmann::json toJson() const;
};

struct OpenClipTextModelImpl : torch::nn::Module {
    OpenClipTextModelImpl(const OpenClipTextConfig& c, const nn::Options& o);
    // skipLast 1 = "penultimate" (SD2 default), 0 = "last".
    at::Tensor forward(const at::Tensor& ids, int skipLast = 1);

    OpenClipTextConfig config;
    struct Block;
    std::vector<std::shared_ptr<Block>> blocks;
    at::Tensor positional_embedding, text_projection, logit_scale;
    nn::Embedding token_embedding { nullptr };
    nn::LayerNorm ln_final { nullptr };
};
TORCH_MODULE(OpenClipTextModel);

} // namespace ls::models

#pragma once
// The OpenCLIP text tower: ViT-H/14 in SD2 (FrozenOpenCLIPEmbedder, keys under `cond_stage_model.model.`), which uses
// the penultimate layer's output passed through ln_final; ViT-bigG/14 in SDXL (FrozenOpenCLIPEmbedder2, keys under
// `conditioner.embedders.1.model.`), which uses the penultimate layer's output without ln_final and a pooled vector.
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
    // SDXL (FrozenOpenCLIPEmbedder2, legacy False): the penultimate hidden state (input of the last block, no
    // ln_final) and pooled = ln_final(last hidden state)[b, argmax(ids[b])] @ text_projection. all: every hidden state
    // ([0] = embeddings) when given.
    struct Pooled {
        at::Tensor penultimate, pooled, last;
    };
    Pooled forwardPooled(const at::Tensor& ids, std::vector<at::Tensor>* all = nullptr);

    OpenClipTextConfig config;
    struct Block;
    std::vector<std::shared_ptr<Block>> blocks;
    at::Tensor positional_embedding, text_projection, logit_scale;
    nn::Embedding token_embedding { nullptr };
    nn::LayerNorm ln_final { nullptr };
};
TORCH_MODULE(OpenClipTextModel);

} // namespace ls::models

#pragma once
// The x-transformer encoder ("BERTEmbedder", use_tokenizer false) of the LDM layout2img model, keys under
// `cond_stage_model.transformer.`: pre-norm blocks, 8 heads x 64 (inner 512 whatever the width), exact GELU.
#include "models/Layers.h"

namespace ls::models {

struct BertConfig {
    int64_t nEmbed = 512;
    int64_t nLayer = 16;
    int64_t vocabSize = 8192;
    int64_t maxSeqLen = 92;
    bool operator==(const BertConfig&) const = default;
};

struct BertEmbedderImpl : torch::nn::Module {
    BertEmbedderImpl(const BertConfig& c, const nn::Options& o);
    at::Tensor forward(const at::Tensor& tokens); // [B, T] int64 -> [B, T, D]
    // Debug taps for the golden case: the embedding sum and the input of each attention block.
    std::vector<at::Tensor> taps;

    BertConfig config;
    struct Attn;
    struct FF;
    std::vector<std::pair<nn::LayerNorm, std::shared_ptr<Attn>>> attn;
    std::vector<std::pair<nn::LayerNorm, std::shared_ptr<FF>>> ff;
    nn::Embedding token_emb { nullptr }, pos_emb { nullptr };
    nn::LayerNorm norm { nullptr };
    nn::Linear to_logits { nullptr };
};
TORCH_MODULE(BertEmbedder);

} // namespace ls::models

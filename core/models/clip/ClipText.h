#pragma once
// The CLIP text transformer of SD1 in Hugging Face CLIPTextModel naming (keys under
// `cond_stage_model.transformer.text_model.`): quick_gelu, causal mask only, layer_norm eps 1e-5.
#include "models/Layers.h"

#include <nlohmann/json_fwd.hpp>

namespace ls::models {

struct ClipTextConfig {
    int64_t vocabSize = 49408;
    int64_t hiddenSize = 768;
    int64_t intermediateSize = 3072;
    int64_t numLayers = 12;
    int64_t numHeads = 12;
    int64_t maxPositions = 77;
    bool quickGelu = true;
    double layerNormEps = 1e-5;
    static ClipTextConfig fromJson(const nlohmann::json& j); // HF CLIPTextConfig names
    nlohmann::json toJson() const;
    bool operator==(const ClipTextConfig&) const = default;
};

struct ClipTextOutput {
    at::Tensor lastHidden; // final_layer_norm(last layer)  [B, T, D]
    std::vector<at::Tensor> hiddenStates; // [0] = embeddings, [i] = after layer i (no final norm)
};

struct ClipTextModelImpl : torch::nn::Module {
    ClipTextModelImpl(const ClipTextConfig& c, const nn::Options& o);
    // clipSkip 1 = last layer; 2 = penultimate layer, both passed through final_layer_norm (A1111 semantics).
    at::Tensor forward(const at::Tensor& ids, int clipSkip = 1);
    ClipTextOutput forwardAll(const at::Tensor& ids);
    // The output of the first `layersRun` layers, without final_layer_norm (SDXL: numLayers - 1).
    at::Tensor hidden(const at::Tensor& ids, int64_t layersRun);
    at::Tensor embed(const at::Tensor& ids);

    ClipTextConfig config;
    struct Layer;
    std::vector<std::shared_ptr<Layer>> layers;
    nn::Embedding token_embedding { nullptr }, position_embedding { nullptr };
    at::Tensor position_ids;
    nn::LayerNorm final_layer_norm { nullptr };
};
TORCH_MODULE(ClipTextModel);

} // namespace ls::models

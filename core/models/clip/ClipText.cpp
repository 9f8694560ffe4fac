#include "models/clip/ClipText.h"

#include "util/Error.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace ls::models {

using nlohmann::json;
using nn::reg;

ClipTextConfig ClipTextConfig::fromJson(const json& j)
{
    ClipTextConfig c;
    c.vocabSize = j.value("vocab_size", c.vocabSize);
    c.hiddenSize = j.value("hidden_size", c.hiddenSize);
    c.intermediateSize = j.value("intermediate_size", c.intermediateSize);
    c.numLayers = j.value("num_hidden_layers", c.numLayers);
    c.numHeads = j.value("num_attention_heads", c.numHeads);
    c.maxPositions = j.value("max_position_embeddings", c.maxPositions);
    c.quickGelu = j.value("hidden_act", std::string("quick_gelu")) == "quick_gelu";
    c.layerNormEps = j.value("layer_norm_eps", c.layerNormEps);
    return c;
}

json ClipTextConfig::toJson() const
{
    return { { "vocab_size", vocabSize }, { "hidden_size", hiddenSize }, { "intermediate_size", intermediateSize },
        { "num_hidden_layers", numLayers }, { "num_attention_heads", numHeads },
        { "max_position_embeddings", maxPositions }, { "hidden_act", quickGelu ? "quick_gelu" : "gelu" },
        { "layer_norm_eps", layerNormEps } };
}

struct ClipTextModelImpl::Layer : torch::nn::Module {
    Layer(const ClipTextConfig& c, const nn::Options& o)
        : heads(c.numHeads)
        , quickGelu(c.quickGelu)
    {
        const int64_t d = c.hiddenSize;
        q_proj = reg(*this, "self_attn.q_proj", nn::Linear(d, d, true, o));
        k_proj = reg(*this, "self_attn.k_proj", nn::Linear(d, d, true, o));
        v_proj = reg(*this, "self_attn.v_proj", nn::Linear(d, d, true, o));
        out_proj = reg(*this, "self_attn.out_proj", nn::Linear(d, d, true, o));
        layer_norm1 = reg(*this, "layer_norm1", nn::LayerNorm(d, c.layerNormEps, o));
        fc1 = reg(*this, "mlp.fc1", nn::Linear(d, c.intermediateSize, true, o));
        fc2 = reg(*this, "mlp.fc2", nn::Linear(c.intermediateSize, d, true, o));
        layer_norm2 = reg(*this, "layer_norm2", nn::LayerNorm(d, c.layerNormEps, o));
    }
    at::Tensor forward(const at::Tensor& x, const at::Tensor& mask)
    {
        const int64_t b = x.size(0), t = x.size(1);
        auto h = layer_norm1(x);
        auto split = [&](const at::Tensor& y) { return y.view({ b, t, heads, -1 }).transpose(1, 2); };
        const double scale = 1.0 / std::sqrt(static_cast<double>(x.size(2) / heads));
        auto a = nn::attention(split(q_proj(h)), split(k_proj(h)), split(v_proj(h)), scale, mask);
        auto r = x + out_proj(a.transpose(1, 2).reshape({ b, t, -1 }));
        h = fc1(layer_norm2(r));
        h = quickGelu ? h * at::sigmoid(1.702 * h) : at::gelu(h);
        return r + fc2(h);
    }
    int64_t heads;
    bool quickGelu;
    nn::Linear q_proj { nullptr }, k_proj { nullptr }, v_proj { nullptr }, out_proj { nullptr }, fc1 { nullptr },
        fc2 { nullptr };
    nn::LayerNorm layer_norm1 { nullptr }, layer_norm2 { nullptr };
};

ClipTextModelImpl::ClipTextModelImpl(const ClipTextConfig& c, const nn::Options& o)
    : config(c)
{
    token_embedding = reg(*this, "embeddings.token_embedding", nn::Embedding(c.vocabSize, c.hiddenSize, o));
    position_embedding = reg(*this, "embeddings.position_embedding", nn::Embedding(c.maxPositions, c.hiddenSize, o));
    position_ids = nn::container(*this, "embeddings")
                       ->register_buffer("position_ids", at::arange(c.maxPositions, o.dtype(at::kLong)).unsqueeze(0));
    auto enc = nn::container(*this, "encoder.layers");
    for (int64_t i = 0; i < c.numLayers; ++i)
        layers.push_back(enc->register_module(std::to_string(i), std::make_shared<Layer>(c, o)));
    final_layer_norm = reg(*this, "final_layer_norm", nn::LayerNorm(c.hiddenSize, c.layerNormEps, o));
}

at::Tensor ClipTextModelImpl::embed(const at::Tensor& ids)
{
    // Positions are always 0..T-1: the stored position_ids buffer is loaded for key compatibility but not trusted
    // (some merged checkpoints carry corrupted, non-integer position_ids).
    auto pos = at::arange(ids.size(1), ids.options().dtype(at::kLong)).unsqueeze(0);
    return token_embedding(ids) + position_embedding(pos);
}

ClipTextOutput ClipTextModelImpl::forwardAll(const at::Tensor& ids)
{
    const int64_t t = ids.size(1);
    if (t > config.maxPositions)
        fail(ErrorKind::InvalidInput,
            "CLIP text encoder: " + std::to_string(t) + " tokens exceed the " + std::to_string(config.maxPositions)
                + " positions");
    ClipTextOutput out;
    auto x = embed(ids);
    auto mask = at::full({ t, t }, -std::numeric_limits<float>::infinity(), x.options()).triu(1);
    out.hiddenStates.push_back(x);
    for (auto& layer : layers) {
        x = layer->forward(x, mask);
        out.hiddenStates.push_back(x);
    }
    out.lastHidden = final_layer_norm(x);
    return out;
}

at::Tensor ClipTextModelImpl::hidden(const at::Tensor& ids, int64_t layersRun)
{
    const int64_t t = ids.size(1);
    if (t > config.maxPositions)
        fail(ErrorKind::InvalidInput,
            "CLIP text encoder: " + std::to_string(t) + " tokens exceed the " + std::to_string(config.maxPositions)
                + " positions");
    auto x = embed(ids);
    auto mask = at::full({ t, t }, -std::numeric_limits<float>::infinity(), x.options()).triu(1);
    for (int64_t i = 0; i < layersRun; ++i)
        x = layers[i]->forward(x, mask);
    return x;
}

at::Tensor ClipTextModelImpl::forward(const at::Tensor& ids, int clipSkip)
{
    const int64_t run = std::max<int64_t>(1, config.numLayers - std::max(0, clipSkip - 1));
    return final_layer_norm(hidden(ids, run));
}

} // namespace ls::models

#include "models/openclip/OpenClipText.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace ls::models {

using nn::reg;

nlohmann::json OpenClipTextConfig::toJson() const
{
    return { { "vocab_size", vocabSize }, { "width", width }, { "layers", layers }, { "heads", heads }, { "mlp", mlp },
        { "context_length", contextLength }, { "embed_dim", embedDim } };
}

struct OpenClipTextModelImpl::Block : torch::nn::Module {
    Block(const OpenClipTextConfig& c, const nn::Options& o)
        : heads(c.heads)
    {
        auto attn = nn::container(*this, "attn");
        in_proj_weight = attn->register_parameter("in_proj_weight", at::empty({ 3 * c.width, c.width }, o), false);
        in_proj_bias = attn->register_parameter("in_proj_bias", at::empty({ 3 * c.width }, o), false);
        out_proj = reg(*this, "attn.out_proj", nn::Linear(c.width, c.width, true, o));
        ln_1 = reg(*this, "ln_1", nn::LayerNorm(c.width, 1e-5, o));
        c_fc = reg(*this, "mlp.c_fc", nn::Linear(c.width, c.mlp, true, o));
        c_proj = reg(*this, "mlp.c_proj", nn::Linear(c.mlp, c.width, true, o));
        ln_2 = reg(*this, "ln_2", nn::LayerNorm(c.width, 1e-5, o));
    }
    at::Tensor forward(const at::Tensor& x, const at::Tensor& mask) // [B, T, D]
    {
        const int64_t b = x.size(0), t = x.size(1);
        auto qkv = at::linear(ln_1(x), nn::like(in_proj_weight, x), nn::like(in_proj_bias, x)).chunk(3, -1);
        auto split = [&](const at::Tensor& y) { return y.reshape({ b, t, heads, -1 }).transpose(1, 2); };
        const double scale = 1.0 / std::sqrt(static_cast<double>(x.size(2) / heads));
        auto a = nn::attention(split(qkv[0]), split(qkv[1]), split(qkv[2]), scale, mask);
        auto r = x + out_proj(a.transpose(1, 2).reshape({ b, t, -1 }));
        return r + c_proj(at::gelu(c_fc(ln_2(r))));
    }
    int64_t heads;
    at::Tensor in_proj_weight, in_proj_bias;
    nn::Linear out_proj { nullptr }, c_fc { nullptr }, c_proj { nullptr };
    nn::LayerNorm ln_1 { nullptr }, ln_2 { nullptr };
};

OpenClipTextModelImpl::OpenClipTextModelImpl(const OpenClipTextConfig& c, const nn::Options& o)
    : config(c)
{
    positional_embedding
        = register_parameter("positional_embedding", at::empty({ c.contextLength, c.width }, o), false);
    text_projection = register_parameter("text_projection", at::empty({ c.width, c.embedDim }, o), false);
    logit_scale = register_parameter("logit_scale", at::empty({}, o), false);
    token_embedding = reg(*this, "token_embedding", nn::Embedding(c.vocabSize, c.width, o));
    auto res = nn::container(*this, "transformer.resblocks");
    for (int64_t i = 0; i < c.layers; ++i)
        blocks.push_back(res->register_module(std::to_string(i), std::make_shared<Block>(c, o)));
    ln_final = reg(*this, "ln_final", nn::LayerNorm(c.width, 1e-5, o));
}

at::Tensor OpenClipTextModelImpl::forward(const at::Tensor& ids, int skipLast)
{
    const int64_t t = ids.size(1);
    auto x = token_embedding(ids);
    x = x + nn::like(positional_embedding.narrow(0, 0, t), x);
    auto mask = at::full({ t, t }, -std::numeric_limits<float>::infinity(), x.options()).triu(1);
    const int64_t run = static_cast<int64_t>(blocks.size()) - skipLast;
    for (int64_t i = 0; i < run; ++i)
        x = blocks[i]->forward(x, mask);
    return ln_final(x);
}

OpenClipTextModelImpl::Pooled OpenClipTextModelImpl::forwardPooled(const at::Tensor& ids, std::vector<at::Tensor>* all)
{
    const int64_t t = ids.size(1);
    auto x = token_embedding(ids);
    x = x + nn::like(positional_embedding.narrow(0, 0, t), x);
    auto mask = at::full({ t, t }, -std::numeric_limits<float>::infinity(), x.options()).triu(1);
    Pooled out;
    if (all)
        all->push_back(x);
    for (size_t i = 0; i < blocks.size(); ++i) {
        if (i + 1 == blocks.size())
            out.penultimate = x;
        x = blocks[i]->forward(x, mask);
        if (all)
            all->push_back(x);
    }
    out.last = x;
    auto normed = ln_final(x);
    auto eot = ids.argmax(-1).cpu(); // the end token has the largest id; padding is 0
    std::vector<at::Tensor> picked;
    for (int64_t b = 0; b < ids.size(0); ++b)
        picked.push_back(normed.select(0, b).select(0, eot[b].item<int64_t>()));
    auto rows = at::stack(picked); // [B, W]
    out.pooled = at::matmul(rows, nn::like(text_projection, rows));
    return out;
}

} // namespace ls::models

#include "models/bert/BertEmbedder.h"

namespace ls::models {

using nn::reg;

namespace {
constexpr int64_t kHeads = 8;
constexpr int64_t kDimHead = 64;
} // namespace

struct BertEmbedderImpl::Attn : torch::nn::Module {
    Attn(int64_t d, const nn::Options& o)
    {
        to_q = reg(*this, "to_q", nn::Linear(d, kHeads * kDimHead, false, o));
        to_k = reg(*this, "to_k", nn::Linear(d, kHeads * kDimHead, false, o));
        to_v = reg(*this, "to_v", nn::Linear(d, kHeads * kDimHead, false, o));
        to_out = reg(*this, "to_out", nn::Linear(kHeads * kDimHead, d, true, o));
    }
    at::Tensor forward(const at::Tensor& x)
    {
        const int64_t b = x.size(0), t = x.size(1);
        auto split = [&](const at::Tensor& y) { return y.view({ b, t, kHeads, kDimHead }).transpose(1, 2); };
        auto a = nn::attention(split(to_q(x)), split(to_k(x)), split(to_v(x)), 1.0 / 8.0);
        return to_out(a.transpose(1, 2).reshape({ b, t, -1 }));
    }
    nn::Linear to_q { nullptr }, to_k { nullptr }, to_v { nullptr }, to_out { nullptr };
};

struct BertEmbedderImpl::FF : torch::nn::Module {
    FF(int64_t d, const nn::Options& o)
    {
        fc = reg(*this, "net.0.0", nn::Linear(d, 4 * d, true, o));
        out = reg(*this, "net.2", nn::Linear(4 * d, d, true, o));
    }
    at::Tensor forward(const at::Tensor& x) { return out(at::gelu(fc(x))); }
    nn::Linear fc { nullptr }, out { nullptr };
};

BertEmbedderImpl::BertEmbedderImpl(const BertConfig& c, const nn::Options& o)
    : config(c)
{
    token_emb = reg(*this, "token_emb", nn::Embedding(c.vocabSize, c.nEmbed, o));
    pos_emb = reg(*this, "pos_emb.emb", nn::Embedding(c.maxSeqLen, c.nEmbed, o));
    for (int64_t i = 0; i < c.nLayer; ++i) {
        const std::string a = "attn_layers.layers." + std::to_string(2 * i);
        const std::string f = "attn_layers.layers." + std::to_string(2 * i + 1);
        auto n1 = reg(*this, a + ".0", nn::LayerNorm(c.nEmbed, 1e-5, o));
        auto m1 = reg(*this, a + ".1", std::make_shared<Attn>(c.nEmbed, o));
        attn.emplace_back(n1, m1);
        auto n2 = reg(*this, f + ".0", nn::LayerNorm(c.nEmbed, 1e-5, o));
        auto m2 = reg(*this, f + ".1", std::make_shared<FF>(c.nEmbed, o));
        ff.emplace_back(n2, m2);
    }
    norm = reg(*this, "norm", nn::LayerNorm(c.nEmbed, 1e-5, o));
    to_logits = reg(*this, "to_logits", nn::Linear(c.nEmbed, c.vocabSize, true, o)); // in checkpoints, unused
}

at::Tensor BertEmbedderImpl::forward(const at::Tensor& tokens)
{
    taps.clear();
    auto pos = at::arange(tokens.size(1), tokens.options().dtype(at::kLong));
    auto x = token_emb(tokens) + pos_emb(pos).unsqueeze(0);
    taps.push_back(x);
    for (size_t i = 0; i < attn.size(); ++i) {
        taps.push_back(x);
        x = x + attn[i].second->forward(attn[i].first(x));
        x = x + ff[i].second->forward(ff[i].first(x));
    }
    return norm(x);
}

} // namespace ls::models

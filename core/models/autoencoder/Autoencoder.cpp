#include "models/autoencoder/Autoencoder.h"

#include "util/Error.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace ls::models {

using nlohmann::json;
using nn::Options;
using nn::reg;

AutoencoderConfig AutoencoderConfig::fromJson(const json& in)
{
    AutoencoderConfig c;
    const std::string target = in.value("target", std::string());
    const json& p = in.contains("params") ? in["params"] : in;
    c.vq = target.find("VQ") != std::string::npos || p.contains("n_embed");
    c.embedDim = p.value("embed_dim", int64_t(4));
    c.nEmbed = p.value("n_embed", int64_t(0));
    if (!p.contains("ddconfig"))
        fail(ErrorKind::InvalidInput, "first stage config: missing ddconfig");
    const json& d = p["ddconfig"];
    c.doubleZ = d.value("double_z", true);
    c.zChannels = d.value("z_channels", int64_t(4));
    c.inChannels = d.value("in_channels", int64_t(3));
    c.outCh = d.value("out_ch", int64_t(3));
    c.ch = d.value("ch", int64_t(128));
    c.chMult = d.value("ch_mult", std::vector<int64_t> { 1, 2, 4, 4 });
    c.numResBlocks = d.value("num_res_blocks", int64_t(2));
    c.attnResolutions = d.value("attn_resolutions", std::vector<int64_t> {});
    c.resolution = d.value("resolution", int64_t(256));
    return c;
}

json AutoencoderConfig::toJson() const
{
    json d = { { "double_z", doubleZ }, { "z_channels", zChannels }, { "resolution", resolution },
        { "in_channels", inChannels }, { "out_ch", outCh }, { "ch", ch }, { "ch_mult", chMult },
        { "num_res_blocks", numResBlocks }, { "attn_resolutions", attnResolutions }, { "dropout", 0.0 } };
    json p = { { "embed_dim", embedDim }, { "ddconfig", d } };
    if (vq)
        p["n_embed"] = nEmbed;
    return { { "target", vq ? "ldm.models.autoencoder.VQModelInterface" : "ldm.models.autoencoder.AutoencoderKL" },
        { "params", p } };
}

namespace {

constexpr double kEps = 1e-6; // Normalize(): GroupNorm(32, eps=1e-6)

at::Tensor swish(const at::Tensor& x) { return at::silu(x); }

struct ResnetBlock : torch::nn::Module {
    ResnetBlock(int64_t in, int64_t out, const Options& o)
    {
        norm1 = reg(*this, "norm1", nn::GroupNorm(32, in, kEps, o));
        conv1 = reg(*this, "conv1", nn::Conv2d(in, out, 3, 1, 1, o));
        norm2 = reg(*this, "norm2", nn::GroupNorm(32, out, kEps, o));
        conv2 = reg(*this, "conv2", nn::Conv2d(out, out, 3, 1, 1, o));
        if (in != out)
            nin_shortcut = reg(*this, "nin_shortcut", nn::Conv2d(in, out, 1, 1, 0, o));
    }
    at::Tensor forward(const at::Tensor& x)
    {
        auto h = conv1(swish(norm1(x)));
        h = conv2(swish(norm2(h)));
        return (nin_shortcut ? nin_shortcut(x) : x) + h;
    }
    nn::GroupNorm norm1 { nullptr }, norm2 { nullptr };
    nn::Conv2d conv1 { nullptr }, conv2 { nullptr }, nin_shortcut { nullptr };
};

struct AttnBlock : torch::nn::Module {
    AttnBlock(int64_t ch, const Options& o)
    {
        norm = reg(*this, "norm", nn::GroupNorm(32, ch, kEps, o));
        q = reg(*this, "q", nn::Conv2d(ch, ch, 1, 1, 0, o));
        k = reg(*this, "k", nn::Conv2d(ch, ch, 1, 1, 0, o));
        v = reg(*this, "v", nn::Conv2d(ch, ch, 1, 1, 0, o));
        proj_out = reg(*this, "proj_out", nn::Conv2d(ch, ch, 1, 1, 0, o));
    }
    at::Tensor forward(const at::Tensor& x)
    {
        auto h = norm(x);
        const int64_t b = x.size(0), c = x.size(1);
        auto tok = [&](const at::Tensor& t) { return t.reshape({ b, 1, c, -1 }).transpose(2, 3); }; // [B, 1, HW, C]
        auto out = nn::attention(tok(q(h)), tok(k(h)), tok(v(h)), 1.0 / std::sqrt(static_cast<double>(c)));
        out = out.transpose(2, 3).reshape(x.sizes());
        return x + proj_out(out);
    }
    nn::GroupNorm norm { nullptr };
    nn::Conv2d q { nullptr }, k { nullptr }, v { nullptr }, proj_out { nullptr };
};

struct Level {
    std::vector<std::shared_ptr<ResnetBlock>> blocks;
    std::vector<std::shared_ptr<AttnBlock>> attns;
    nn::Conv2d resample { nullptr };
};

struct Mid {
    std::shared_ptr<ResnetBlock> block_1, block_2;
    std::shared_ptr<AttnBlock> attn_1;
    void build(torch::nn::Module& m, int64_t ch, const Options& o)
    {
        block_1 = reg(m, "mid.block_1", std::make_shared<ResnetBlock>(ch, ch, o));
        attn_1 = reg(m, "mid.attn_1", std::make_shared<AttnBlock>(ch, o));
        block_2 = reg(m, "mid.block_2", std::make_shared<ResnetBlock>(ch, ch, o));
    }
    at::Tensor forward(const at::Tensor& x) { return block_2->forward(attn_1->forward(block_1->forward(x))); }
};

} // namespace

namespace detail {
struct EncoderParts {
    nn::Conv2d conv_in { nullptr }, conv_out { nullptr };
    std::vector<Level> down;
    Mid mid;
    nn::GroupNorm norm_out { nullptr };
};

struct DecoderParts {
    nn::Conv2d conv_in { nullptr }, conv_out { nullptr };
    std::vector<Level> up; // index = level (stored in reverse of execution order, as the original)
    Mid mid;
    nn::GroupNorm norm_out { nullptr };
};
} // namespace detail

using detail::DecoderParts;
using detail::EncoderParts;

EncoderImpl::EncoderImpl(const AutoencoderConfig& c, const Options& o)
    : config(c)
{
    auto p = std::make_shared<EncoderParts>();
    p->conv_in = reg(*this, "conv_in", nn::Conv2d(c.inChannels, c.ch, 3, 1, 1, o));
    int64_t curRes = c.resolution;
    int64_t blockIn = c.ch;
    const size_t levels = c.chMult.size();
    for (size_t i = 0; i < levels; ++i) {
        Level lv;
        blockIn = c.ch * (i == 0 ? 1 : c.chMult[i - 1]);
        const int64_t blockOut = c.ch * c.chMult[i];
        const std::string base = "down." + std::to_string(i);
        nn::container(*this, base + ".block");
        nn::container(*this, base + ".attn");
        for (int64_t b = 0; b < c.numResBlocks; ++b) {
            lv.blocks.push_back(
                reg(*this, base + ".block." + std::to_string(b), std::make_shared<ResnetBlock>(blockIn, blockOut, o)));
            blockIn = blockOut;
            if (std::find(c.attnResolutions.begin(), c.attnResolutions.end(), curRes) != c.attnResolutions.end())
                lv.attns.push_back(reg(
                    *this, base + ".attn." + std::to_string(lv.attns.size()), std::make_shared<AttnBlock>(blockIn, o)));
        }
        if (i + 1 != levels) {
            lv.resample = reg(*this, base + ".downsample.conv", nn::Conv2d(blockIn, blockIn, 3, 2, 0, o));
            curRes /= 2;
        }
        p->down.push_back(std::move(lv));
    }
    p->mid.build(*this, blockIn, o);
    p->norm_out = reg(*this, "norm_out", nn::GroupNorm(32, blockIn, kEps, o));
    p->conv_out = reg(*this, "conv_out", nn::Conv2d(blockIn, c.doubleZ ? 2 * c.zChannels : c.zChannels, 3, 1, 1, o));
    parts = p;
}

at::Tensor EncoderImpl::forward(const at::Tensor& x)
{
    auto& p = *parts;
    auto h = p.conv_in(x);
    for (auto& lv : p.down) {
        for (size_t b = 0; b < lv.blocks.size(); ++b) {
            h = lv.blocks[b]->forward(h);
            if (!lv.attns.empty())
                h = lv.attns[b]->forward(h);
        }
        if (lv.resample)
            h = lv.resample(at::constant_pad_nd(h, { 0, 1, 0, 1 }, 0));
    }
    h = p.mid.forward(h);
    return p.conv_out(swish(p.norm_out(h)));
}

DecoderImpl::DecoderImpl(const AutoencoderConfig& c, const Options& o)
    : config(c)
{
    auto p = std::make_shared<DecoderParts>();
    const size_t levels = c.chMult.size();
    int64_t blockIn = c.ch * c.chMult.back();
    int64_t curRes = c.resolution >> (levels - 1);
    p->conv_in = reg(*this, "conv_in", nn::Conv2d(c.zChannels, blockIn, 3, 1, 1, o));
    p->mid.build(*this, blockIn, o);
    p->up.resize(levels);
    // Registration order follows the original (up.0 first) so state_dict order matches; build sizes in reverse.
    std::vector<int64_t> inForLevel(levels);
    {
        int64_t bi = blockIn;
        for (size_t li = levels; li-- > 0;) {
            inForLevel[li] = bi;
            bi = c.ch * c.chMult[li];
        }
    }
    std::vector<int64_t> resForLevel(levels);
    {
        int64_t r = curRes;
        for (size_t li = levels; li-- > 0;) {
            resForLevel[li] = r;
            if (li != 0)
                r *= 2;
        }
    }
    for (size_t li = 0; li < levels; ++li) {
        Level& lv = p->up[li];
        int64_t bi = inForLevel[li];
        const int64_t blockOut = c.ch * c.chMult[li];
        const std::string base = "up." + std::to_string(li);
        nn::container(*this, base + ".block");
        nn::container(*this, base + ".attn");
        for (int64_t b = 0; b <= c.numResBlocks; ++b) {
            lv.blocks.push_back(
                reg(*this, base + ".block." + std::to_string(b), std::make_shared<ResnetBlock>(bi, blockOut, o)));
            bi = blockOut;
            if (std::find(c.attnResolutions.begin(), c.attnResolutions.end(), resForLevel[li])
                != c.attnResolutions.end())
                lv.attns.push_back(
                    reg(*this, base + ".attn." + std::to_string(lv.attns.size()), std::make_shared<AttnBlock>(bi, o)));
        }
        if (li != 0)
            lv.resample = reg(*this, base + ".upsample.conv", nn::Conv2d(bi, bi, 3, 1, 1, o));
    }
    const int64_t last = c.ch * c.chMult[0];
    p->norm_out = reg(*this, "norm_out", nn::GroupNorm(32, last, kEps, o));
    p->conv_out = reg(*this, "conv_out", nn::Conv2d(last, c.outCh, 3, 1, 1, o));
    parts = p;
}

at::Tensor DecoderImpl::forward(const at::Tensor& z)
{
    auto& p = *parts;
    auto h = p.mid.forward(p.conv_in(z));
    for (size_t li = p.up.size(); li-- > 0;) {
        auto& lv = p.up[li];
        for (size_t b = 0; b < lv.blocks.size(); ++b) {
            h = lv.blocks[b]->forward(h);
            if (!lv.attns.empty())
                h = lv.attns[b]->forward(h);
        }
        if (lv.resample)
            h = lv.resample->forwardUpsampled2x(h);
    }
    return p.conv_out(swish(p.norm_out(h)));
}

AutoencoderImpl::AutoencoderImpl(const AutoencoderConfig& c, const Options& o)
    : config(c)
{
    encoder = register_module("encoder", Encoder(c, o));
    decoder = register_module("decoder", Decoder(c, o));
    if (c.vq) {
        quant_conv = reg(*this, "quant_conv", nn::Conv2d(c.zChannels, c.embedDim, 1, 1, 0, o));
        codebook = reg(*this, "quantize.embedding", nn::Embedding(c.nEmbed, c.embedDim, o));
    } else {
        quant_conv = reg(*this, "quant_conv", nn::Conv2d(2 * c.zChannels, 2 * c.embedDim, 1, 1, 0, o));
    }
    post_quant_conv = reg(*this, "post_quant_conv", nn::Conv2d(c.embedDim, c.zChannels, 1, 1, 0, o));
}

at::Tensor AutoencoderImpl::encodeMoments(const at::Tensor& image) { return quant_conv(encoder(image)); }

at::Tensor AutoencoderImpl::encode(const at::Tensor& image, const at::Tensor& noise)
{
    auto moments = encodeMoments(image);
    if (config.vq)
        return moments;
    auto parts = moments.chunk(2, 1);
    if (!noise.defined())
        return parts[0];
    auto std_ = at::exp(0.5 * at::clamp(parts[1], -30.0, 20.0));
    return parts[0] + std_ * noise.to(parts[0].scalar_type());
}

std::pair<at::Tensor, at::Tensor> AutoencoderImpl::quantize(const at::Tensor& h)
{
    // [B, C, H, W] -> [BHW, C]; d = |z|^2 + |e|^2 - 2 z.e ; first minimum
    auto z = h.permute({ 0, 2, 3, 1 }).contiguous();
    auto flat = z.view({ -1, config.embedDim });
    const auto e = nn::like(codebook->weight, flat);
    auto d = flat.pow(2).sum(1, true) + e.pow(2).sum(1).unsqueeze(0) - 2 * at::matmul(flat, e.t());
    auto idx = at::argmin(d, 1);
    auto q = at::embedding(e, idx).view(z.sizes());
    q = z + (q - z); // straight-through form, as the reference
    return { q.permute({ 0, 3, 1, 2 }).contiguous(), idx.view({ h.size(0), h.size(2), h.size(3) }) };
}

at::Tensor AutoencoderImpl::decode(const at::Tensor& z, bool forceNotQuantize)
{
    auto h = z;
    if (config.vq && !forceNotQuantize)
        h = quantize(z).first;
    return decoder(post_quant_conv(h));
}

} // namespace ls::models

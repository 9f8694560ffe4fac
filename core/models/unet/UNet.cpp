#include "models/unet/UNet.h"
#include "models/Accel.h"

#include "util/Error.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace ls::models {

using nlohmann::json;
using nn::Options;
using nn::reg;

// ---------------------------------------------------------------- config

UNetConfig UNetConfig::fromJson(const json& in)
{
    const json& p = in.contains("params") ? in["params"] : in;
    UNetConfig c;
    auto intList = [&](const char* key, std::vector<int64_t> def) {
        if (!p.contains(key) || p[key].is_null())
            return def;
        if (p[key].is_number_integer())
            return std::vector<int64_t> { p[key].get<int64_t>() };
        return p[key].get<std::vector<int64_t>>();
    };
    c.inChannels = p.value("in_channels", int64_t(4));
    c.coordChannels = p.value("coord_channels", int64_t(0));
    if (c.coordChannels != 0 && c.coordChannels != 2)
        fail(ErrorKind::InvalidInput,
            "unet config: coord_channels must be 0 or 2 (got " + std::to_string(c.coordChannels) + ")");
    c.outChannels = p.value("out_channels", int64_t(4));
    c.modelChannels = p.value("model_channels", int64_t(320));
    c.attentionResolutions = intList("attention_resolutions", {});
    c.channelMult = intList("channel_mult", { 1, 2, 4, 8 });
    auto nrb = intList("num_res_blocks", { 2 });
    if (nrb.size() == 1)
        nrb.assign(c.channelMult.size(), nrb[0]);
    if (nrb.size() != c.channelMult.size())
        fail(ErrorKind::InvalidInput,
            "unet config: num_res_blocks must be a number or one entry per channel_mult level");
    c.numResBlocks = nrb;
    c.numHeads = p.value("num_heads", int64_t(-1));
    c.numHeadChannels = p.value("num_head_channels", int64_t(-1));
    c.useSpatialTransformer = p.value("use_spatial_transformer", false);
    if (p.contains("transformer_depth") && p["transformer_depth"].is_array()) {
        c.transformerDepthPerLevel = p["transformer_depth"].get<std::vector<int64_t>>();
        if (c.transformerDepthPerLevel.size() != c.channelMult.size())
            fail(ErrorKind::InvalidInput, "unet config: transformer_depth must be a number or one entry per level");
        c.transformerDepth = c.transformerDepthPerLevel.back();
    } else {
        c.transformerDepth = p.value("transformer_depth", int64_t(1));
    }
    if (p.contains("transformer_depth_middle") && p["transformer_depth_middle"].is_number_integer())
        c.transformerDepthMiddle = p["transformer_depth_middle"].get<int64_t>();
    c.contextDim = 0;
    if (p.contains("context_dim") && p["context_dim"].is_number_integer())
        c.contextDim = p["context_dim"].get<int64_t>();
    else if (p.contains("context_dim") && p["context_dim"].is_array() && !p["context_dim"].empty()) {
        // sgm: one entry per transformer block; every published model gives them all the same width.
        const auto dims = p["context_dim"].get<std::vector<int64_t>>();
        if (std::any_of(dims.begin(), dims.end(), [&](int64_t d) { return d != dims.front(); }))
            fail(ErrorKind::Unsupported, "unet config: context_dim entries of different widths are not supported");
        c.contextDim = dims.front();
    }
    c.useLinearInTransformer = p.value("use_linear_in_transformer", false);
    c.legacy = p.value("legacy", true);
    c.useScaleShiftNorm = p.value("use_scale_shift_norm", false);
    c.numClasses
        = (p.contains("num_classes") && p["num_classes"].is_number_integer()) ? p["num_classes"].get<int64_t>() : 0;
    if (p.contains("num_classes") && p["num_classes"].is_string()) {
        if (p["num_classes"].get<std::string>() != "sequential" || !p.contains("adm_in_channels"))
            fail(ErrorKind::InvalidInput,
                "unet config: num_classes must be a number, or \"sequential\" with adm_in_channels");
        c.admInChannels = p["adm_in_channels"].get<int64_t>();
    }
    if (p.contains("disable_self_attentions") && p["disable_self_attentions"].is_array())
        c.disableSelfAttentions = p["disable_self_attentions"].get<std::vector<bool>>();
    c.disableMiddleSelfAttn = p.value("disable_middle_self_attn", false);
    c.canonicalizeDepths();
    if (c.numHeads == -1 && c.numHeadChannels == -1)
        fail(ErrorKind::InvalidInput, "unet config: either num_heads or num_head_channels must be set");
    if (c.useSpatialTransformer && c.contextDim <= 0)
        fail(ErrorKind::InvalidInput, "unet config: use_spatial_transformer needs context_dim");
    return c;
}

void UNetConfig::canonicalizeDepths()
{
    if (transformerDepthPerLevel.empty())
        return;
    const int64_t middle = middleDepth();
    std::vector<int64_t> used;
    for (size_t level = 0; level < transformerDepthPerLevel.size(); ++level) {
        const int64_t ds = int64_t(1) << level;
        if (std::find(attentionResolutions.begin(), attentionResolutions.end(), ds) == attentionResolutions.end())
            transformerDepthPerLevel[level] = 0;
        else
            used.push_back(transformerDepthPerLevel[level]);
    }
    transformerDepthMiddle = -1;
    if (std::all_of(used.begin(), used.end(), [&](int64_t d) { return d == middle; })) {
        transformerDepthPerLevel.clear();
        transformerDepth = middle;
    } else {
        transformerDepth = middle;
        if (middle != transformerDepthPerLevel.back())
            transformerDepthMiddle = middle;
    }
}

UNetConfig UNetConfig::fromSgmJson(const json& in)
{
    json p = in.contains("params") ? in["params"] : in;
    p["use_spatial_transformer"] = true;
    if (!p.contains("legacy"))
        p["legacy"] = false;
    return fromJson(p);
}

json UNetConfig::toJson() const
{
    json j;
    j["in_channels"] = inChannels;
    if (coordChannels)
        j["coord_channels"] = coordChannels;
    j["out_channels"] = outChannels;
    j["model_channels"] = modelChannels;
    j["attention_resolutions"] = attentionResolutions;
    j["num_res_blocks"] = numResBlocks;
    j["channel_mult"] = channelMult;
    j["num_heads"] = numHeads;
    j["num_head_channels"] = numHeadChannels;
    j["use_spatial_transformer"] = useSpatialTransformer;
    if (transformerDepthPerLevel.empty())
        j["transformer_depth"] = transformerDepth;
    else
        j["transformer_depth"] = transformerDepthPerLevel;
    if (transformerDepthMiddle >= 0)
        j["transformer_depth_middle"] = transformerDepthMiddle;
    j["context_dim"] = contextDim > 0 ? json(contextDim) : json(nullptr);
    j["use_linear_in_transformer"] = useLinearInTransformer;
    j["legacy"] = legacy;
    j["use_scale_shift_norm"] = useScaleShiftNorm;
    j["num_classes"] = numClasses > 0 ? json(numClasses) : json(nullptr);
    if (admInChannels > 0) {
        j["num_classes"] = "sequential";
        j["adm_in_channels"] = admInChannels;
    }
    if (!disableSelfAttentions.empty())
        j["disable_self_attentions"] = disableSelfAttentions;
    j["disable_middle_self_attn"] = disableMiddleSelfAttn;
    return j;
}

at::Tensor timestepEmbedding(const at::Tensor& timesteps, int64_t dim)
{
    const int64_t half = dim / 2;
    auto freqs = at::exp(-std::log(10000.0)
        * at::arange(0, half, at::TensorOptions().dtype(at::kFloat).device(timesteps.device()))
        / static_cast<double>(half));
    auto args = timesteps.to(at::kFloat).unsqueeze(1) * freqs.unsqueeze(0); // [B, half]
    auto emb = at::cat({ at::cos(args), at::sin(args) }, -1);
    if (dim % 2)
        emb = at::cat({ emb, at::zeros_like(emb.narrow(1, 0, 1)) }, -1);
    return emb;
}

// ---------------------------------------------------------------- layers

namespace {

constexpr double kGroupNormEps = 1e-5; // openaimodel normalization() = GroupNorm32(32, ch)
constexpr double kTransformerNormEps = 1e-6; // attention.Normalize

at::Tensor groupNorm32(nn::GroupNorm& norm, const at::Tensor& x)
{
    // GroupNorm32 computes in float32 whatever the input dtype. On a GPU the kernel itself accumulates in fp32, so the
    // activations' own dtype saves two passes over memory (accel::Settings::nativeGroupNorm).
    if (x.scalar_type() == at::kFloat || accel::nativeGroupNorm(x))
        return norm(x);
    return at::group_norm(
        x.to(at::kFloat), norm->groups, norm->weight.to(at::kFloat), norm->bias.to(at::kFloat), norm->eps)
        .to(x.scalar_type());
}

struct ConvLayer : UNetLayer {
    ConvLayer(int64_t in, int64_t out, const Options& o)
    {
        weight = register_parameter("weight", at::empty({ out, in, 3, 3 }, o), false);
        bias = register_parameter("bias", at::empty({ out }, o), false);
    }
    at::Tensor run(const at::Tensor& x, const at::Tensor&, const at::Tensor&) override
    {
        return at::conv2d(x, nn::like(weight, x), nn::like(bias, x), { 1, 1 }, { 1, 1 });
    }
    at::Tensor weight, bias;
};

struct ResBlock : UNetLayer {
    ResBlock(int64_t ch, int64_t embCh, int64_t outCh, bool scaleShift, const Options& o)
        : useScaleShift(scaleShift)
    {
        in_0 = reg(*this, "in_layers.0", nn::GroupNorm(32, ch, kGroupNormEps, o));
        in_2 = reg(*this, "in_layers.2", nn::Conv2d(ch, outCh, 3, 1, 1, o));
        emb_1 = reg(*this, "emb_layers.1", nn::Linear(embCh, scaleShift ? 2 * outCh : outCh, true, o));
        out_0 = reg(*this, "out_layers.0", nn::GroupNorm(32, outCh, kGroupNormEps, o));
        out_3 = reg(*this, "out_layers.3", nn::Conv2d(outCh, outCh, 3, 1, 1, o));
        if (outCh != ch)
            skip = reg(*this, "skip_connection", nn::Conv2d(ch, outCh, 1, 1, 0, o));
    }
    at::Tensor run(const at::Tensor& x, const at::Tensor& emb, const at::Tensor&) override
    {
        auto h = in_2(at::silu(groupNorm32(in_0, x)));
        auto e = emb_1(at::silu(emb)).to(h.scalar_type()).unsqueeze(-1).unsqueeze(-1); // [B, C, 1, 1]
        if (useScaleShift) {
            auto parts = e.chunk(2, 1);
            h = groupNorm32(out_0, h) * (1 + parts[0]) + parts[1];
        } else {
            h = groupNorm32(out_0, h + e);
        }
        h = out_3(at::silu(h));
        return (skip ? skip(x) : x) + h;
    }
    bool useScaleShift;
    nn::GroupNorm in_0 { nullptr }, out_0 { nullptr };
    nn::Conv2d in_2 { nullptr }, out_3 { nullptr }, skip { nullptr };
    nn::Linear emb_1 { nullptr };
};

struct Downsample : UNetLayer {
    Downsample(int64_t ch, const Options& o) { op = reg(*this, "op", nn::Conv2d(ch, ch, 3, 2, 1, o)); }
    at::Tensor run(const at::Tensor& x, const at::Tensor&, const at::Tensor&) override { return op(x); }
    nn::Conv2d op { nullptr };
};

struct Upsample : UNetLayer {
    Upsample(int64_t ch, const Options& o) { conv = reg(*this, "conv", nn::Conv2d(ch, ch, 3, 1, 1, o)); }
    at::Tensor run(const at::Tensor& x, const at::Tensor&, const at::Tensor&) override
    {
        return conv->forwardUpsampled2x(x);
    }
    nn::Conv2d conv { nullptr };
};

struct CrossAttention : torch::nn::Module {
    CrossAttention(int64_t queryDim, int64_t contextDim, int64_t heads_, int64_t dimHead, const Options& o)
        : heads(heads_)
        , scale(1.0 / std::sqrt(static_cast<double>(dimHead)))
    {
        const int64_t inner = heads * dimHead;
        to_q = reg(*this, "to_q", nn::Linear(queryDim, inner, false, o));
        to_k = reg(*this, "to_k", nn::Linear(contextDim, inner, false, o));
        to_v = reg(*this, "to_v", nn::Linear(contextDim, inner, false, o));
        to_out = reg(*this, "to_out.0", nn::Linear(inner, queryDim, true, o));
    }
    at::Tensor forward(const at::Tensor& x, const at::Tensor& context)
    {
        const auto& c = context.defined() ? context : x;
        auto split = [&](const at::Tensor& t) { // [B, T, H*D] -> [B, H, T, D]
            return t.view({ t.size(0), t.size(1), heads, -1 }).transpose(1, 2);
        };
        auto q = split(to_q(x)), k = split(to_k(c)), v = split(to_v(c));
        auto out = nn::attention(q, k, v, scale); // [B, H, T, D]
        out = out.transpose(1, 2).reshape({ x.size(0), x.size(1), -1 });
        return to_out(out);
    }
    int64_t heads;
    double scale;
    nn::Linear to_q { nullptr }, to_k { nullptr }, to_v { nullptr }, to_out { nullptr };
};

struct BasicTransformerBlock : torch::nn::Module {
    BasicTransformerBlock(
        int64_t dim, int64_t heads, int64_t dimHead, int64_t contextDim, bool disableSelfAttn_, const Options& o)
        : disableSelfAttn(disableSelfAttn_)
    {
        attn1 = register_module(
            "attn1", std::make_shared<CrossAttention>(dim, disableSelfAttn ? contextDim : dim, heads, dimHead, o));
        ff_proj = reg(*this, "ff.net.0.proj", nn::Linear(dim, dim * 4 * 2, true, o));
        ff_out = reg(*this, "ff.net.2", nn::Linear(dim * 4, dim, true, o));
        attn2 = register_module("attn2", std::make_shared<CrossAttention>(dim, contextDim, heads, dimHead, o));
        norm1 = reg(*this, "norm1", nn::LayerNorm(dim, 1e-5, o));
        norm2 = reg(*this, "norm2", nn::LayerNorm(dim, 1e-5, o));
        norm3 = reg(*this, "norm3", nn::LayerNorm(dim, 1e-5, o));
    }
    at::Tensor forward(at::Tensor x, const at::Tensor& context)
    {
        x = attn1->forward(norm1(x), disableSelfAttn ? context : at::Tensor()) + x;
        x = attn2->forward(norm2(x), context) + x;
        auto parts = ff_proj(norm3(x)).chunk(2, -1); // GEGLU
        x = ff_out(parts[0] * at::gelu(parts[1])) + x;
        return x;
    }
    bool disableSelfAttn;
    std::shared_ptr<CrossAttention> attn1, attn2;
    nn::Linear ff_proj { nullptr }, ff_out { nullptr };
    nn::LayerNorm norm1 { nullptr }, norm2 { nullptr }, norm3 { nullptr };
};

struct SpatialTransformer : UNetLayer {
    SpatialTransformer(int64_t ch, int64_t heads, int64_t dimHead, int64_t depth, int64_t contextDim,
        bool disableSelfAttn, bool linear_, const Options& o)
        : linear(linear_)
    {
        const int64_t inner = heads * dimHead;
        norm = reg(*this, "norm", nn::GroupNorm(32, ch, kTransformerNormEps, o));
        if (linear)
            proj_in_l = reg(*this, "proj_in", nn::Linear(ch, inner, true, o));
        else
            proj_in_c = reg(*this, "proj_in", nn::Conv2d(ch, inner, 1, 1, 0, o));
        for (int64_t d = 0; d < depth; ++d)
            blocks.push_back(nn::reg(*this, "transformer_blocks." + std::to_string(d),
                std::make_shared<BasicTransformerBlock>(inner, heads, dimHead, contextDim, disableSelfAttn, o)));
        if (linear)
            proj_out_l = reg(*this, "proj_out", nn::Linear(inner, ch, true, o));
        else
            proj_out_c = reg(*this, "proj_out", nn::Conv2d(inner, ch, 1, 1, 0, o));
    }
    at::Tensor run(const at::Tensor& x, const at::Tensor&, const at::Tensor& context) override
    {
        const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
        auto t = groupNorm32(norm, x);
        if (!linear)
            t = proj_in_c(t);
        t = t.flatten(2).transpose(1, 2); // [B, HW, C]
        if (linear)
            t = proj_in_l(t);
        for (auto& block : blocks)
            t = block->forward(t, context);
        if (linear)
            t = proj_out_l(t);
        t = t.transpose(1, 2).reshape({ b, -1, h, w });
        if (!linear)
            t = proj_out_c(t);
        return t + x;
    }
    bool linear;
    nn::GroupNorm norm { nullptr };
    nn::Linear proj_in_l { nullptr }, proj_out_l { nullptr };
    nn::Conv2d proj_in_c { nullptr }, proj_out_c { nullptr };
    std::vector<std::shared_ptr<BasicTransformerBlock>> blocks;
};

// openaimodel.AttentionBlock with QKVAttentionLegacy (LDM super-resolution).
struct AttentionBlock : UNetLayer {
    AttentionBlock(int64_t ch, int64_t heads_, const Options& o)
        : heads(heads_)
    {
        norm = reg(*this, "norm", nn::GroupNorm(32, ch, kGroupNormEps, o));
        qkv = reg(*this, "qkv", nn::Conv1x1d(ch, 3 * ch, o));
        proj_out = reg(*this, "proj_out", nn::Conv1x1d(ch, ch, o));
    }
    at::Tensor run(const at::Tensor& x, const at::Tensor&, const at::Tensor&) override
    {
        const int64_t b = x.size(0), c = x.size(1);
        auto flat = x.reshape({ b, c, -1 }); // [B, C, T]
        auto t = qkv(groupNorm32(norm, flat)); // [B, 3C, T]
        const int64_t len = t.size(2);
        const int64_t d = c / heads;
        auto parts = t.reshape({ b * heads, 3 * d, len }).split(d, 1); // per head [q; k; v]
        const double s = 1.0 / std::sqrt(std::sqrt(static_cast<double>(d)));
        auto q = (parts[0] * s).transpose(1, 2); // [BH, T, d]
        auto k = (parts[1] * s).transpose(1, 2);
        auto v = parts[2].transpose(1, 2);
        auto a = nn::attention(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0), 1.0).squeeze(0); // [BH, T, d]
        auto h = a.transpose(1, 2).reshape({ b, c, len });
        return (flat + proj_out(h)).reshape(x.sizes());
    }
    int64_t heads;
    nn::GroupNorm norm { nullptr };
    nn::Conv1x1d qkv { nullptr }, proj_out { nullptr };
};

} // namespace

void TimestepEmbedSequentialImpl::append(std::shared_ptr<UNetLayer> layer)
{
    layers.push_back(register_module(std::to_string(layers.size()), layer));
}

at::Tensor TimestepEmbedSequentialImpl::forward(at::Tensor x, const at::Tensor& emb, const at::Tensor& context)
{
    for (auto& layer : layers)
        x = layer->run(x, emb, context);
    return x;
}

// ---------------------------------------------------------------- model

UNetModelImpl::UNetModelImpl(const UNetConfig& c, const Options& o, bool encoderOnly)
    : config(c)
{
    const int64_t mc = c.modelChannels;
    const int64_t ted = mc * 4;
    time_embed_0 = reg(*this, "time_embed.0", nn::Linear(mc, ted, true, o));
    time_embed_2 = reg(*this, "time_embed.2", nn::Linear(ted, ted, true, o));
    if (c.numClasses > 0)
        label_emb = reg(*this, "label_emb", nn::Embedding(c.numClasses, ted, o));
    if (c.admInChannels > 0) {
        label_emb_0 = reg(*this, "label_emb.0.0", nn::Linear(c.admInChannels, ted, true, o));
        label_emb_2 = reg(*this, "label_emb.0.2", nn::Linear(ted, ted, true, o));
    }

    auto attentionLayer = [&](int64_t ch, bool disableSelfAttn, int64_t depth) -> std::shared_ptr<UNetLayer> {
        int64_t heads = c.numHeads, dimHead = 0;
        if (c.numHeadChannels == -1) {
            dimHead = ch / heads;
        } else {
            // A level narrower than one head (only tiny test models; the reference would build 0 heads): one head.
            heads = std::max<int64_t>(1, ch / c.numHeadChannels);
            dimHead = std::min(c.numHeadChannels, ch);
        }
        if (c.legacy)
            dimHead = c.useSpatialTransformer ? ch / heads : c.numHeadChannels;
        if (!c.useSpatialTransformer)
            return std::make_shared<AttentionBlock>(
                ch, c.numHeadChannels == -1 ? c.numHeads : ch / c.numHeadChannels, o);
        return std::make_shared<SpatialTransformer>(
            ch, heads, dimHead, depth, c.contextDim, disableSelfAttn, c.useLinearInTransformer, o);
    };
    auto container = nn::container(*this, "input_blocks");
    auto newBlock = [&](torch::nn::Module& parent, std::vector<TimestepEmbedSequential>& list) {
        auto b = parent.register_module(std::to_string(list.size()), TimestepEmbedSequential());
        list.push_back(b);
        return b;
    };
    std::vector<int64_t> chans { mc };
    newBlock(*container, input_blocks)->append(std::make_shared<ConvLayer>(c.inChannels + c.coordChannels, mc, o));
    int64_t ch = mc, ds = 1;
    auto hasAttn = [&](int64_t d) {
        return std::find(c.attentionResolutions.begin(), c.attentionResolutions.end(), d)
            != c.attentionResolutions.end();
    };
    const size_t levels = c.channelMult.size();
    for (size_t level = 0; level < levels; ++level) {
        const bool disableSA = level < c.disableSelfAttentions.size() && c.disableSelfAttentions[level];
        for (int64_t r = 0; r < c.numResBlocks[level]; ++r) {
            auto b = newBlock(*container, input_blocks);
            b->append(std::make_shared<ResBlock>(ch, ted, c.channelMult[level] * mc, c.useScaleShiftNorm, o));
            ch = c.channelMult[level] * mc;
            if (hasAttn(ds))
                b->append(attentionLayer(ch, disableSA, c.depthAt(level)));
            chans.push_back(ch);
        }
        if (level + 1 != levels) {
            newBlock(*container, input_blocks)->append(std::make_shared<Downsample>(ch, o));
            chans.push_back(ch);
            ds *= 2;
        }
    }
    middle_block = register_module("middle_block", TimestepEmbedSequential());
    middle_block->append(std::make_shared<ResBlock>(ch, ted, ch, c.useScaleShiftNorm, o));
    middle_block->append(attentionLayer(ch, c.disableMiddleSelfAttn, c.middleDepth()));
    middle_block->append(std::make_shared<ResBlock>(ch, ted, ch, c.useScaleShiftNorm, o));
    inputChannels = chans;
    if (encoderOnly)
        return;

    auto outContainer = nn::container(*this, "output_blocks");
    for (size_t li = levels; li-- > 0;) {
        const bool disableSA = li < c.disableSelfAttentions.size() && c.disableSelfAttentions[li];
        for (int64_t i = 0; i <= c.numResBlocks[li]; ++i) {
            const int64_t ich = chans.back();
            chans.pop_back();
            auto b = newBlock(*outContainer, output_blocks);
            b->append(std::make_shared<ResBlock>(ch + ich, ted, mc * c.channelMult[li], c.useScaleShiftNorm, o));
            ch = mc * c.channelMult[li];
            if (hasAttn(ds))
                b->append(attentionLayer(ch, disableSA, c.depthAt(li)));
            if (li > 0 && i == c.numResBlocks[li]) {
                b->append(std::make_shared<Upsample>(ch, o));
                ds /= 2;
            }
        }
    }
    out_0 = reg(*this, "out.0", nn::GroupNorm(32, ch, kGroupNormEps, o));
    out_2 = reg(*this, "out.2", nn::Conv2d(mc, c.outChannels, 3, 1, 1, o));
}

at::Tensor UNetModelImpl::embed(const at::Tensor& timesteps, int64_t batch, const at::Tensor& y)
{
    const auto dtype = nn::computeType(time_embed_0->weight);
    auto t = timesteps;
    if (t.dim() == 0)
        t = t.expand({ batch });
    auto emb = time_embed_2(at::silu(time_embed_0(timestepEmbedding(t, config.modelChannels).to(dtype))));
    if (label_emb) {
        if (!y.defined())
            fail(ErrorKind::InvalidInput, "this UNet has a class embedding (num_classes) and needs labels y");
        emb = emb + label_emb(y);
    }
    if (label_emb_0) {
        if (!y.defined() || y.dim() != 2 || y.size(1) != config.admInChannels)
            fail(ErrorKind::InvalidInput,
                "this UNet needs a vector condition y of " + std::to_string(config.admInChannels)
                    + " values per image");
        emb = emb + label_emb_2(at::silu(label_emb_0(y.to(dtype))));
    }
    return emb;
}

at::Tensor UNetModelImpl::forward(const at::Tensor& x, const at::Tensor& timesteps, const at::Tensor& context,
    const at::Tensor& y, const std::vector<at::Tensor>* control, bool onlyMidControl)
{
    const auto dtype = nn::computeType(time_embed_0->weight);
    auto emb = embed(timesteps, x.size(0), y);
    at::Tensor ctx = context.defined() ? context.to(dtype) : context;
    std::vector<at::Tensor> hs;
    auto h = x.to(dtype);
    if (config.coordChannels) {
        const int64_t b = h.size(0), height = h.size(2), width = h.size(3);
        auto opts = h.options();
        auto xs = at::linspace(-1.0, 1.0, width, opts).view({ 1, 1, 1, width }).expand({ b, 1, height, width });
        auto ys = at::linspace(-1.0, 1.0, height, opts).view({ 1, 1, height, 1 }).expand({ b, 1, height, width });
        h = at::cat({ h, xs, ys }, 1);
    }
    for (auto& block : input_blocks) {
        h = block(h, emb, ctx);
        hs.push_back(h);
    }
    h = middle_block(h, emb, ctx);
    if (control && control->size() != hs.size() + 1)
        fail(ErrorKind::Mismatch,
            "ControlNet residuals: " + std::to_string(control->size()) + " for a UNet with "
                + std::to_string(hs.size() + 1) + " (another model's ControlNet)");
    size_t next = control ? control->size() : 0; // residuals are taken from the end, as the skips
    if (control)
        h = h + (*control)[--next].to(h.scalar_type());
    for (auto& block : output_blocks) {
        auto skip = hs.back();
        hs.pop_back();
        if (control) {
            const auto& c = (*control)[--next];
            if (!onlyMidControl)
                skip = skip + c.to(skip.scalar_type());
        }
        h = at::cat({ h, skip }, 1);
        h = block(h, emb, ctx);
    }
    return out_2(at::silu(groupNorm32(out_0, h)));
}

} // namespace ls::models

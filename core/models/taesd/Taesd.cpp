#include "models/taesd/Taesd.h"

#include "util/Error.h"

#include <set>

namespace ls::models {

namespace {

// Decoder(): 0 Clamp, 1 conv(4,64), 2 ReLU, 3-5 Block, 6 Upsample, 7 conv (no bias), 8-10 Block, 11 Upsample, 12 conv,
// 13-15 Block, 16 Upsample, 17 conv, 18 Block, 19 conv(64,3). Encoder(): 0 conv(3,64), 1 Block, 2 conv stride 2 (no
// bias), 3-5 Block, 6 conv s2, 7-9 Block, 10 conv s2, 11-13 Block, 14 conv(64,4).
enum class Op { Clamp, Conv, ConvNoBias, ConvStride2, Relu, Block, Upsample };

const std::vector<Op>& layers(TinyAutoencoderHalf::Kind kind)
{
    using O = Op;
    static const std::vector<Op> dec { O::Clamp, O::Conv, O::Relu, O::Block, O::Block, O::Block, O::Upsample,
        O::ConvNoBias, O::Block, O::Block, O::Block, O::Upsample, O::ConvNoBias, O::Block, O::Block, O::Block,
        O::Upsample, O::ConvNoBias, O::Block, O::Conv };
    static const std::vector<Op> enc { O::Conv, O::Block, O::ConvStride2, O::Block, O::Block, O::Block, O::ConvStride2,
        O::Block, O::Block, O::Block, O::ConvStride2, O::Block, O::Block, O::Block, O::Conv };
    return kind == TinyAutoencoderHalf::Kind::Decoder ? dec : enc;
}

const char* name(TinyAutoencoderHalf::Kind k)
{
    return k == TinyAutoencoderHalf::Kind::Decoder ? "decoder" : "encoder";
}

} // namespace

TinyAutoencoderHalf TinyAutoencoderHalf::load(const io::WeightSource& source, Kind kind, const std::string& prefix)
{
    TinyAutoencoderHalf h;
    h.m_kind = kind;
    const auto& ls = layers(kind);
    const size_t last = ls.size() - 1;
    // What each layer must hold: [out, in, 3, 3] weights (in/out 64 but at the ends) and [out] biases.
    std::map<std::string, std::vector<int64_t>> want;
    const int64_t latent = [&] { // the latent channels, read from the layer that faces the latent
        const std::string k = prefix + (kind == Kind::Decoder ? "1.weight" : std::to_string(last) + ".weight");
        if (!source.contains(k))
            fail(ErrorKind::Format,
                source.path() + ": no '" + k + "': not a TAESD " + name(kind) + " (the published taesd_" + name(kind)
                    + " layout: \"1.weight\", \"3.conv.0.weight\", ...)");
        const auto s = source.info(k).shape;
        if (s.size() != 4)
            fail(ErrorKind::Format, source.path() + ": '" + k + "' is not a convolution weight");
        return kind == Kind::Decoder ? s[1] : s[0];
    }();
    h.m_latentChannels = latent;
    for (size_t i = 0; i < ls.size(); ++i) {
        const std::string p = prefix + std::to_string(i) + ".";
        int64_t in = 64, out = 64;
        if (kind == Kind::Decoder && i == 1)
            in = latent;
        if (kind == Kind::Decoder && i == last)
            out = 3;
        if (kind == Kind::Encoder && i == 0)
            in = 3;
        if (kind == Kind::Encoder && i == last)
            out = latent;
        switch (ls[i]) {
        case Op::Conv:
            want[p + "weight"] = { out, in, 3, 3 };
            want[p + "bias"] = { out };
            break;
        case Op::ConvNoBias:
        case Op::ConvStride2:
            want[p + "weight"] = { out, in, 3, 3 };
            break;
        case Op::Block:
            for (int c : { 0, 2, 4 }) {
                want[p + "conv." + std::to_string(c) + ".weight"] = { 64, 64, 3, 3 };
                want[p + "conv." + std::to_string(c) + ".bias"] = { 64 };
            }
            break;
        default:
            break;
        }
    }
    for (const auto& [key, shape] : want) {
        if (!source.contains(key))
            fail(ErrorKind::Format, source.path() + ": TAESD " + name(kind) + " weight '" + key + "' is missing");
        const auto info = source.info(key);
        if (info.shape != shape) {
            std::string s;
            for (auto d : info.shape)
                s += (s.empty() ? "" : ", ") + std::to_string(d);
            fail(ErrorKind::Format,
                source.path() + ": TAESD weight '" + key + "' has shape [" + s + "], not the " + name(kind) + "'s");
        }
        h.m_w[key.substr(prefix.size())] = source.load(key).to(at::kFloat).contiguous();
    }
    for (const auto& key : source.keys())
        if (key.rfind(prefix, 0) == 0 && !want.count(key))
            fail(ErrorKind::Format, source.path() + ": unexpected key '" + key + "' for a TAESD " + name(kind));
    return h;
}

void TinyAutoencoderHalf::to(const at::TensorOptions& options)
{
    for (auto& [k, t] : m_w)
        t = t.to(options);
}

at::Tensor TinyAutoencoderHalf::conv(const at::Tensor& x, const std::string& key, int64_t stride) const
{
    const auto b = m_w.find(key + ".bias");
    return at::conv2d(
        x, m_w.at(key + ".weight"), b == m_w.end() ? at::Tensor() : b->second, { stride, stride }, { 1, 1 });
}

at::Tensor TinyAutoencoderHalf::block(const at::Tensor& x, int index) const
{
    const std::string p = std::to_string(index) + ".conv.";
    auto y = at::relu(conv(x, p + "0"));
    y = at::relu(conv(y, p + "2"));
    y = conv(y, p + "4");
    return at::relu(y + x); // the skip is the identity: every block keeps 64 channels
}

at::Tensor TinyAutoencoderHalf::forward(const at::Tensor& input) const
{
    at::Tensor x = input.to(m_w.begin()->second.options());
    const auto& ls = layers(m_kind);
    for (size_t i = 0; i < ls.size(); ++i) {
        const std::string k = std::to_string(i);
        switch (ls[i]) {
        case Op::Clamp:
            x = at::tanh(x / 3) * 3;
            break;
        case Op::Conv:
        case Op::ConvNoBias:
            x = conv(x, k);
            break;
        case Op::ConvStride2:
            x = conv(x, k, 2);
            break;
        case Op::Relu:
            x = at::relu(x);
            break;
        case Op::Block:
            x = block(x, static_cast<int>(i));
            break;
        case Op::Upsample:
            x = at::upsample_nearest2d(x, { x.size(2) * 2, x.size(3) * 2 });
            break;
        }
    }
    return x;
}

TinyAutoencoderHalf loadTinyAutoencoder(const std::filesystem::path& file, TinyAutoencoderHalf::Kind kind)
{
    const auto source = io::openWeights(file);
    return TinyAutoencoderHalf::load(*source, kind);
}

} // namespace ls::models

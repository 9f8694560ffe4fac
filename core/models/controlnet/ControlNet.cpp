#include "models/controlnet/ControlNet.h"

#include "util/Error.h"

#include <cmath>

namespace ls::models {

ControlNetImpl::ControlNetImpl(const UNetConfig& config, int64_t hintChannels_, const nn::Options& o)
    : UNetModelImpl(config, o, true)
    , hintChannels(hintChannels_)
{
    const int64_t widths[] = { 16, 16, 32, 32, 96, 96, 256, config.modelChannels };
    const int64_t strides[] = { 1, 1, 2, 1, 2, 1, 2, 1 };
    int64_t in = hintChannels;
    for (int i = 0; i < 8; ++i) {
        input_hint_block.push_back(nn::reg(
            *this, "input_hint_block." + std::to_string(2 * i), nn::Conv2d(in, widths[i], 3, strides[i], 1, o)));
        in = widths[i];
    }
    for (size_t i = 0; i < inputChannels.size(); ++i)
        zero_convs.push_back(nn::reg(*this, "zero_convs." + std::to_string(i) + ".0",
            nn::Conv2d(inputChannels[i], inputChannels[i], 1, 1, 0, o)));
    const int64_t mid = inputChannels.back();
    middle_block_out = nn::reg(*this, "middle_block_out.0", nn::Conv2d(mid, mid, 1, 1, 0, o));
}

std::vector<at::Tensor> ControlNetImpl::residuals(const at::Tensor& x, const at::Tensor& hint,
    const at::Tensor& timesteps, const at::Tensor& context, const at::Tensor& y, at::Tensor* guidedHint)
{
    const auto dtype = nn::computeType(time_embed_0->weight);
    if (hint.dim() != 4 || hint.size(1) != hintChannels || hint.size(2) != 8 * x.size(2)
        || hint.size(3) != 8 * x.size(3))
        fail(ErrorKind::InvalidInput,
            "ControlNet: the control image must be " + std::to_string(hintChannels)
                + " channels at 8x the latent size (" + std::to_string(8 * x.size(3)) + "x"
                + std::to_string(8 * x.size(2)) + ")");
    auto emb = embed(timesteps, x.size(0), y);
    at::Tensor ctx = context.defined() ? context.to(dtype) : context;
    auto g = hint.to(dtype);
    for (size_t i = 0; i < input_hint_block.size(); ++i) {
        g = input_hint_block[i](g);
        if (i + 1 < input_hint_block.size())
            g = at::silu(g);
    }
    if (guidedHint)
        *guidedHint = g;
    std::vector<at::Tensor> outs;
    auto h = x.to(dtype);
    for (size_t i = 0; i < input_blocks.size(); ++i) {
        h = input_blocks[i](h, emb, ctx);
        if (i == 0)
            h = h + g; // the only place the control image enters
        outs.push_back(zero_convs[i](h));
    }
    h = middle_block(h, emb, ctx);
    outs.push_back(middle_block_out(h));
    return outs;
}

std::vector<double> controlScales(size_t n, double strength, bool guessMode)
{
    std::vector<double> s;
    for (size_t i = 0; i < 13 && i < n; ++i)
        s.push_back(guessMode ? strength * std::pow(0.825, 12.0 - static_cast<double>(i)) : strength);
    return s;
}

} // namespace ls::models

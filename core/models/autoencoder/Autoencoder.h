#pragma once
// ldm/modules/diffusionmodules/model.py Encoder/Decoder and the two first stages built on them: AutoencoderKL
// (Stable Diffusion, f8) and VQModelInterface with VectorQuantizer2 (LDM super-resolution and layout2img, f4).
// Registered names are the key segments under `first_stage_model.`.
#include "models/Layers.h"

#include <nlohmann/json_fwd.hpp>

namespace ls::models {

namespace detail {
struct EncoderParts;
struct DecoderParts;
} // namespace detail

struct AutoencoderConfig {
    bool vq = false;
    int64_t embedDim = 4;
    int64_t nEmbed = 0; // VQ codebook size
    bool doubleZ = true;
    int64_t zChannels = 4;
    int64_t inChannels = 3;
    int64_t outCh = 3;
    int64_t ch = 128;
    std::vector<int64_t> chMult { 1, 2, 4, 4 };
    int64_t numResBlocks = 2;
    std::vector<int64_t> attnResolutions;
    int64_t resolution = 256;

    int64_t downFactor() const { return int64_t(1) << (chMult.size() - 1); }
    // Reads first_stage_config (target + params with ddconfig) or its params.
    static AutoencoderConfig fromJson(const nlohmann::json& j);
    nlohmann::json toJson() const;
    bool operator==(const AutoencoderConfig&) const = default;
};

struct EncoderImpl : torch::nn::Module {
    EncoderImpl(const AutoencoderConfig& c, const nn::Options& o);
    at::Tensor forward(const at::Tensor& x);
    AutoencoderConfig config;
    std::shared_ptr<detail::EncoderParts> parts;
};
TORCH_MODULE(Encoder);

struct DecoderImpl : torch::nn::Module {
    DecoderImpl(const AutoencoderConfig& c, const nn::Options& o);
    at::Tensor forward(const at::Tensor& z);
    AutoencoderConfig config;
    std::shared_ptr<detail::DecoderParts> parts;
};
TORCH_MODULE(Decoder);

struct AutoencoderImpl : torch::nn::Module {
    AutoencoderImpl(const AutoencoderConfig& c, const nn::Options& o);

    // KL: quant_conv(encoder(x)) = moments [B, 2*embed, h, w]. VQ: quant_conv(encoder(x)) = h (pre-quantisation).
    at::Tensor encodeMoments(const at::Tensor& image);
    // KL: mean + exp(0.5*clamp(logvar,-30,20)) * noise (noise undefined -> the mean). VQ: h.
    at::Tensor encode(const at::Tensor& image, const at::Tensor& noise = {});
    // KL: decoder(post_quant_conv(z)). VQ: quantises first unless forceNotQuantize.
    at::Tensor decode(const at::Tensor& z, bool forceNotQuantize = false);
    // VQ nearest-code quantisation: returns quant and the indices [B, h, w].
    std::pair<at::Tensor, at::Tensor> quantize(const at::Tensor& h);

    AutoencoderConfig config;
    Encoder encoder { nullptr };
    Decoder decoder { nullptr };
    nn::Conv2d quant_conv { nullptr }, post_quant_conv { nullptr };
    nn::Embedding codebook { nullptr };
};
TORCH_MODULE(Autoencoder);

} // namespace ls::models

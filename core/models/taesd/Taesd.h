#pragma once
// TAESD, the tiny autoencoder (madebyollin/taesd): a decoder and an encoder of about 1.2 M parameters each that map
// between images and the latent space of SD1/SD2 (taesd_*) or SDXL (taesdxl_*), used for cheap previews. Plain 3x3
// convolutions, ReLUs and residual blocks; no norms, no attention. The latent is the UNet's (no scale factor).
#include "io/WeightSource.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>

namespace ls::models {

class TinyAutoencoderHalf {
public:
    enum class Kind { Decoder, Encoder };
    // Reads the published layout (`taesd_decoder.pth` / `.safetensors`: Decoder().state_dict() keys "1.weight",
    // "3.conv.0.weight", ...; the encoder's "0.weight", ...), optionally under a prefix. Strict: a missing, unexpected
    // or misshaped key is an error naming the source and the key.
    static TinyAutoencoderHalf load(const io::WeightSource& source, Kind kind, const std::string& prefix = {});
    // Decoder: UNet-space latent [B, 4, h, w] -> image [B, 3, 8h, 8w], raw (it aims at [0, 1]; not clamped).
    // Encoder: image [B, 3, H, W] in [0, 1] -> latent [B, 4, H/8, W/8].
    at::Tensor forward(const at::Tensor& x) const;
    Kind kind() const { return m_kind; }
    int64_t latentChannels() const { return m_latentChannels; }
    void to(const at::TensorOptions& options);

private:
    Kind m_kind = Kind::Decoder;
    int64_t m_latentChannels = 4;
    std::map<std::string, at::Tensor> m_w;
    at::Tensor conv(const at::Tensor& x, const std::string& key, int64_t stride = 1) const;
    at::Tensor block(const at::Tensor& x, int index) const;
};

// Opens a TAESD half from a file (.safetensors or .pth) and checks that it is the half asked for.
TinyAutoencoderHalf loadTinyAutoencoder(const std::filesystem::path& file, TinyAutoencoderHalf::Kind kind);

} // namespace ls::models

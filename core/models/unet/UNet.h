#pragma once
// openaimodel.UNetModel (CompVis/stable-diffusion, Stability-AI/stablediffusion, CompVis/latent-diffusion) in all the
// configurations we load: SD1, SD2 (linear projections, head channels), 9-channel inpainting, LDM super-resolution
// (AttentionBlock, concat conditioning), the SD x4 upscaler (noise-level class embedding, cross-attention attn1) and
// the layout2img model. Registered names are the checkpoint key segments under `model.diffusion_model.`.
#include "models/Layers.h"

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <vector>

namespace ls::models {

struct UNetConfig {
    int64_t inChannels = 4;
    // Latent Studio extension (0 in every original checkpoint): the UNet appends this many coordinate maps (x then y,
    // each from -1 to 1 across the latent) to its input before conv_in, so that absolute position ("at the top left",
    // box coordinates) can be grounded (CoordConv, Liu et al. 2018). Only 0 or 2.
    int64_t coordChannels = 0;
    int64_t outChannels = 4;
    int64_t modelChannels = 320;
    std::vector<int64_t> attentionResolutions { 4, 2, 1 };
    std::vector<int64_t> numResBlocks { 2, 2, 2, 2 }; // per level
    std::vector<int64_t> channelMult { 1, 2, 4, 4 };
    int64_t numHeads = 8; // -1 when numHeadChannels is set
    int64_t numHeadChannels = -1; // -1 when numHeads is set
    bool useSpatialTransformer = true;
    int64_t transformerDepth = 1; // every level's and the middle block's, unless the two fields below say otherwise
    std::vector<int64_t> transformerDepthPerLevel; // SDXL: [1, 2, 10] (empty = transformerDepth everywhere)
    int64_t transformerDepthMiddle = -1; // -1: the last level's depth (sgm's transformer_depth_middle default)
    int64_t contextDim = 768; // 0 = no cross-attention
    bool useLinearInTransformer = false;
    bool legacy = false;
    bool useScaleShiftNorm = false;
    int64_t numClasses = 0; // > 0: label_emb (x4 upscaler noise level)
    // SDXL's num_classes "sequential": label_emb = Linear(adm_in_channels, 4 mc), SiLU, Linear(4 mc, 4 mc) on the
    // vector condition y (pooled text embedding and size embeddings), added to the time embedding.
    int64_t admInChannels = 0;
    std::vector<bool> disableSelfAttentions; // per level, empty = none
    bool disableMiddleSelfAttn = false;

    // Reads the original yaml's unet_config.params names (also accepts the params object itself).
    static UNetConfig fromJson(const nlohmann::json& params);
    // sgm's UNetModel params (SDXL's network_config): always SpatialTransformer, no use_spatial_transformer key.
    static UNetConfig fromSgmJson(const nlohmann::json& params);
    nlohmann::json toJson() const;
    bool operator==(const UNetConfig&) const = default;
    // Depths of levels without attention mean nothing: set to 0, and per-level lists that are uniform (middle
    // included) folded into transformerDepth, so that a config read from a yaml equals one detected from weights.
    void canonicalizeDepths();
    int64_t depthAt(size_t level) const
    {
        return level < transformerDepthPerLevel.size() ? transformerDepthPerLevel[level] : transformerDepth;
    }
    int64_t middleDepth() const
    {
        if (transformerDepthMiddle >= 0)
            return transformerDepthMiddle;
        return transformerDepthPerLevel.empty() ? transformerDepth : transformerDepthPerLevel.back();
    }
};

// One entry of a TimestepEmbedSequential.
struct UNetLayer : torch::nn::Module {
    virtual at::Tensor run(const at::Tensor& x, const at::Tensor& emb, const at::Tensor& context) = 0;
};

struct TimestepEmbedSequentialImpl : torch::nn::Module {
    void append(std::shared_ptr<UNetLayer> layer);
    at::Tensor forward(at::Tensor x, const at::Tensor& emb, const at::Tensor& context);
    std::vector<std::shared_ptr<UNetLayer>> layers;
};
TORCH_MODULE(TimestepEmbedSequential);

struct UNetModelImpl : torch::nn::Module {
    // encoderOnly: time embedding, input and middle blocks (a ControlNet's copy of the encoder), no output blocks.
    UNetModelImpl(const UNetConfig& config, const nn::Options& o, bool encoderOnly = false);
    // x [B, C, H, W]; timesteps [B] (integer or fractional); context [B, T, D] or undefined; y [B] class labels, or
    // [B, adm_in_channels] (SDXL's vector condition). control: ControlNet residuals, one per input block and the
    // middle block's last (cldm ControlledUnetModel: the last is added to the middle block's output, the others to
    // the skip tensors before each output block concatenates them); onlyMidControl adds the last one alone.
    at::Tensor forward(const at::Tensor& x, const at::Tensor& timesteps, const at::Tensor& context = {},
        const at::Tensor& y = {}, const std::vector<at::Tensor>* control = nullptr, bool onlyMidControl = false);
    // The time embedding plus the class / vector embedding, in the compute dtype.
    at::Tensor embed(const at::Tensor& timesteps, int64_t batch, const at::Tensor& y);
    std::vector<int64_t> inputChannels; // output channels of each input block

    UNetConfig config;
    nn::Linear time_embed_0 { nullptr }, time_embed_2 { nullptr };
    nn::Embedding label_emb { nullptr };
    nn::Linear label_emb_0 { nullptr }, label_emb_2 { nullptr }; // adm: label_emb.0.0, label_emb.0.2
    std::vector<TimestepEmbedSequential> input_blocks;
    TimestepEmbedSequential middle_block { nullptr };
    std::vector<TimestepEmbedSequential> output_blocks;
    nn::GroupNorm out_0 { nullptr };
    nn::Conv2d out_2 { nullptr };
};
TORCH_MODULE(UNetModel);

// openaimodel.timestep_embedding: [cos(t f), sin(t f)], f = exp(-ln(10000) i / half).
at::Tensor timestepEmbedding(const at::Tensor& timesteps, int64_t dim);

} // namespace ls::models

#pragma once
// What a checkpoint is: its family and the full configuration of each part, detected from the weights or read from
// the original yaml-equivalent JSON (LatentDiffusion params) as an override.
#include "io/WeightSource.h"
#include "models/autoencoder/Autoencoder.h"
#include "models/bert/BertEmbedder.h"
#include "models/clip/ClipText.h"
#include "models/openclip/OpenClipText.h"
#include "models/unet/UNet.h"

#include <nlohmann/json.hpp>

namespace ls::models {

enum class Family {
    SD1,
    SD1Inpaint,
    SD2,
    SD2Inpaint,
    SD2Upscaler,
    LdmSR,
    Layout2Img,
    Synthetic,
    SyntheticSR,
    SDXL,
    SDXLRefiner,
    Custom
};
// SdxlBase: CLIP ViT-L (conditioner.embedders.0) and OpenCLIP bigG (conditioner.embedders.1); SdxlRefiner: bigG only
// (conditioner.embedders.0). Both add a vector condition (pooled text, sizes; the refiner an aesthetic score).
enum class CondStage { None, Clip, OpenClip, Bert, SdxlBase, SdxlRefiner };

const char* familyName(Family f);
bool isSdxl(Family f);
// The families whose only job is upscaling: LDM-SR 4x, the SD x4 upscaler, the bundled SR model.
bool isUpscaler(Family f);

struct ModelConfig {
    Family family = Family::SD1;
    UNetConfig unet;
    AutoencoderConfig firstStage;
    CondStage cond = CondStage::Clip;
    ClipTextConfig clip;
    OpenClipTextConfig openclip;
    BertConfig bert;
    double scaleFactor = 0.18215;
    std::string parameterization = "eps"; // or "v"
    std::string conditioningKey = "crossattn"; // crossattn | concat | hybrid | hybrid-adm
    double linearStart = 0.00085, linearEnd = 0.012;
    int64_t timesteps = 1000;
    bool zeroTerminalSnr = false; // "rescale_betas_zero_snr": the linear schedule rescaled to zero terminal SNR
    // "layout_channels" (the bundled model): the condition's boxes painted into this many channels that the UNet reads
    // after the latent's (text/WorldLayout.h); unet.inChannels counts them.
    int64_t layoutChannels = 0;
    // SD x4 upscaler low-resolution noise augmentation.
    double lowScaleStart = 1e-4, lowScaleEnd = 0.02;
    int64_t maxNoiseLevel = 350;
    std::string source; // "weights", or the override file

    nlohmann::json toJson() const;
};

// Detects the family and every part's configuration from key names and shapes. Throws a clear Unsupported error
// for known families we do not support (SD3, Flux...) and for unrecognised files. predictionHint ("eps"/"v")
// overrides the parameterisation, which weights cannot reveal (SD2 768-v).
ModelConfig detectConfig(const io::WeightSource& weights, const std::string& predictionHint = {});

// Reads LatentDiffusion params (the original yaml as JSON: unet_config, first_stage_config, cond_stage_config,
// linear_start, scale_factor, ...) or sgm DiffusionEngine params (SDXL: network_config, conditioner_config,
// first_stage_config, scale_factor; clip_config / open_clip_config where the text towers are not the published
// ones). Parts the JSON leaves out are detected from the weights when given.
ModelConfig configFromLdmJson(const nlohmann::json& ldm, const io::WeightSource* weights = nullptr);

// Looks for a JSON config beside the checkpoint (`<stem>.json`, or `config.json` in its folder).
std::optional<nlohmann::json> findConfigBeside(const std::filesystem::path& checkpoint);

} // namespace ls::models

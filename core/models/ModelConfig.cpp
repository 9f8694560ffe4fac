#include "models/ModelConfig.h"

#include "io/ConfigFile.h"
#include "text/WorldLayout.h"
#include "util/Error.h"
#include "util/JsonChecks.h"

#include <fstream>
#include <regex>

namespace ls::models {

using nlohmann::json;

bool isUpscaler(Family f) { return f == Family::LdmSR || f == Family::SD2Upscaler || f == Family::SyntheticSR; }

bool isSdxl(Family f) { return f == Family::SDXL || f == Family::SDXLRefiner; }

const char* familyName(Family f)
{
    switch (f) {
    case Family::SD1:
        return "sd1";
    case Family::SD1Inpaint:
        return "sd1-inpainting";
    case Family::SD2:
        return "sd2";
    case Family::SD2Inpaint:
        return "sd2-inpainting";
    case Family::SD2Upscaler:
        return "sd2-x4-upscaler";
    case Family::LdmSR:
        return "ldm-sr-4x";
    case Family::Layout2Img:
        return "ldm-layout2img";
    case Family::Synthetic:
        return "latent-studio-synthetic";
    case Family::SyntheticSR:
        return "latent-studio-synthetic-sr";
    case Family::SDXL:
        return "sdxl";
    case Family::SDXLRefiner:
        return "sdxl-refiner";
    case Family::Custom:
        return "custom";
    }
    return "?";
}

json ModelConfig::toJson() const
{
    json j;
    j["family"] = familyName(family);
    j["parameterization"] = parameterization;
    j["conditioning_key"] = conditioningKey;
    j["scale_factor"] = scaleFactor;
    j["linear_start"] = linearStart;
    j["linear_end"] = linearEnd;
    j["timesteps"] = timesteps;
    if (zeroTerminalSnr)
        j["rescale_betas_zero_snr"] = true;
    if (layoutChannels)
        j["layout_channels"] = layoutChannels;
    j["unet_config"] = unet.toJson();
    j["first_stage_config"] = firstStage.toJson();
    switch (cond) {
    case CondStage::None:
        j["cond_stage"] = "none";
        break;
    case CondStage::Clip:
        j["cond_stage"] = "clip";
        j["clip_config"] = clip.toJson();
        break;
    case CondStage::OpenClip:
        j["cond_stage"] = "openclip";
        j["openclip_config"] = openclip.toJson();
        break;
    case CondStage::Bert:
        j["cond_stage"] = "bert";
        j["bert_config"] = { { "n_embed", bert.nEmbed }, { "n_layer", bert.nLayer }, { "vocab_size", bert.vocabSize },
            { "max_seq_len", bert.maxSeqLen } };
        break;
    case CondStage::SdxlBase:
        j["cond_stage"] = "sdxl";
        j["clip_config"] = clip.toJson();
        j["openclip_config"] = openclip.toJson();
        break;
    case CondStage::SdxlRefiner:
        j["cond_stage"] = "sdxl-refiner";
        j["openclip_config"] = openclip.toJson();
        break;
    }
    if (family == Family::SD2Upscaler)
        j["low_scale"] = { { "linear_start", lowScaleStart }, { "linear_end", lowScaleEnd },
            { "max_noise_level", maxNoiseLevel } };
    j["source"] = source;
    return j;
}

namespace {

// sgm's DiffusionEngine params (SDXL base and refiner yaml files).
ModelConfig configFromSgmJson(const json& p, const json& extras, const io::WeightSource* weights)
{
    ModelConfig c;
    if (weights) {
        try {
            c = detectConfig(*weights);
        } catch (const Error&) {
        }
    }
    c.source = "config";
    c.unet = UNetConfig::fromSgmJson(p["network_config"]);
    if (p.contains("first_stage_config"))
        c.firstStage = AutoencoderConfig::fromJson(p["first_stage_config"]);
    c.scaleFactor = p.value("scale_factor", 0.13025);
    c.linearStart = 0.00085; // LegacyDDPMDiscretization's defaults
    c.linearEnd = 0.012;
    c.timesteps = 1000;
    c.parameterization = "eps";
    if (p.contains("denoiser_config")) {
        const std::string scaling = p["denoiser_config"]
                                        .value("params", json::object())
                                        .value("scaling_config", json::object())
                                        .value("target", std::string());
        if (scaling.find("VScaling") != std::string::npos)
            c.parameterization = "v";
    }
    bool clipL = false, clipG = false;
    const json conditioner = p.value("conditioner_config", json::object()).value("params", json::object());
    for (const auto& e : conditioner.value("emb_models", json::array())) {
        const std::string t = e.value("target", std::string());
        if (t.find("FrozenOpenCLIPEmbedder2") != std::string::npos)
            clipG = true;
        else if (t.find("FrozenCLIPEmbedder") != std::string::npos)
            clipL = true;
        else if (t.find("ConcatTimestepEmbedderND") == std::string::npos)
            fail(ErrorKind::Unsupported, "model config: conditioner embedder '" + t + "' is not supported");
    }
    if (!clipG)
        fail(ErrorKind::Unsupported,
            "model config: an sgm model without the OpenCLIP bigG text encoder (FrozenOpenCLIPEmbedder2) is not SDXL");
    c.cond = clipL ? CondStage::SdxlBase : CondStage::SdxlRefiner;
    c.family = clipL ? Family::SDXL : Family::SDXLRefiner;
    if (extras.contains("clip_config"))
        c.clip = ClipTextConfig::fromJson(extras["clip_config"]); // else detected, or ViT-L/14 (the defaults)
    if (extras.contains("open_clip_config")) {
        const json& oc = extras["open_clip_config"];
        const json& t = oc.value("text_cfg", json::object());
        c.openclip.width = t.value("width", int64_t(1280));
        c.openclip.heads = t.value("heads", c.openclip.width / 64);
        c.openclip.layers = t.value("layers", int64_t(32));
        c.openclip.contextLength = t.value("context_length", int64_t(77));
        c.openclip.vocabSize = t.value("vocab_size", int64_t(49408));
        c.openclip.mlp = static_cast<int64_t>(t.value("mlp_ratio", 4.0) * static_cast<double>(c.openclip.width));
        c.openclip.embedDim = oc.value("embed_dim", c.openclip.width);
    } else if (!weights) {
        c.openclip = OpenClipTextConfig { 49408, 1280, 32, 20, 5120, 77, 1280 }; // ViT-bigG/14
    }
    return c;
}

// sgm (SDXL): {model: {target, params}}, a golden case's config, or the params with network_config; the params and
// the extras (clip_config / open_clip_config, beside the params or inside them).
std::optional<std::pair<json, json>> sgmParams(const json& in0)
{
    const json* r = &in0;
    for (int depth = 0; depth < 3 && r->is_object(); ++depth) {
        const json& params = r->contains("params") && (*r)["params"].is_object() ? (*r)["params"] : *r;
        if (params.contains("network_config")) {
            json extras = *r;
            for (const char* k : { "clip_config", "open_clip_config" })
                if (params.contains(k))
                    extras[k] = params[k];
            return std::make_pair(params, extras);
        }
        if (r->contains("model") && (*r)["model"].is_object())
            r = &(*r)["model"];
        else if (r->contains("config") && (*r)["config"].is_object())
            r = &(*r)["config"];
        else
            break;
    }
    return std::nullopt;
}

} // namespace

ModelConfig configFromLdmJson(const json& in0, const io::WeightSource* weights)
{
    checkJsonNumbers(in0, "model config");
    if (auto sgm = sgmParams(in0))
        return configFromSgmJson(sgm->first, sgm->second, weights);
    // Accept the yaml's top level ({model: {target, params}}), a golden case.json ({config: ...}) or the params.
    const json* root = &in0;
    for (int depth = 0; depth < 3; ++depth) {
        if (root->contains("unet_config")
            || (root->contains("params") && (*root)["params"].is_object() && (*root)["params"].contains("unet_config")))
            break;
        if (root->contains("model") && (*root)["model"].is_object())
            root = &(*root)["model"];
        else if (root->contains("config") && (*root)["config"].is_object())
            root = &(*root)["config"];
        else
            break;
    }
    const json& in = *root;
    if (!in.contains("unet_config")
        && !(in.contains("params") && in["params"].is_object() && in["params"].contains("unet_config")))
        fail(ErrorKind::InvalidInput,
            "config: no unet_config found (expected the LatentDiffusion params of the original yaml)");
    const json& p = in.contains("params") && in["params"].is_object() ? in["params"] : in;
    ModelConfig c;
    bool detected = false;
    if (weights) {
        try {
            c = detectConfig(*weights);
            detected = true;
        } catch (const Error&) {
        }
    }
    c.source = "config";
    if (p.contains("unet_config"))
        c.unet = UNetConfig::fromJson(p["unet_config"]);
    if (p.contains("first_stage_config"))
        c.firstStage = AutoencoderConfig::fromJson(p["first_stage_config"]);
    c.linearStart = p.value("linear_start", detected ? c.linearStart : 0.0015);
    c.linearEnd = p.value("linear_end", detected ? c.linearEnd : 0.0155);
    c.timesteps = p.value("timesteps", int64_t(1000));
    c.zeroTerminalSnr = p.value("rescale_betas_zero_snr", false);
    c.layoutChannels = p.value("layout_channels", int64_t(0));
    c.scaleFactor = p.value("scale_factor", 1.0);
    c.parameterization = p.value("parameterization", std::string("eps"));
    if (p.contains("conditioning_key") && p["conditioning_key"].is_string())
        c.conditioningKey = p["conditioning_key"].get<std::string>();
    else if (p.value("concat_mode", false))
        c.conditioningKey = "concat";
    if (p.contains("cond_stage_config")) {
        const std::string t = p["cond_stage_config"].value("target", std::string());
        if (t.find("FrozenCLIPEmbedder") != std::string::npos) {
            c.cond = CondStage::Clip;
            if (p.contains("clip_config"))
                c.clip = ClipTextConfig::fromJson(p["clip_config"]);
        } else if (t.find("OpenCLIP") != std::string::npos) {
            c.cond = CondStage::OpenClip;
        } else if (t.find("BERTEmbedder") != std::string::npos) {
            c.cond = CondStage::Bert;
            const json& b = p["cond_stage_config"].value("params", json::object());
            c.bert.nEmbed = b.value("n_embed", c.bert.nEmbed);
            c.bert.nLayer = b.value("n_layer", c.bert.nLayer);
            c.bert.vocabSize = b.value("vocab_size", c.bert.vocabSize);
            c.bert.maxSeqLen = b.value("max_seq_len", c.bert.maxSeqLen);
        } else if (t.find("Identity") != std::string::npos || t == "__is_unconditional__") {
            c.cond = CondStage::None;
        }
    }
    if (p.contains("low_scale_config")) {
        const json& l = p["low_scale_config"].value("params", json::object());
        const json ns = l.value("noise_schedule_config", json::object());
        c.lowScaleStart = ns.value("linear_start", c.lowScaleStart);
        c.lowScaleEnd = ns.value("linear_end", c.lowScaleEnd);
        c.maxNoiseLevel = l.value("max_noise_level", c.maxNoiseLevel);
    }
    // Family from the parts.
    if (c.cond == CondStage::Clip)
        c.family = c.unet.inChannels == 9 ? Family::SD1Inpaint : Family::SD1;
    else if (c.cond == CondStage::OpenClip)
        c.family
            = c.unet.numClasses > 0 ? Family::SD2Upscaler : (c.unet.inChannels == 9 ? Family::SD2Inpaint : Family::SD2);
    else if (c.cond == CondStage::Bert)
        c.family = c.firstStage.vq ? Family::Layout2Img : Family::Synthetic;
    else if (c.firstStage.vq && c.conditioningKey == "concat")
        c.family = Family::LdmSR;
    else if (c.conditioningKey == "concat")
        c.family = Family::SyntheticSR;
    else
        c.family = Family::Custom;
    if (p.contains("family") && p["family"].is_string()) {
        const std::string f = p["family"].get<std::string>();
        for (Family k : { Family::SD1, Family::SD1Inpaint, Family::SD2, Family::SD2Inpaint, Family::SD2Upscaler,
                 Family::LdmSR, Family::Layout2Img, Family::Synthetic, Family::SyntheticSR, Family::SDXL,
                 Family::SDXLRefiner, Family::Custom })
            if (f == familyName(k))
                c.family = k;
    }
    if (c.layoutChannels != 0) {
        if (c.family != Family::Synthetic || c.layoutChannels != text::kWorldLayoutChannels)
            fail(ErrorKind::InvalidInput,
                "model config: layout_channels is for Latent Studio's own models and must be "
                    + std::to_string(text::kWorldLayoutChannels) + " (got " + std::to_string(c.layoutChannels) + ")");
        if (c.unet.inChannels != c.firstStage.embedDim + c.layoutChannels)
            fail(ErrorKind::InvalidInput,
                "model config: unet_config in_channels is " + std::to_string(c.unet.inChannels) + ", but "
                    + std::to_string(c.firstStage.embedDim) + " latent channels and " + std::to_string(c.layoutChannels)
                    + " layout_channels need " + std::to_string(c.firstStage.embedDim + c.layoutChannels));
    }
    return c;
}

std::optional<json> findConfigBeside(const std::filesystem::path& checkpoint)
{
    namespace fs = std::filesystem;
    if (fs::is_directory(checkpoint))
        return std::nullopt;
    for (const char* ext : { ".json", ".yaml", ".yml" }) {
        fs::path c = checkpoint;
        c.replace_extension(ext);
        std::error_code ec;
        if (fs::is_regular_file(c, ec))
            return io::readConfigFile(c);
    }
    return std::nullopt;
}

} // namespace ls::models

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

struct KeyView {
    const io::WeightSource& w;
    bool has(const std::string& k) const { return w.contains(k); }
    std::vector<int64_t> shape(const std::string& k) const { return w.info(k).shape; }
    bool anyWithPrefix(const std::string& p) const
    {
        for (const auto& k : w.keys())
            if (k.rfind(p, 0) == 0)
                return true;
        return false;
    }
    bool anyContaining(const std::string& s) const
    {
        for (const auto& k : w.keys())
            if (k.find(s) != std::string::npos)
                return true;
        return false;
    }
};

int64_t countIndexed(const KeyView& kv, const std::string& prefix)
{
    int64_t n = 0;
    while (kv.anyWithPrefix(prefix + std::to_string(n) + "."))
        ++n;
    return n;
}

UNetConfig detectUNet(const KeyView& kv, const std::string& p)
{
    UNetConfig c;
    auto in0 = kv.shape(p + "input_blocks.0.0.weight");
    c.modelChannels = in0[0];
    c.inChannels = in0[1];
    c.outChannels = kv.shape(p + "out.2.weight")[0];
    c.channelMult.clear();
    c.numResBlocks.clear();
    c.attentionResolutions.clear();
    const int64_t nIn = countIndexed(kv, p + "input_blocks.");
    int64_t ds = 1, resInLevel = 0;
    c.useSpatialTransformer = false;
    c.contextDim = 0;
    std::vector<int64_t> depths;
    for (int64_t i = 1; i < nIn; ++i) {
        const std::string b = p + "input_blocks." + std::to_string(i) + ".";
        if (kv.has(b + "0.op.weight")) {
            c.numResBlocks.push_back(resInLevel);
            resInLevel = 0;
            ds *= 2;
            continue;
        }
        if (resInLevel == 0) {
            c.channelMult.push_back(kv.shape(b + "0.out_layers.3.weight")[0] / c.modelChannels);
            depths.push_back(0);
        }
        ++resInLevel;
        if (kv.anyWithPrefix(b + "1.")) {
            if (std::find(c.attentionResolutions.begin(), c.attentionResolutions.end(), ds)
                == c.attentionResolutions.end())
                c.attentionResolutions.push_back(ds);
            if (kv.has(b + "1.transformer_blocks.0.attn2.to_k.weight")) {
                c.useSpatialTransformer = true;
                c.contextDim = kv.shape(b + "1.transformer_blocks.0.attn2.to_k.weight")[1];
                depths.back() = countIndexed(kv, b + "1.transformer_blocks.");
                c.useLinearInTransformer = kv.shape(b + "1.proj_in.weight").size() == 2;
                const auto inner = kv.shape(b + "1.transformer_blocks.0.attn1.to_k.weight");
                const size_t level = c.channelMult.size() - 1;
                if (c.disableSelfAttentions.size() <= level)
                    c.disableSelfAttentions.resize(level + 1, false);
                c.disableSelfAttentions[level] = inner[1] == c.contextDim && inner[1] != inner[0];
            }
        }
    }
    c.numResBlocks.push_back(resInLevel);
    if (c.useSpatialTransformer) {
        c.transformerDepthPerLevel = depths;
        c.transformerDepthMiddle = countIndexed(kv, p + "middle_block.1.transformer_blocks.");
        c.canonicalizeDepths();
    }
    if (std::none_of(c.disableSelfAttentions.begin(), c.disableSelfAttentions.end(), [](bool b) { return b; }))
        c.disableSelfAttentions.clear();
    else
        c.disableSelfAttentions.resize(c.channelMult.size(), false);
    c.useScaleShiftNorm = false;
    if (kv.has(p + "input_blocks.1.0.emb_layers.1.weight"))
        c.useScaleShiftNorm = kv.shape(p + "input_blocks.1.0.emb_layers.1.weight")[0]
            == 2 * kv.shape(p + "input_blocks.1.0.out_layers.3.weight")[0];
    c.numClasses = kv.has(p + "label_emb.weight") ? kv.shape(p + "label_emb.weight")[0] : 0;
    c.admInChannels = kv.has(p + "label_emb.0.0.weight") ? kv.shape(p + "label_emb.0.0.weight")[1] : 0;
    return c;
}

ClipTextConfig detectClip(const KeyView& kv, const std::string& p)
{
    ClipTextConfig c;
    auto tok = kv.shape(p + "embeddings.token_embedding.weight");
    c.vocabSize = tok[0];
    c.hiddenSize = tok[1];
    c.maxPositions = kv.shape(p + "embeddings.position_embedding.weight")[0];
    c.numLayers = countIndexed(kv, p + "encoder.layers.");
    c.intermediateSize = kv.shape(p + "encoder.layers.0.mlp.fc1.weight")[0];
    c.numHeads = std::max<int64_t>(1, c.hiddenSize / 64); // ViT-L/14: 768 / 64 = 12 heads
    return c;
}

OpenClipTextConfig detectOpenClip(const KeyView& kv, const std::string& p)
{
    OpenClipTextConfig c;
    auto tok = kv.shape(p + "token_embedding.weight");
    c.vocabSize = tok[0];
    c.width = tok[1];
    c.contextLength = kv.shape(p + "positional_embedding")[0];
    c.layers = countIndexed(kv, p + "transformer.resblocks.");
    c.mlp = kv.shape(p + "transformer.resblocks.0.mlp.c_fc.weight")[0];
    c.heads = std::max<int64_t>(1, c.width / 64); // ViT-H/14: 16 heads, ViT-bigG/14: 20
    c.embedDim = kv.has(p + "text_projection") ? kv.shape(p + "text_projection")[1] : c.width;
    return c;
}

AutoencoderConfig detectFirstStage(const KeyView& kv, const std::string& p)
{
    AutoencoderConfig c;
    c.vq = kv.has(p + "quantize.embedding.weight");
    auto convIn = kv.shape(p + "encoder.conv_in.weight");
    c.ch = convIn[0];
    c.inChannels = convIn[1];
    c.outCh = kv.shape(p + "decoder.conv_out.weight")[0];
    const int64_t levels = countIndexed(kv, p + "encoder.down.");
    c.chMult.clear();
    for (int64_t i = 0; i < levels; ++i)
        c.chMult.push_back(kv.shape(p + "encoder.down." + std::to_string(i) + ".block.0.conv1.weight")[0] / c.ch);
    c.numResBlocks = countIndexed(kv, p + "encoder.down.0.block.");
    c.attnResolutions.clear();
    c.zChannels = kv.shape(p + "decoder.conv_in.weight")[1];
    c.doubleZ = kv.shape(p + "encoder.conv_out.weight")[0] == 2 * c.zChannels;
    if (c.vq) {
        auto cb = kv.shape(p + "quantize.embedding.weight");
        c.nEmbed = cb[0];
        c.embedDim = cb[1];
    } else {
        c.embedDim = kv.shape(p + "post_quant_conv.weight")[1];
    }
    c.resolution = 256;
    for (int64_t i = 0; i < levels; ++i)
        if (kv.anyWithPrefix(p + "encoder.down." + std::to_string(i) + ".attn.0."))
            c.attnResolutions.push_back(c.resolution >> i);
    return c;
}

} // namespace

ModelConfig detectConfig(const io::WeightSource& w, const std::string& predictionHint)
{
    KeyView kv { w };
    const std::string file = w.path();
    if (kv.anyWithPrefix("model.diffusion_model.joint_blocks."))
        fail(ErrorKind::Unsupported,
            file + ": this looks like a Stable Diffusion 3 checkpoint (joint_blocks), not supported yet");
    if (kv.anyWithPrefix("double_blocks.") || kv.anyWithPrefix("model.diffusion_model.double_blocks."))
        fail(ErrorKind::Unsupported, file + ": this looks like a Flux checkpoint (double_blocks), not supported yet");
    if (kv.anyWithPrefix("lora_unet_") || kv.anyWithPrefix("lora_te_") || kv.anyContaining(".lora_down.")
        || kv.anyContaining(".lora_A."))
        fail(ErrorKind::Unsupported,
            file
                + ": this is a LoRA file, not a full checkpoint: load a model, then add the LoRA to the prompt "
                  "(<lora:NAME:0.8>, the LoRA menu, or latent-cli --lora)");
    if (!kv.has("model.diffusion_model.input_blocks.0.0.weight")) {
        if (kv.has("encoder.conv_in.weight") && kv.has("decoder.conv_out.weight"))
            fail(ErrorKind::Unsupported,
                file + ": this is a stand-alone autoencoder (VAE) file, not a full model checkpoint");
        if (kv.anyWithPrefix("down_blocks.") || kv.anyWithPrefix("text_model."))
            fail(ErrorKind::Unsupported,
                file + ": this is a single diffusers component file; open the whole diffusers folder instead");
        fail(ErrorKind::Unsupported,
            file + ": not a recognised latent diffusion checkpoint (no model.diffusion_model.input_blocks.0.0.weight)");
    }
    if (!kv.has("first_stage_model.encoder.conv_in.weight"))
        fail(ErrorKind::Mismatch, file + ": the checkpoint has a UNet but no autoencoder (first_stage_model.*)");
    ModelConfig c;
    c.source = "weights";
    c.unet = detectUNet(kv, "model.diffusion_model.");
    c.firstStage = detectFirstStage(kv, "first_stage_model.");
    if (kv.has("conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight")) {
        c.cond = CondStage::SdxlBase;
        c.clip = detectClip(kv, "conditioner.embedders.0.transformer.text_model.");
        if (!kv.has("conditioner.embedders.1.model.token_embedding.weight"))
            fail(ErrorKind::Mismatch,
                file + ": an SDXL checkpoint with CLIP ViT-L but without the OpenCLIP bigG text encoder "
                       "(conditioner.embedders.1.model.*)");
        c.openclip = detectOpenClip(kv, "conditioner.embedders.1.model.");
    } else if (kv.has("conditioner.embedders.0.model.token_embedding.weight")) {
        c.cond = CondStage::SdxlRefiner;
        c.openclip = detectOpenClip(kv, "conditioner.embedders.0.model.");
    } else if (kv.anyWithPrefix("conditioner.embedders.")) {
        fail(ErrorKind::Unsupported,
            file + ": an sgm checkpoint (conditioner.embedders.*) whose text encoders are not SDXL's");
    } else if (kv.has("cond_stage_model.transformer.text_model.embeddings.token_embedding.weight")) {
        c.cond = CondStage::Clip;
        c.clip = detectClip(kv, "cond_stage_model.transformer.text_model.");
    } else if (kv.has("cond_stage_model.model.token_embedding.weight")) {
        c.cond = CondStage::OpenClip;
        c.openclip = detectOpenClip(kv, "cond_stage_model.model.");
    } else if (kv.has("cond_stage_model.transformer.token_emb.weight")) {
        c.cond = CondStage::Bert;
        const std::string p = "cond_stage_model.transformer.";
        auto tok = kv.shape(p + "token_emb.weight");
        c.bert.vocabSize = tok[0];
        c.bert.nEmbed = tok[1];
        c.bert.maxSeqLen = kv.shape(p + "pos_emb.emb.weight")[0];
        c.bert.nLayer = countIndexed(kv, p + "attn_layers.layers.") / 2;
    } else {
        c.cond = CondStage::None;
    }
    // Attention heads are not visible in the weights; these are the published configurations of each family.
    auto& u = c.unet;
    if (c.cond == CondStage::SdxlBase || c.cond == CondStage::SdxlRefiner) {
        u.numHeads = -1;
        u.numHeadChannels = 64;
        u.legacy = false;
        c.family = c.cond == CondStage::SdxlBase ? Family::SDXL : Family::SDXLRefiner;
        c.scaleFactor = 0.13025;
        c.linearStart = 0.00085;
        c.linearEnd = 0.012;
        // 9 input channels: SDXL inpainting (latent, mask, masked-image latent, as SD1/SD2 inpainting models).
        if (u.inChannels != 4 && u.inChannels != 9)
            fail(ErrorKind::Unsupported,
                file + ": an SDXL UNet with " + std::to_string(u.inChannels) + " input channels is not supported");
        c.conditioningKey = u.inChannels == 9 ? "hybrid" : "crossattn";
    } else if (c.cond == CondStage::Clip) {
        u.numHeads = 8;
        u.numHeadChannels = -1;
        c.family = u.inChannels == 9 ? Family::SD1Inpaint : Family::SD1;
        c.conditioningKey = u.inChannels == 9 ? "hybrid" : "crossattn";
    } else if (c.cond == CondStage::OpenClip) {
        c.linearStart = 0.00085;
        c.linearEnd = 0.012;
        if (u.numClasses > 0 && u.inChannels == 7) {
            c.family = Family::SD2Upscaler;
            u.numHeads = 8;
            u.numHeadChannels = -1;
            c.parameterization = "v";
            c.conditioningKey = "hybrid-adm";
            c.scaleFactor = 0.08333;
            c.linearStart = 0.0001;
            c.linearEnd = 0.02;
        } else {
            u.numHeads = -1;
            u.numHeadChannels = 64;
            c.family = u.inChannels == 9 ? Family::SD2Inpaint : Family::SD2;
            c.conditioningKey = u.inChannels == 9 ? "hybrid" : "crossattn";
        }
    } else if (c.cond == CondStage::Bert && !c.firstStage.vq) {
        // Latent Studio's bundled model: BERT-style token encoder over a KL f4 first stage.
        c.family = Family::Synthetic;
        u.numHeads = -1;
        u.numHeadChannels = 32;
        c.scaleFactor = 1.0;
    } else if (c.cond == CondStage::Bert) {
        c.family = Family::Layout2Img;
        u.numHeads = -1;
        u.numHeadChannels = 32;
        u.legacy = true;
        c.scaleFactor = 1.0;
        c.linearStart = 0.0015;
        c.linearEnd = 0.0205;
    } else if (c.firstStage.vq && u.inChannels == 2 * c.firstStage.embedDim) {
        c.family = Family::LdmSR;
        u.numHeads = -1;
        u.numHeadChannels = 32;
        u.legacy = true;
        c.conditioningKey = "concat";
        c.scaleFactor = 1.0;
        c.linearStart = 0.0015;
        c.linearEnd = 0.0155;
    } else if (!c.firstStage.vq && u.inChannels == c.firstStage.embedDim + 3) {
        c.family = Family::SyntheticSR;
        u.numHeads = -1;
        u.numHeadChannels = 32;
        c.conditioningKey = "concat";
        c.scaleFactor = 1.0;
    } else {
        fail(ErrorKind::Unsupported,
            file
                + ": a UNet without text conditioning that is not an LDM super-resolution model; give a config JSON "
                  "beside the checkpoint");
    }
    if (!predictionHint.empty())
        c.parameterization = predictionHint;
    return c;
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
        const std::string scaling = p["denoiser_config"].value("params", json::object()).value("scaling_config",
            json::object()).value("target", std::string());
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

} // namespace

ModelConfig configFromLdmJson(const json& in0, const io::WeightSource* weights)
{
    checkJsonNumbers(in0, "model config");
    {
        // sgm (SDXL): {model: {target, params}}, a golden case's config, or the params with network_config.
        const json* r = &in0;
        for (int depth = 0; depth < 3 && r->is_object(); ++depth) {
            const json& params = r->contains("params") && (*r)["params"].is_object() ? (*r)["params"] : *r;
            if (params.contains("network_config")) {
                // clip_config / open_clip_config beside the params or inside them.
                json extras = r->is_object() ? *r : json::object();
                for (const char* k : { "clip_config", "open_clip_config" })
                    if (params.contains(k))
                        extras[k] = params[k];
                return configFromSgmJson(params, extras, weights);
            }
            if (r->contains("model") && (*r)["model"].is_object())
                r = &(*r)["model"];
            else if (r->contains("config") && (*r)["config"].is_object())
                r = &(*r)["config"];
            else
                break;
        }
    }
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

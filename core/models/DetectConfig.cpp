// Detecting what a checkpoint is from its key names and shapes (models::detectConfig): the family, every part's
// configuration, and clear errors for files that are something else (SD3, Flux, LoRAs, stand-alone VAEs).
#include "models/ModelConfig.h"

#include "util/Error.h"

namespace ls::models {

namespace {

// A tensor's shape whose dimensions are read with a check: a file with a misshapen tensor gets an error naming it.
struct Shape {
    std::string key;
    std::vector<int64_t> dims;
    int64_t operator[](size_t i) const
    {
        if (i >= dims.size())
            fail(ErrorKind::Format,
                "tensor '" + key + "' has shape " + io::shapeToString(dims)
                    + ", where a model's weight has more dimensions");
        return dims[i];
    }
    size_t size() const { return dims.size(); }
};

struct KeyView {
    const io::WeightSource& w;
    bool has(const std::string& k) const { return w.contains(k); }
    Shape shape(const std::string& k) const { return { k, w.info(k).shape }; }
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

// Files that are not a whole checkpoint of a family we load, each named for what it is.
void refuseOtherFiles(const KeyView& kv, const std::string& file)
{
    if (kv.has("conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight")
        && !kv.has("conditioner.embedders.1.model.token_embedding.weight"))
        fail(ErrorKind::Mismatch,
            file
                + ": an SDXL checkpoint with CLIP ViT-L but without the OpenCLIP bigG text encoder "
                  "(conditioner.embedders.1.model.*)");
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
    if (!kv.has("model.diffusion_model.input_blocks.0.0.weight")
        && (kv.has("control_model.input_hint_block.0.weight") || kv.has("input_hint_block.0.weight")
            || kv.has("controlnet_cond_embedding.conv_in.weight")))
        fail(ErrorKind::Unsupported,
            file
                + ": this is a ControlNet file, not a full checkpoint: load a model, then add the ControlNet "
                  "(latent-cli --control FILE,image=PNG)");
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
}

} // namespace

ModelConfig detectConfig(const io::WeightSource& w, const std::string& predictionHint)
{
    KeyView kv { w };
    const std::string file = w.path();
    refuseOtherFiles(kv, file);
    ModelConfig c;
    c.source = "weights";
    c.unet = detectUNet(kv, "model.diffusion_model.");
    c.firstStage = detectFirstStage(kv, "first_stage_model.");
    if (kv.has("conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight")) {
        c.cond = CondStage::SdxlBase;
        c.clip = detectClip(kv, "conditioner.embedders.0.transformer.text_model.");
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

} // namespace ls::models

#include "io/DiffusersFolder.h"

#include "io/CkptFile.h"
#include "io/ConfigFile.h"
#include "io/SafeTensors.h"
#include "util/Error.h"
#include "util/JsonChecks.h"

#include <cstring>
#include <regex>

namespace ls::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json readJson(const fs::path& p)
{
    json j = readConfigFile(p);
    checkJsonNumbers(j, p.string());
    return j;
}

std::shared_ptr<WeightSource> openComponent(const fs::path& dir, const std::vector<std::string>& names)
{
    for (const auto& n : names) {
        const fs::path p = dir / n;
        if (fs::is_regular_file(p)) {
            if (p.extension() == ".safetensors")
                return std::make_shared<SafeTensorsFile>(p);
            return std::make_shared<CkptFile>(p);
        }
    }
    fail(ErrorKind::Io, dir.string() + ": no weights file (looked for " + names.front() + " and variants)");
}

std::string replaceAll(std::string s, const std::string& from, const std::string& to)
{
    size_t pos = 0;
    while ((pos = s.find(from, pos)) != std::string::npos) {
        s.replace(pos, from.size(), to);
        pos += to.size();
    }
    return s;
}

std::string resnetToOriginalUNet(std::string rest)
{
    static const std::pair<const char*, const char*> rules[]
        = { { "norm1.", "in_layers.0." }, { "conv1.", "in_layers.2." }, { "time_emb_proj.", "emb_layers.1." },
              { "norm2.", "out_layers.0." }, { "conv2.", "out_layers.3." }, { "conv_shortcut.", "skip_connection." } };
    for (const auto& [d, o] : rules)
        if (rest.rfind(d, 0) == 0)
            return o + rest.substr(std::strlen(d));
    return rest;
}

std::string vaeAttnToOriginal(std::string rest)
{
    static const std::pair<const char*, const char*> rules[] = { { "group_norm.", "norm." }, { "to_q.", "q." },
        { "to_k.", "k." }, { "to_v.", "v." }, { "to_out.0.", "proj_out." }, { "query.", "q." }, { "key.", "k." },
        { "value.", "v." }, { "proj_attn.", "proj_out." } };
    for (const auto& [d, o] : rules)
        if (rest.rfind(d, 0) == 0)
            return o + rest.substr(std::strlen(d));
    return rest;
}

// The UNet's params in the original (openaimodel.UNetModel) names from a diffusers unet/config.json.
json unetParams(const json& unetCfg)
{
    const auto boc = unetCfg.value("block_out_channels", std::vector<int64_t> { 320, 640, 1280, 1280 });
    const auto downTypes = unetCfg.value("down_block_types", std::vector<std::string> {});
    json u;
    u["in_channels"] = unetCfg.value("in_channels", 4);
    u["out_channels"] = unetCfg.value("out_channels", 4);
    u["model_channels"] = boc.at(0);
    std::vector<int64_t> mult, attnRes;
    for (size_t i = 0; i < boc.size(); ++i) {
        mult.push_back(boc[i] / boc[0]);
        if (i < downTypes.size() && downTypes[i].find("CrossAttn") != std::string::npos)
            attnRes.push_back(int64_t(1) << i);
    }
    u["channel_mult"] = mult;
    u["attention_resolutions"] = attnRes;
    u["num_res_blocks"] = unetCfg.value("layers_per_block", 2);
    u["use_spatial_transformer"] = true;
    u["context_dim"] = unetCfg.value("cross_attention_dim", 768);
    u["use_linear_in_transformer"] = unetCfg.value("use_linear_projection", false);
    u["legacy"] = false;
    u["transformer_depth"] = unetCfg.contains("transformer_layers_per_block")
            && unetCfg["transformer_layers_per_block"].is_number_integer()
        ? unetCfg["transformer_layers_per_block"].get<int>()
        : 1;
    // attention_head_dim holds the number of heads for SD1 (int) and per level for SD2 (list, 64 channels each).
    const json& ahd = unetCfg.contains("num_attention_heads") && !unetCfg["num_attention_heads"].is_null()
        ? unetCfg["num_attention_heads"]
        : unetCfg.value("attention_head_dim", json(8));
    if (ahd.is_array()) {
        u["num_heads"] = -1;
        u["num_head_channels"] = boc[0] / ahd[0].get<int64_t>();
    } else {
        u["num_heads"] = ahd.get<int64_t>();
        u["num_head_channels"] = -1;
    }
    if (unetCfg.contains("num_class_embeds") && unetCfg["num_class_embeds"].is_number_integer())
        u["num_classes"] = unetCfg["num_class_embeds"];
    return u;
}

// The VAE's ddconfig in the original names from a diffusers vae/config.json.
json vaeDdConfig(const json& vaeCfg)
{
    const auto vboc = vaeCfg.value("block_out_channels", std::vector<int64_t> { 128, 256, 512, 512 });
    std::vector<int64_t> vmult;
    for (auto b : vboc)
        vmult.push_back(b / vboc[0]);
    const int64_t latent = vaeCfg.value("latent_channels", 4);
    return { { "double_z", true }, { "z_channels", latent }, { "resolution", vaeCfg.value("sample_size", 256) },
        { "in_channels", vaeCfg.value("in_channels", 3) }, { "out_ch", vaeCfg.value("out_channels", 3) },
        { "ch", vboc[0] }, { "ch_mult", vmult }, { "num_res_blocks", vaeCfg.value("layers_per_block", 2) },
        { "attn_resolutions", json::array() }, { "dropout", 0.0 } };
}

// sgm's DiffusionEngine params (models::configFromLdmJson reads them) for an SDXL diffusers folder.
json sdxlLdmConfig(json u, const json& unetCfg, const json& vaeCfg, const json& textCfg, const json& text2Cfg,
    const json& s, const json& dd, bool hasText)
{
    if (unetCfg.contains("transformer_layers_per_block"))
        u["transformer_depth"] = unetCfg["transformer_layers_per_block"];
    u["num_classes"] = "sequential";
    u["adm_in_channels"] = unetCfg.value("projection_class_embeddings_input_dim", 2816);
    json embedders = json::array();
    if (hasText)
        embedders.push_back(
            { { "input_key", "txt" }, { "target", "sgm.modules.encoders.modules.FrozenCLIPEmbedder" } });
    embedders.push_back(
        { { "input_key", "txt" }, { "target", "sgm.modules.encoders.modules.FrozenOpenCLIPEmbedder2" } });
    const int64_t w = text2Cfg.value("hidden_size", 1280);
    json ldm = { { "network_config", { { "params", u } } },
        { "conditioner_config", { { "params", { { "emb_models", embedders } } } } },
        { "first_stage_config",
            { { "target", "sgm.models.autoencoder.AutoencoderKL" },
                { "params", { { "embed_dim", vaeCfg.value("latent_channels", 4) }, { "ddconfig", dd } } } } },
        { "scale_factor", vaeCfg.value("scaling_factor", 0.13025) },
        { "open_clip_config",
            { { "embed_dim", text2Cfg.value("projection_dim", w) },
                { "text_cfg",
                    { { "width", w }, { "heads", text2Cfg.value("num_attention_heads", 20) },
                        { "layers", text2Cfg.value("num_hidden_layers", 32) },
                        { "context_length", text2Cfg.value("max_position_embeddings", 77) },
                        { "vocab_size", text2Cfg.value("vocab_size", 49408) },
                        { "mlp_ratio",
                            static_cast<double>(text2Cfg.value("intermediate_size", 4 * w))
                                / static_cast<double>(w) } } } } },
        { "parameterization", s.value("prediction_type", std::string("epsilon")) == "v_prediction" ? "v" : "eps" } };
    if (hasText)
        ldm["clip_config"] = textCfg;
    return ldm;
}

} // namespace

std::string DiffusersFolder::toOriginal(const std::string& component, const std::string& key, const json& cfg)
{
    if (key.size() > kMaxKeyLength) // no module path is this long; std::regex recursion on a huge hostile key could
                                    // overflow the stack
        return {};
    std::smatch m;
    if (component == "text_encoder") {
        if (key.rfind("text_model.", 0) == 0)
            return "cond_stage_model.transformer." + key;
        return {};
    }
    if (component == "unet") {
        const auto lpb = cfg.value("layers_per_block", 2);
        const auto upTypes = cfg.value("up_block_types", std::vector<std::string> {});
        static const std::pair<const char*, const char*> direct[] = { { "time_embedding.linear_1.", "time_embed.0." },
            { "time_embedding.linear_2.", "time_embed.2." }, { "class_embedding.", "label_emb." },
            { "conv_in.", "input_blocks.0.0." }, { "conv_norm_out.", "out.0." }, { "conv_out.", "out.2." },
            { "add_embedding.linear_1.", "label_emb.0.0." }, { "add_embedding.linear_2.", "label_emb.0.2." } };
        for (const auto& [d, o] : direct)
            if (key.rfind(d, 0) == 0)
                return "model.diffusion_model." + std::string(o) + key.substr(std::strlen(d));
        static const std::regex down(R"(^down_blocks\.(\d+)\.(resnets|attentions|downsamplers)\.(\d+)\.(.*)$)");
        static const std::regex mid(R"(^mid_block\.(resnets|attentions)\.(\d+)\.(.*)$)");
        static const std::regex up(R"(^up_blocks\.(\d+)\.(resnets|attentions|upsamplers)\.(\d+)\.(.*)$)");
        if (std::regex_match(key, m, down)) {
            const int level = std::stoi(m[1]), j = std::stoi(m[3]);
            const std::string kind = m[2], rest = m[4];
            const int base = 1 + level * (lpb + 1);
            if (kind == "resnets")
                return "model.diffusion_model.input_blocks." + std::to_string(base + j) + ".0."
                    + resnetToOriginalUNet(rest);
            if (kind == "attentions")
                return "model.diffusion_model.input_blocks." + std::to_string(base + j) + ".1." + rest;
            return "model.diffusion_model.input_blocks." + std::to_string(base + lpb) + ".0.op."
                + replaceAll(rest, "conv.", "");
        }
        if (std::regex_match(key, m, mid)) {
            const std::string kind = m[1], rest = m[3];
            const int j = std::stoi(m[2]);
            if (kind == "attentions")
                return "model.diffusion_model.middle_block.1." + rest;
            return "model.diffusion_model.middle_block." + std::to_string(j == 0 ? 0 : 2) + "."
                + resnetToOriginalUNet(rest);
        }
        if (std::regex_match(key, m, up)) {
            const int level = std::stoi(m[1]), j = std::stoi(m[3]);
            const std::string kind = m[2], rest = m[4];
            const int base = level * (lpb + 1);
            if (kind == "resnets")
                return "model.diffusion_model.output_blocks." + std::to_string(base + j) + ".0."
                    + resnetToOriginalUNet(rest);
            if (kind == "attentions")
                return "model.diffusion_model.output_blocks." + std::to_string(base + j) + ".1." + rest;
            const bool hasAttn
                = level < static_cast<int>(upTypes.size()) && upTypes[level].find("CrossAttn") != std::string::npos;
            return "model.diffusion_model.output_blocks." + std::to_string(base + lpb) + "." + (hasAttn ? "2" : "1")
                + "." + rest;
        }
        return {};
    }
    if (component == "vae") {
        const int levels
            = static_cast<int>(cfg.value("block_out_channels", std::vector<int> { 128, 256, 512, 512 }).size());
        static const std::regex down(R"(^encoder\.down_blocks\.(\d+)\.(resnets|downsamplers)\.(\d+)\.(.*)$)");
        static const std::regex up(R"(^decoder\.up_blocks\.(\d+)\.(resnets|upsamplers)\.(\d+)\.(.*)$)");
        static const std::regex mid(R"(^(encoder|decoder)\.mid_block\.(resnets|attentions)\.(\d+)\.(.*)$)");
        auto resnet = [](std::string rest) {
            return rest.rfind("conv_shortcut.", 0) == 0 ? "nin_shortcut." + rest.substr(14) : rest;
        };
        if (std::regex_match(key, m, down)) {
            const std::string kind = m[2];
            if (kind == "resnets")
                return "first_stage_model.encoder.down." + std::string(m[1]) + ".block." + std::string(m[3]) + "."
                    + resnet(m[4]);
            return "first_stage_model.encoder.down." + std::string(m[1]) + ".downsample." + std::string(m[4]);
        }
        if (std::regex_match(key, m, up)) {
            const int orig = levels - 1 - std::stoi(m[1]);
            const std::string kind = m[2];
            if (kind == "resnets")
                return "first_stage_model.decoder.up." + std::to_string(orig) + ".block." + std::string(m[3]) + "."
                    + resnet(m[4]);
            return "first_stage_model.decoder.up." + std::to_string(orig) + ".upsample." + std::string(m[4]);
        }
        if (std::regex_match(key, m, mid)) {
            const std::string part = m[1], kind = m[2];
            if (kind == "attentions")
                return "first_stage_model." + part + ".mid.attn_1." + vaeAttnToOriginal(m[4]);
            return "first_stage_model." + part + ".mid.block_" + std::string(std::stoi(m[3]) == 0 ? "1" : "2") + "."
                + resnet(m[4]);
        }
        std::string k = key;
        k = replaceAll(k, "conv_norm_out.", "norm_out.");
        return "first_stage_model." + k;
    }
    return {};
}

DiffusersFolder::DiffusersFolder(const fs::path& folder)
    : m_folder(folder)
{
    const std::string where = folder.string();
    if (!fs::exists(folder / "model_index.json") && fs::exists(folder / "config.json")
        && readJson(folder / "config.json").value("_class_name", std::string()) == "ControlNetModel") {
        openControlNet();
        return;
    }
    json index = fs::exists(folder / "model_index.json") ? readJson(folder / "model_index.json") : json::object();
    const std::string cls = index.value("_class_name", std::string("StableDiffusionPipeline"));
    if (!fs::is_directory(folder / "unet") || !fs::is_directory(folder / "vae"))
        fail(ErrorKind::Format, where + ": a diffusers folder needs unet/ and vae/ subfolders");
    const json unetCfg = readJson(folder / "unet" / "config.json");
    const bool sdxl = fs::is_directory(folder / "text_encoder_2")
        || unetCfg.value("addition_embed_type", json()).is_string() || cls.find("XL") != std::string::npos;
    const json vaeCfg = readJson(folder / "vae" / "config.json");
    json textCfg;
    const bool hasText = fs::is_directory(folder / "text_encoder");
    if (hasText)
        textCfg = readJson(folder / "text_encoder" / "config.json");
    if (!sdxl && hasText && textCfg.value("hidden_act", std::string("quick_gelu")) != "quick_gelu")
        fail(ErrorKind::Unsupported,
            where
                + ": SD2-style diffusers text encoders (OpenCLIP converted to CLIPTextModel) are not supported yet; "
                  "use the single-file .safetensors checkpoint");

    const std::vector<std::string> unetFiles { "diffusion_pytorch_model.safetensors",
        "diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.bin" };
    const std::vector<std::string> textFiles { "model.safetensors", "model.fp16.safetensors", "pytorch_model.bin" };
    struct Comp {
        std::string name;
        std::shared_ptr<WeightSource> file;
        const json* cfg;
    };
    std::vector<Comp> comps { { "unet", openComponent(folder / "unet", unetFiles), &unetCfg },
        { "vae", openComponent(folder / "vae", unetFiles), &vaeCfg } };
    if (hasText)
        comps.push_back({ "text_encoder", openComponent(folder / "text_encoder", textFiles), &textCfg });
    std::vector<std::string> unknown;
    json text2Cfg;
    if (sdxl) {
        if (!fs::is_directory(folder / "text_encoder_2"))
            fail(ErrorKind::Format, where + ": an SDXL diffusers folder needs text_encoder_2/ (OpenCLIP bigG)");
        text2Cfg = readJson(folder / "text_encoder_2" / "config.json");
        addOpenClipText(openComponent(folder / "text_encoder_2", textFiles),
            hasText ? "conditioner.embedders.1.model." : "conditioner.embedders.0.model.", unknown);
    }
    for (const auto& c : comps) {
        for (const auto& k : c.file->keys()) {
            std::string orig = toOriginal(c.name, k, *c.cfg);
            if (sdxl && c.name == "text_encoder" && !orig.empty())
                orig = "conditioner.embedders.0.transformer." + k;
            if (orig.empty()) {
                if (k.find("position_ids") == std::string::npos)
                    unknown.push_back(c.name + "/" + k);
                continue;
            }
            Entry e { c.file, k, c.name, c.file->info(k).shape, {}, false };
            // VAE mid-block attention: Linear [C, C] in diffusers, 1x1 conv [C, C, 1, 1] in the original.
            if (c.name == "vae" && orig.find(".mid.attn_1.") != std::string::npos && e.shape.size() == 2)
                e.shape = { e.shape[0], e.shape[1], 1, 1 };
            m_map[orig] = e;
        }
    }
    if (!unknown.empty()) {
        std::string list;
        for (size_t i = 0; i < unknown.size() && i < 8; ++i)
            list += "\n    " + unknown[i];
        fail(ErrorKind::Mismatch,
            where + ": " + std::to_string(unknown.size()) + " diffusers key(s) have no original name:" + list);
    }

    // Configuration in the original names.
    json u = unetParams(unetCfg);
    const int64_t latent = vaeCfg.value("latent_channels", 4);
    const json dd = vaeDdConfig(vaeCfg);
    const fs::path sched = folder / "scheduler" / "scheduler_config.json";
    json s = fs::exists(sched) ? readJson(sched) : json::object();
    const std::string bs = s.value("beta_schedule", std::string("scaled_linear"));
    if (bs != "scaled_linear")
        fail(ErrorKind::Unsupported,
            sched.string() + ": beta_schedule '" + bs + "' is not supported (only scaled_linear, the SD schedule)");
    if (sdxl) {
        m_ldm = sdxlLdmConfig(u, unetCfg, vaeCfg, textCfg, text2Cfg, s, dd, hasText);
        return;
    }
    m_ldm["unet_config"] = { { "target", "ldm.modules.diffusionmodules.openaimodel.UNetModel" }, { "params", u } };
    m_ldm["first_stage_config"] = { { "target", "ldm.models.autoencoder.AutoencoderKL" },
        { "params", { { "embed_dim", latent }, { "ddconfig", dd } } } };
    if (hasText) {
        m_ldm["cond_stage_config"] = { { "target", "ldm.modules.encoders.modules.FrozenCLIPEmbedder" } };
        m_ldm["clip_config"] = textCfg;
    }
    m_ldm["scale_factor"] = vaeCfg.value("scaling_factor", 0.18215);
    m_ldm["conditioning_key"] = u["in_channels"].get<int>() == 9 ? "hybrid" : "crossattn";
    m_ldm["linear_start"] = s.value("beta_start", 0.00085);
    m_ldm["linear_end"] = s.value("beta_end", 0.012);
    m_ldm["timesteps"] = s.value("num_train_timesteps", 1000);
    m_ldm["parameterization"] = s.value("prediction_type", std::string("epsilon")) == "v_prediction" ? "v" : "eps";
    m_ldm["rescale_betas_zero_snr"] = s.value("rescale_betas_zero_snr", false);
}

void DiffusersFolder::addOpenClipText(
    const std::shared_ptr<WeightSource>& file, const std::string& prefix, std::vector<std::string>& unknown)
{
    // Hugging Face CLIPTextModelWithProjection names -> open_clip's (diffusers convert_open_clip_checkpoint, inverted).
    static const std::regex layer(R"(^text_model\.encoder\.layers\.(\d+)\.(.*)$)");
    static const std::pair<const char*, const char*> inLayer[]
        = { { "self_attn.out_proj.", "attn.out_proj." }, { "layer_norm1.", "ln_1." }, { "layer_norm2.", "ln_2." },
              { "mlp.fc1.", "mlp.c_fc." }, { "mlp.fc2.", "mlp.c_proj." } };
    for (const auto& k : file->keys()) {
        Entry e { file, k, "text_encoder_2", file->info(k).shape, {}, false };
        std::string orig;
        std::smatch m;
        if (k == "text_model.embeddings.token_embedding.weight") {
            orig = "token_embedding.weight";
        } else if (k == "text_model.embeddings.position_embedding.weight") {
            orig = "positional_embedding";
        } else if (k.rfind("text_model.final_layer_norm.", 0) == 0) {
            orig = "ln_final." + k.substr(28);
        } else if (k == "text_projection.weight") {
            orig = "text_projection";
            e.transpose = true;
            e.shape = { e.shape.at(1), e.shape.at(0) };
        } else if (k.size() < kMaxKeyLength && std::regex_match(k, m, layer)) {
            const std::string base = "transformer.resblocks." + m[1].str() + ".";
            const std::string rest = m[2];
            for (const auto& [hf, oc] : inLayer)
                if (rest.rfind(hf, 0) == 0)
                    orig = base + oc + rest.substr(std::strlen(hf));
            for (const char* part : { "weight", "bias" }) {
                if (rest != std::string("self_attn.q_proj.") + part)
                    continue;
                // q, k, v stacked into one in_proj tensor; the k and v keys are consumed by the q entry.
                const std::string stem = "text_model.encoder.layers." + m[1].str() + ".self_attn.";
                e.fused = { stem + "q_proj." + part, stem + "k_proj." + part, stem + "v_proj." + part };
                e.shape[0] *= 3;
                orig = base + "attn.in_proj_" + part;
            }
            if (orig.empty() && (rest.rfind("self_attn.k_proj.", 0) == 0 || rest.rfind("self_attn.v_proj.", 0) == 0))
                continue;
        }
        if (orig.empty()) {
            if (k.find("position_ids") == std::string::npos)
                unknown.push_back("text_encoder_2/" + k);
            continue;
        }
        m_map[prefix + orig] = e;
    }
}

void DiffusersFolder::openControlNet()
{
    // A diffusers ControlNetModel (diffusers convert_controlnet_checkpoint, inverted): the UNet encoder's names as in
    // a pipeline's unet/, the hint block, zero convolutions and the middle block's output under their own names.
    const json cfg = readJson(m_folder / "config.json");
    auto file = openComponent(m_folder,
        { "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
            "diffusion_pytorch_model.bin" });
    json unetCfg = cfg;
    std::vector<std::string> unknown;
    static const std::regex blocks(R"(^controlnet_cond_embedding\.blocks\.(\d+)\.(.*)$)");
    static const std::regex down(R"(^controlnet_down_blocks\.(\d+)\.(.*)$)");
    const std::string out = "control_model.";
    for (const auto& k : file->keys()) {
        std::smatch m;
        std::string orig;
        if (k.size() > kMaxKeyLength)
            orig.clear();
        else if (k.rfind("controlnet_cond_embedding.conv_in.", 0) == 0)
            orig = out + "input_hint_block.0." + k.substr(34);
        else if (k.rfind("controlnet_cond_embedding.conv_out.", 0) == 0)
            orig = out + "input_hint_block.14." + k.substr(35);
        else if (std::regex_match(k, m, blocks))
            orig = out + "input_hint_block." + std::to_string(2 * (std::stoi(m[1]) + 1)) + "." + m[2].str();
        else if (std::regex_match(k, m, down))
            orig = out + "zero_convs." + m[1].str() + ".0." + m[2].str();
        else if (k.rfind("controlnet_mid_block.", 0) == 0)
            orig = out + "middle_block_out.0." + k.substr(21);
        else {
            const std::string u = toOriginal("unet", k, unetCfg);
            if (u.rfind("model.diffusion_model.", 0) == 0)
                orig = out + u.substr(22);
        }
        if (orig.empty()) {
            unknown.push_back(k);
            continue;
        }
        m_map[orig] = Entry { file, k, "controlnet", file->info(k).shape, {}, false };
    }
    if (!unknown.empty())
        fail(ErrorKind::Mismatch,
            m_folder.string() + ": " + std::to_string(unknown.size())
                + " diffusers ControlNet key(s) have no original name, first " + unknown.front());
    m_ldm = { { "controlnet_config", cfg } };
}

DiffusersFolder::~DiffusersFolder() = default;

std::vector<std::string> DiffusersFolder::keys() const
{
    std::vector<std::string> k;
    for (const auto& [key, e] : m_map)
        k.push_back(key);
    return k;
}

TensorInfo DiffusersFolder::info(const std::string& key) const
{
    auto it = m_map.find(key);
    if (it == m_map.end())
        fail(ErrorKind::Mismatch, path() + ": no tensor named '" + key + "'");
    return { it->second.file->info(it->second.fused.empty() ? it->second.key : it->second.fused.front()).dtype,
        it->second.shape };
}

at::Tensor DiffusersFolder::load(const std::string& key) const
{
    auto it = m_map.find(key);
    if (it == m_map.end())
        fail(ErrorKind::Mismatch, path() + ": no tensor named '" + key + "'");
    const Entry& e = it->second;
    if (!e.fused.empty()) {
        std::vector<at::Tensor> parts;
        for (const auto& k : e.fused)
            parts.push_back(e.file->load(k));
        return at::cat(parts, 0);
    }
    auto t = e.file->load(e.key);
    if (e.transpose)
        return t.t().contiguous();
    return t.reshape(e.shape);
}

std::string DiffusersFolder::diffusersName(const std::string& originalKey) const
{
    auto it = m_map.find(originalKey);
    return it == m_map.end() ? std::string() : it->second.component + "/" + it->second.key;
}

} // namespace ls::io

#include "models/Lora.h"

#include "io/DiffusersFolder.h"
#include "io/SafeTensors.h"
#include "util/Error.h"
#include "util/Sha256.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>

namespace ls::models {

namespace {

std::string flatten(std::string s)
{
    for (char& c : s)
        if (c == '.')
            c = '_';
    return s;
}

// kohya names put '_' where the module path has '.': the segments that themselves hold '_' are joined back.
std::string restoreDots(const std::string& flat)
{
    static const std::vector<std::string> joined { "conv_norm_out", "time_emb_proj", "final_layer_norm", "down_blocks",
        "up_blocks", "mid_block", "transformer_blocks", "proj_in", "proj_out", "to_q", "to_k", "to_v", "to_out",
        "conv_in", "conv_out", "time_embedding", "linear_1", "linear_2", "conv_shortcut", "class_embedding",
        "text_model", "self_attn", "q_proj", "k_proj", "v_proj", "out_proj", "layer_norm1", "layer_norm2",
        "token_embedding", "position_embedding" };
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t i = 0; i <= flat.size(); ++i)
        if (i == flat.size() || flat[i] == '_') {
            parts.push_back(flat.substr(start, i - start));
            start = i + 1;
        }
    std::string out;
    for (size_t i = 0; i < parts.size();) {
        size_t take = 1;
        for (size_t n = 3; n >= 2 && take == 1; --n) {
            if (i + n > parts.size())
                continue;
            std::string cand = parts[i];
            for (size_t k = 1; k < n; ++k)
                cand += "_" + parts[i + k];
            if (std::find(joined.begin(), joined.end(), cand) != joined.end())
                take = n;
        }
        std::string seg = parts[i];
        for (size_t k = 1; k < take; ++k)
            seg += "_" + parts[i + k];
        out += (out.empty() ? "" : ".") + seg;
        i += take;
    }
    return out;
}

} // namespace

LoraResolver::LoraResolver(LatentModel& model)
{
    model.forEachTensor([&](const std::string& key, at::Tensor& t) { m_tensors[key] = t; });
    static const std::string unetPrefix = "model.diffusion_model.";
    for (const auto& [key, t] : m_tensors)
        if (key.starts_with(unetPrefix) && key.ends_with(".weight"))
            m_flatUnet[flatten(key.substr(unetPrefix.size(), key.size() - unetPrefix.size() - 7))] = key;
    // The diffusers layout of this UNet: up block i is level L-1-i, a CrossAttn block where that level has attention.
    const auto& u = model.config.unet;
    nlohmann::json upTypes = nlohmann::json::array();
    for (int64_t level = static_cast<int64_t>(u.channelMult.size()) - 1; level >= 0; --level) {
        const int64_t ds = int64_t(1) << level;
        const bool attn = std::find(u.attentionResolutions.begin(), u.attentionResolutions.end(), ds)
            != u.attentionResolutions.end();
        upTypes.push_back(attn ? "CrossAttnUpBlock2D" : "UpBlock2D");
    }
    m_unetConfig = { { "layers_per_block", u.numResBlocks.empty() ? 2 : u.numResBlocks.front() },
        { "up_block_types", upTypes } };
    m_openClip = static_cast<bool>(model.openclip);
    m_sdxl = model.config.cond == CondStage::SdxlBase || model.config.cond == CondStage::SdxlRefiner;
    m_textWidth = model.config.openclip.width;
}

at::Tensor LoraResolver::tensor(const std::string& key) const
{
    auto it = m_tensors.find(key);
    return it == m_tensors.end() ? at::Tensor() : it->second;
}

std::optional<LoraTarget> LoraResolver::text(const std::string& hf, int encoder) const
{
    if (m_sdxl) {
        const bool refiner = !m_tensors.count("conditioner.embedders.1.model.token_embedding.weight");
        if (encoder == 2 || refiner)
            return openClipText(hf, refiner ? "conditioner.embedders.0.model." : "conditioner.embedders.1.model.");
        const std::string key = "conditioner.embedders.0.transformer." + hf + ".weight";
        if (m_tensors.count(key))
            return LoraTarget { key };
        return std::nullopt;
    }
    if (encoder != 0)
        return std::nullopt;
    if (!m_openClip) {
        const std::string key = "cond_stage_model.transformer." + hf + ".weight";
        if (m_tensors.count(key))
            return LoraTarget { key };
        return std::nullopt;
    }
    return openClipText(hf, "cond_stage_model.model.");
}

std::optional<LoraTarget> LoraResolver::openClipText(const std::string& hf, const std::string& prefix) const
{
    // OpenCLIP (SD2, SDXL's bigG): the same layers under open_clip's names, q/k/v fused into one in_proj_weight.
    static const std::regex layer(
        R"(^text_model\.encoder\.layers\.(\d+)\.(self_attn\.(q|k|v|out)_proj|mlp\.fc1|mlp\.fc2)$)");
    std::smatch m;
    if (!std::regex_match(hf, m, layer))
        return std::nullopt;
    const std::string base = prefix + "transformer.resblocks." + m[1].str() + ".";
    const std::string what = m[2];
    LoraTarget t;
    if (what == "mlp.fc1")
        t.key = base + "mlp.c_fc.weight";
    else if (what == "mlp.fc2")
        t.key = base + "mlp.c_proj.weight";
    else if (m[3] == "out")
        t.key = base + "attn.out_proj.weight";
    else {
        t.key = base + "attn.in_proj_weight";
        t.rowOffset = (m[3] == "q" ? 0 : m[3] == "k" ? 1 : 2) * m_textWidth;
        t.rows = m_textWidth;
    }
    if (!m_tensors.count(t.key))
        return std::nullopt;
    return t;
}

std::optional<LoraTarget> LoraResolver::resolve(const std::string& name) const
{
    if (name.size() > io::DiffusersFolder::kMaxKeyLength)
        return std::nullopt;
    // PEFT saves a wrapped model's names under base_model.model.
    const std::string module = name.starts_with("base_model.model.") ? name.substr(17) : name;
    auto unet = [&](const std::string& dotted) -> std::optional<LoraTarget> {
        const std::string key = io::DiffusersFolder::toOriginal("unet", dotted + ".weight", m_unetConfig);
        if (!key.empty() && m_tensors.count(key))
            return LoraTarget { key };
        return std::nullopt;
    };
    if (module.starts_with("lora_unet_")) {
        const std::string rest = module.substr(10);
        if (auto it = m_flatUnet.find(rest); it != m_flatUnet.end()) // original module names
            return LoraTarget { it->second };
        return unet(restoreDots(rest));
    }
    if (module.starts_with("lora_te_"))
        return text(restoreDots(module.substr(8)));
    if (module.starts_with("lora_te1_"))
        return text(restoreDots(module.substr(9)), 1);
    if (module.starts_with("lora_te2_"))
        return text(restoreDots(module.substr(9)), 2);
    if (module.starts_with("unet."))
        return unet(module.substr(5));
    if (module.starts_with("text_encoder."))
        return text(module.substr(13));
    if (module.starts_with("text_encoder_2."))
        return text(module.substr(15), 2);
    if (module.starts_with("down_blocks.") || module.starts_with("mid_block.") || module.starts_with("up_blocks."))
        return unet(module); // diffusers attention processors, saved without a prefix
    return std::nullopt;
}

at::Tensor LoraPatch::delta(const std::vector<int64_t>& shape) const
{
    auto d = at::mm(up.flatten(1), down.flatten(1)).mul_(scale);
    return d.reshape(shape);
}

std::string loraShortHash(const std::filesystem::path& file, const io::WeightSource& source)
{
    // AUTOMATIC1111 (extensions-builtin/Lora/network.py): a .safetensors file's `sshs_model_hash` metadata, else the
    // kohya/additional-networks hash (SHA-256 of the bytes after the header); other files: SHA-256 of the whole file.
    std::string ext = file.extension().string();
    std::transform(
        ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto* st = dynamic_cast<const io::SafeTensorsFile*>(&source);
    if (ext == ".safetensors" && st) {
        if (const auto it = st->metadata().find("sshs_model_hash"); it != st->metadata().end() && !it->second.empty())
            return it->second.substr(0, 12);
        return sha256File(file, st->dataOffset()).substr(0, 12);
    }
    return sha256File(file).substr(0, 12);
}

namespace {

// A LoRA module's keys: its up and down weights and its alpha (any may be missing).
struct LoraKeys {
    std::string up, down, alpha;
};

// The file's keys by module (every naming of kohya, diffusers, PEFT), refusing other adapter kinds by name; keys that
// are no LoRA weight go to `unknown`.
std::map<std::string, LoraKeys> pairLoraKeys(
    const io::WeightSource& src, const std::string& where, std::vector<std::string>& unknown)
{
    std::map<std::string, LoraKeys> pairs; // module -> keys
    static const std::vector<std::pair<std::string, std::string>> unsupported { { "hada_w1_a", "LoHa (LyCORIS)" },
        { "hada_w2_a", "LoHa (LyCORIS)" }, { "lokr_w1", "LoKr (LyCORIS)" }, { "lokr_w2", "LoKr (LyCORIS)" },
        { ".lora_mid.weight", "LoCon with Tucker decomposition (lora_mid)" }, { ".dora_scale", "DoRA" },
        { "lora_magnitude_vector", "DoRA" }, { ".oft_", "OFT" } };
    static const std::vector<std::pair<std::string, std::string>> unsupportedEnd {
        { ".diff", "full weight difference" }, { ".diff_b", "bias difference" }
    };
    for (const auto& key : src.keys()) {
        for (const auto& [marker, what] : unsupportedEnd)
            if (key.ends_with(marker))
                fail(ErrorKind::Unsupported,
                    where + ": key '" + key + "' is a " + what
                        + "; only plain LoRA files (up/down pairs) are supported");
        for (const auto& [marker, what] : unsupported)
            if (key.find(marker) != std::string::npos)
                fail(ErrorKind::Unsupported,
                    where + ": key '" + key + "' is a " + what
                        + " weight; only plain LoRA files "
                          "(up/down pairs) are supported");
        static const std::vector<std::tuple<std::string, char>> suffixes { { ".lora_up.weight", 'u' },
            { ".lora_down.weight", 'd' }, { ".lora_B.weight", 'u' }, { ".lora_A.weight", 'd' },
            { ".lora_B.default.weight", 'u' }, { ".lora_A.default.weight", 'd' }, { ".lora.up.weight", 'u' },
            { ".lora.down.weight", 'd' }, { ".lora_linear_layer.up.weight", 'u' },
            { ".lora_linear_layer.down.weight", 'd' }, { ".alpha", 'a' } };
        bool taken = false;
        for (const auto& [suffix, role] : suffixes) {
            if (!key.ends_with(suffix))
                continue;
            std::string module = key.substr(0, key.size() - suffix.size());
            auto& p = pairs[module];
            (role == 'u' ? p.up : role == 'd' ? p.down : p.alpha) = key;
            taken = true;
            break;
        }
        if (taken)
            continue;
        if (key.size() > io::DiffusersFolder::kMaxKeyLength) { // not a module name; kept away from std::regex
            unknown.push_back(key.substr(0, 60) + "...");
            continue;
        }
        // diffusers attention processors: <path>.processor.to_q_lora.up.weight in the UNet,
        // <layer>.self_attn.to_q_lora.up.weight in the text encoder (where the layer is q_proj)
        static const std::regex proc(R"(^(.*)\.processor\.(to_q|to_k|to_v|to_out)_lora\.(up|down)\.weight$)");
        static const std::regex textProc(R"(^(text_encoder\..*\.self_attn)\.to_(q|k|v|out)_lora\.(up|down)\.weight$)");
        std::smatch m;
        if (std::regex_match(key, m, proc)) {
            const std::string module = m[1].str() + "." + (m[2] == "to_out" ? std::string("to_out.0") : m[2].str());
            (m[3] == "up" ? pairs[module].up : pairs[module].down) = key;
            continue;
        }
        if (std::regex_match(key, m, textProc)) {
            const std::string module = m[1].str() + "." + m[2].str() + "_proj";
            (m[3] == "up" ? pairs[module].up : pairs[module].down) = key;
            continue;
        }
        unknown.push_back(key);
    }
    return pairs;
}

// One module's patch: its weights as float, checked against the layer it targets, and its alpha / rank scale.
LoraPatch loraPatch(const io::WeightSource& src, const LoraResolver& resolver, const std::string& where,
    const std::string& module, const LoraKeys& p, const LoraTarget& target)
{
    LoraPatch patch;
    patch.target = target;
    patch.module = module;
    patch.textEncoder = !target.key.starts_with("model.diffusion_model.");
    patch.up = src.load(p.up).to(at::kFloat).clone();
    patch.down = src.load(p.down).to(at::kFloat).clone();
    const at::Tensor w = resolver.tensor(target.key);
    std::vector<int64_t> shape = w.sizes().vec();
    if (target.rows > 0)
        shape[0] = target.rows;
    int64_t numel = 1;
    for (auto s : shape)
        numel *= s;
    const auto& u = patch.up;
    const auto& dn = patch.down;
    const bool ranks = u.dim() >= 2 && dn.dim() >= 2 && u.size(0) > 0 && dn.size(0) > 0 && u.size(1) == dn.size(0)
        && u.numel() / u.size(0) == u.size(1);
    if (!ranks || u.size(0) * (dn.numel() / dn.size(0)) != numel || u.size(0) != shape[0])
        fail(ErrorKind::Mismatch,
            where + ": module '" + module + "' (up " + io::shapeToString(u.sizes().vec()) + ", down "
                + io::shapeToString(dn.sizes().vec()) + ") does not fit " + target.key + " " + io::shapeToString(shape)
                + ": the LoRA was made for another model");
    const int64_t rank = dn.size(0);
    patch.scale = 1.0;
    if (!p.alpha.empty()) {
        const double alpha = src.load(p.alpha).to(at::kDouble).flatten()[0].item<double>();
        if (!std::isfinite(alpha))
            fail(ErrorKind::Format, where + ": " + p.alpha + " is not a finite number");
        patch.scale = alpha / static_cast<double>(rank);
    }
    if (!at::isfinite(patch.up).all().item<bool>() || !at::isfinite(patch.down).all().item<bool>())
        fail(ErrorKind::Format, where + ": module '" + module + "' holds NaN or infinite values");
    return patch;
}

} // namespace

Lora readLora(const std::filesystem::path& file, LatentModel& model)
{
    const std::string where = file.string();
    if (!std::filesystem::is_regular_file(file))
        fail(ErrorKind::Io, where + ": no such LoRA file");
    auto src = io::openWeights(file);
    std::vector<std::string> unknown;
    const std::map<std::string, LoraKeys> pairs = pairLoraKeys(*src, where, unknown);
    if (pairs.empty())
        fail(ErrorKind::Format,
            where + ": no LoRA weights (no lora_up/lora_down, lora_A/lora_B or lora.up/lora.down keys)"
                + (unknown.empty() ? std::string() : "; first key: '" + unknown.front() + "'"));

    const LoraResolver resolver(model);
    Lora lora;
    lora.path = where;
    lora.name = file.stem().string();
    lora.hash = loraShortHash(file, *src);
    std::vector<std::string> unmatched;
    for (const auto& [module, p] : pairs) {
        if (p.up.empty() || p.down.empty()) {
            if (p.up.empty() && p.down.empty())
                continue; // an alpha alone
            fail(ErrorKind::Format,
                where + ": module '" + module + "' has a " + (p.up.empty() ? "down" : "up") + " weight but no "
                    + (p.up.empty() ? "up" : "down") + " weight");
        }
        const auto target = resolver.resolve(module);
        if (!target) {
            unmatched.push_back(module);
            continue;
        }
        LoraPatch patch = loraPatch(*src, resolver, where, module, p, *target);
        (patch.textEncoder ? lora.textModules : lora.unetModules)++;
        lora.patches.push_back(std::move(patch));
    }
    if (lora.patches.empty())
        fail(ErrorKind::Mismatch,
            where + ": none of its " + std::to_string(pairs.size()) + " modules is a layer of this "
                + familyName(model.config.family) + " model (first: '"
                + (unmatched.empty() ? std::string() : unmatched.front())
                + "'): the LoRA was made for another model family");
    if (!unmatched.empty())
        lora.warnings.push_back(where + ": " + std::to_string(unmatched.size()) + " of " + std::to_string(pairs.size())
            + " modules match no layer of this model and are left out (first: '" + unmatched.front() + "')");
    if (!unknown.empty())
        lora.warnings.push_back(where + ": " + std::to_string(unknown.size())
            + " keys that are not LoRA weights are ignored (first: '" + unknown.front() + "')");
    return lora;
}

void LoraSet::restore(LatentModel& model)
{
    if (m_originals.empty()) {
        m_current.clear();
        return;
    }
    torch::NoGradGuard ng;
    const LoraResolver resolver(model);
    for (auto& [key, orig] : m_originals)
        if (auto t = resolver.tensor(key); t.defined())
            t.copy_(orig);
    m_originals.clear();
    m_current.clear();
}

void LoraSet::apply(LatentModel& model, const std::vector<Use>& uses)
{
    if (uses == m_current) // the same files (cached objects) with the same weights: nothing to do
        return;
    restore(model);
    if (uses.empty())
        return;
    torch::NoGradGuard ng;
    const LoraResolver resolver(model);
    try {
        for (const auto& use : uses) {
            for (const auto& p : use.lora->patches) {
                const double w = p.textEncoder ? use.textWeight : use.unetWeight;
                if (w == 0.0)
                    continue;
                at::Tensor t = resolver.tensor(p.target.key);
                if (!t.defined())
                    fail(ErrorKind::Mismatch, use.lora->path + ": " + p.target.key + " is not in this model");
                if (!m_originals.count(p.target.key))
                    m_originals[p.target.key] = t.clone();
                at::Tensor rows = p.target.rows > 0 ? t.narrow(0, p.target.rowOffset, p.target.rows) : t;
                const auto d = p.delta(rows.sizes().vec()).mul_(w);
                // In fp32 whatever the stored dtype, rounded once into it.
                rows.copy_(rows.to(at::kFloat).add_(d.to(rows.device())));
            }
        }
    } catch (...) {
        restore(model);
        throw;
    }
    m_current = uses;
}

} // namespace ls::models

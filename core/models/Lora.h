#pragma once
// LoRA files (low-rank weight deltas, Hu et al. 2021) on a loaded model. Formats read:
// - kohya / AUTOMATIC1111: "lora_unet_<module>" and "lora_te_<module>" with .lora_down.weight, .lora_up.weight and
//   .alpha, where <module> is the diffusers module path with '_' for '.' (down_blocks_0_attentions_0_proj_in) or the
//   original one (input_blocks_1_1_proj_in); LoCon convolution pairs included;
// - diffusers / PEFT: "unet.<path>.lora_A.weight" / ".lora_B.weight", "<path>.lora.down.weight" / ".lora.up.weight",
//   ".lora_linear_layer.down.weight", attention processors "<path>.processor.to_q_lora.down.weight", the same under
//   "text_encoder." (also "self_attn.to_q_lora"), and PEFT's "base_model.model." prefix.
// Each pair changes the weight it names by multiplier * alpha / rank * up @ down (alpha = rank when the file has
// none). Text encoder deltas in Hugging Face CLIP names also reach OpenCLIP (SD2, SDXL's bigG): q/k/v land on their
// rows of the fused in_proj_weight. SDXL: "lora_te1_" / "text_encoder." is CLIP ViT-L, "lora_te2_" /
// "text_encoder_2." bigG; UNet names are the original (sgm) or the diffusers ones. LyCORIS variants (LoHa, LoKr, Tucker
// mid weights), DoRA and full weight diffs are refused by name.
#include "io/WeightSource.h"
#include "models/LatentModel.h"

#include <filesystem>
#include <map>
#include <optional>

namespace ls::models {

// Where one LoRA module lands: an original checkpoint key, and for a fused q/k/v weight the rows it covers.
struct LoraTarget {
    std::string key;
    int64_t rowOffset = 0;
    int64_t rows = 0; // 0: the whole tensor
    bool operator==(const LoraTarget&) const = default;
};

// Maps LoRA module names onto one model's tensors.
class LoraResolver {
public:
    explicit LoraResolver(LatentModel& model);
    // module: a kohya name ("lora_unet_down_blocks_0_attentions_0_proj_in") or a diffusers path ("unet.down_blocks.0.
    // attentions.0.proj_in", "text_encoder.text_model.encoder.layers.0.self_attn.q_proj"), without the weight suffix.
    // Empty when it names no tensor of this model.
    std::optional<LoraTarget> resolve(const std::string& module) const;
    // The model's tensor under an original key (a handle sharing its storage), undefined when there is none.
    at::Tensor tensor(const std::string& key) const;

private:
    // encoder: 0 = the model's text encoder (lora_te_, text_encoder.), 1 / 2 = SDXL's first (CLIP ViT-L) / second
    // (OpenCLIP bigG); 1 and 2 name nothing on the other families.
    std::optional<LoraTarget> text(const std::string& hfPath, int encoder = 0) const;
    std::optional<LoraTarget> openClipText(const std::string& hfPath, const std::string& prefix) const;
    bool m_openClip = false;
    bool m_sdxl = false;
    int64_t m_textWidth = 0;
    std::map<std::string, at::Tensor> m_tensors;
    std::map<std::string, std::string> m_flatUnet; // "input_blocks_1_1_proj_in" -> its .weight key
    nlohmann::json m_unetConfig; // diffusers-style layers_per_block and up_block_types
};

struct LoraPatch {
    LoraTarget target;
    std::string module; // the name in the file, for messages
    bool textEncoder = false;
    at::Tensor up, down; // fp32 CPU, [out, r(, 1, 1)] and [r, in(, kh, kw)]
    double scale = 1.0; // alpha / rank
    // scale * up @ down, shaped like the target (or its rows).
    at::Tensor delta(const std::vector<int64_t>& shape) const;
};

struct Lora {
    std::string path;
    std::string name; // the file's stem
    std::string hash; // AUTOMATIC1111's short hash for "Lora hashes" (loraShortHash)
    std::vector<LoraPatch> patches;
    int unetModules = 0, textModules = 0;
    std::vector<std::string> warnings; // modules this model does not have (reported, not applied)
};

// Reads a LoRA file for `model`. Throws, naming the file and the key, for variants it does not apply, pairs whose
// shapes do not fit the weight they name (a LoRA made for another model), and a file none of whose modules this
// model has.
Lora readLora(const std::filesystem::path& file, LatentModel& model);

// AUTOMATIC1111's short hash of a LoRA file (12 hex digits): a .safetensors file's `sshs_model_hash` metadata, else the
// kohya "addnet" hash (SHA-256 of the tensor bytes after the header); other files: SHA-256 of the whole file.
std::string loraShortHash(const std::filesystem::path& file, const io::WeightSource& source);

// The LoRAs applied to one model, exactly undoable: the first change to a tensor keeps a copy of it, and restore()
// copies it back in place (tensors keep their storage, so captured CUDA graphs stay valid).
class LoraSet {
public:
    struct Use {
        std::shared_ptr<const Lora> lora;
        double textWeight = 1.0, unetWeight = 1.0;
        bool operator==(const Use&) const = default;
    };
    // Leaves the model's weights equal to the original ones plus exactly these LoRAs.
    void apply(LatentModel& model, const std::vector<Use>& uses);
    void restore(LatentModel& model);
    size_t size() const { return m_current.size(); }

private:
    std::map<std::string, at::Tensor> m_originals;
    std::vector<Use> m_current;
};

} // namespace ls::models

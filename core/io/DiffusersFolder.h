#pragma once
// A Hugging Face diffusers StableDiffusionPipeline folder seen through the original single-file key space
// (model.diffusion_model.*, first_stage_model.*, cond_stage_model.transformer.text_model.*). The renaming lives in
// one table of rules in DiffusersFolder.cpp (ref: diffusers single_file_utils.py convert_ldm_*_checkpoint, inverted).
// SDXL pipelines (StableDiffusionXLPipeline, the refiner's StableDiffusionXLImg2ImgPipeline) map to sgm's layout:
// text_encoder -> conditioner.embedders.0.transformer.*, text_encoder_2 (CLIPTextModelWithProjection) -> open_clip
// names under conditioner.embedders.1.model.* (the refiner: .0.), q/k/v fused into in_proj, text_projection
// transposed; add_embedding -> label_emb. A ControlNetModel folder (config.json and the weights, no model_index.json)
// maps to the original ControlNet keys under control_model.
#include "io/WeightSource.h"

#include <nlohmann/json.hpp>

#include <map>

namespace ls::io {

class DiffusersFolder : public WeightSource {
public:
    explicit DiffusersFolder(const std::filesystem::path& folder);
    ~DiffusersFolder() override;

    std::string path() const override { return m_folder.string(); }
    std::vector<std::string> keys() const override;
    bool contains(const std::string& key) const override { return m_map.count(key) != 0; }
    TensorInfo info(const std::string& key) const override;
    at::Tensor load(const std::string& key) const override;

    // The pipeline as original LatentDiffusion params (unet_config, first_stage_config, cond_stage_config,
    // clip_config, linear_start/end, scale_factor, parameterization), for models::configFromLdmJson.
    const nlohmann::json& ldmConfig() const { return m_ldm; }
    // original key -> "component/diffusers key"
    std::string diffusersName(const std::string& originalKey) const;

    // Keys longer than this name nothing (toOriginal returns "" without looking at them).
    static constexpr size_t kMaxKeyLength = 1024;
    // The rule table, exposed for tests: maps one diffusers key of a component to the original key.
    static std::string toOriginal(const std::string& component, const std::string& key, const nlohmann::json& config);

private:
    struct Entry {
        std::shared_ptr<WeightSource> file;
        std::string key;
        std::string component;
        std::vector<int64_t> shape; // original shape (may differ from the file by a reshape)
        std::vector<std::string> fused; // several file tensors concatenated along dim 0 (q;k;v), in place of key
        bool transpose = false; // a [P, W] Linear weight stored as open_clip's [W, P] projection
    };
    void openControlNet(); // a ControlNetModel folder: keys under control_model.
    void addOpenClipText(
        const std::shared_ptr<WeightSource>& file, const std::string& prefix, std::vector<std::string>& unknown);
    std::filesystem::path m_folder;
    std::map<std::string, Entry> m_map;
    nlohmann::json m_ldm;
};

} // namespace ls::io

#pragma once
// A Hugging Face diffusers StableDiffusionPipeline folder seen through the original single-file key space
// (model.diffusion_model.*, first_stage_model.*, cond_stage_model.transformer.text_model.*). The renaming lives in
// one table of rules in DiffusersFolder.cpp (ref: diffusers single_file_utils.py convert_ldm_*_checkpoint, inverted).
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
    };
    std::filesystem::path m_folder;
    std::map<std::string, Entry> m_map;
    nlohmann::json m_ldm;
};

} // namespace ls::io

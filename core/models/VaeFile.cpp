#include "models/VaeFile.h"

#include "io/DiffusersFolder.h"
#include "util/Error.h"

#include <map>

namespace ls::models {

namespace fs = std::filesystem;

namespace {

// The file's keys under their first_stage_model.* names.
class VaeView : public io::WeightSource {
public:
    VaeView(std::shared_ptr<io::WeightSource> file, int levels)
        : m_file(std::move(file))
    {
        const auto keys = m_file->keys();
        bool diffusers = false;
        for (const auto& k : keys)
            diffusers
                = diffusers || k.find("down_blocks.") != std::string::npos || k.find("up_blocks.") != std::string::npos;
        const nlohmann::json cfg = { { "block_out_channels", std::vector<int>(static_cast<size_t>(levels), 0) } };
        for (const auto& k : keys) {
            if (k.starts_with("loss.") || k.starts_with("model_ema.") || k.starts_with("first_stage_model.loss."))
                continue;
            std::string orig;
            if (k.starts_with("first_stage_model."))
                orig = k;
            else if (diffusers)
                orig = io::DiffusersFolder::toOriginal("vae", k, cfg);
            else
                orig = "first_stage_model." + k;
            if (orig.empty())
                orig = "first_stage_model." + k; // reported as unexpected by the strict load
            Entry e { k, m_file->info(k).shape };
            // diffusers' mid-block attention is Linear [C, C] where the original has a 1x1 convolution
            if (diffusers && orig.find(".mid.attn_1.") != std::string::npos && e.shape.size() == 2)
                e.shape = { e.shape[0], e.shape[1], 1, 1 };
            m_map[orig] = e;
        }
    }
    std::string path() const override { return m_file->path(); }
    std::vector<std::string> keys() const override
    {
        std::vector<std::string> k;
        for (const auto& [name, e] : m_map)
            k.push_back(name);
        return k;
    }
    bool contains(const std::string& key) const override { return m_map.count(key) != 0; }
    io::TensorInfo info(const std::string& key) const override
    {
        const auto& e = m_map.at(key);
        auto i = m_file->info(e.key);
        i.shape = e.shape;
        return i;
    }
    at::Tensor load(const std::string& key) const override
    {
        const auto& e = m_map.at(key);
        return m_file->load(e.key).reshape(e.shape);
    }
    void release(const std::string& key) const override { m_file->release(m_map.at(key).key); }

private:
    struct Entry {
        std::string key;
        std::vector<int64_t> shape;
    };
    std::shared_ptr<io::WeightSource> m_file;
    std::map<std::string, Entry> m_map;
};

} // namespace

void loadVae(LatentModel& model, const fs::path& file)
{
    const std::string where = file.string();
    std::error_code ec;
    fs::path p = file;
    if (fs::is_directory(p, ec)) {
        for (const char* n : { "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                 "diffusion_pytorch_model.bin" })
            if (fs::is_regular_file(file / n, ec)) {
                p = file / n;
                break;
            }
        if (p == file)
            fail(ErrorKind::Io,
                where + ": a folder without diffusion_pytorch_model.safetensors: not a diffusers VAE folder");
    } else if (!fs::is_regular_file(p, ec)) {
        fail(ErrorKind::Io, where + ": no such VAE file");
    }
    if (model.config.firstStage.vq)
        fail(ErrorKind::Unsupported,
            where + ": this model's first stage is a VQ autoencoder; a KL VAE file cannot replace it");
    const VaeView view(io::openWeights(p), static_cast<int>(model.config.firstStage.chMult.size()));
    if (!view.contains("first_stage_model.decoder.conv_out.weight"))
        fail(ErrorKind::Format,
            where + ": not a VAE file (no decoder.conv_out.weight, in the original or the diffusers layout)");
    Autoencoder fresh(model.config.firstStage, model.options);
    LoadReport report;
    loadModule(*fresh, view, "first_stage_model.", report);
    for (const auto& k : view.keys())
        if (!k.starts_with("first_stage_model."))
            report.unexpected.push_back(k);
    if (!report.ok())
        fail(ErrorKind::Mismatch,
            report.describe(where) + "\n  (a VAE for this model's " + familyName(model.config.family)
                + " autoencoder is needed: " + std::to_string(model.config.firstStage.embedDim) + " latent channels, "
                + std::to_string(model.config.firstStage.chMult.size()) + " levels)");
    for (const auto& k : report.nonFinite)
        model.warnings.push_back(where + ": tensor '" + k + "' holds NaN or Inf values");
    fresh->eval();
    model.firstStage = fresh;
}

} // namespace ls::models

#include "models/Manifest.h"

#include "models/KnownConfigs.h"
#include "models/LatentModel.h"

namespace ls::models {

using nlohmann::json;

nlohmann::json manifestJson(const std::string& name)
{
    auto cfg = knownConfig(name);
    auto m = LatentModel::build(cfg, at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
    static const char* const prefixes[]
        = { "model.diffusion_model.", "first_stage_model.", "cond_stage_model.transformer.text_model.",
              "cond_stage_model.model.", "cond_stage_model.", "conditioner.embedders.0.", "conditioner.embedders.1." };
    json keys = json::array();
    std::map<std::string, int64_t> counts;
    int64_t total = 0;
    m->forEachTensor([&](const std::string& k, at::Tensor& t) {
        json e = { k, t.sizes().vec() };
        if (t.scalar_type() == at::kLong) {
            e.push_back("int64");
        } else {
            for (const char* p : prefixes) {
                if (k.rfind(p, 0) == 0) {
                    counts[p] += t.numel();
                    break;
                }
            }
            total += t.numel();
        }
        keys.push_back(e);
    });
    if (isSdxl(cfg.family)) {
        keys.push_back({ "denoiser.sigmas", { cfg.timesteps } }); // sgm's DiscreteDenoiser buffer, not a parameter
        counts["denoiser."] = 0;
    }
    json out;
    out["model"] = name;
    out["param_counts"] = counts;
    out["total_params"] = total;
    out["n_keys"] = keys.size();
    out["keys"] = keys;
    return out;
}

} // namespace ls::models

#include "models/Manifest.h"

#include "models/KnownConfigs.h"
#include "models/LatentModel.h"
#include "models/controlnet/ControlNet.h"

namespace ls::models {

using nlohmann::json;

nlohmann::json manifestJson(const std::string& name)
{
    // ControlNets for SD 1.5: v1.1 files hold the control model alone, v1.0's whole ControlLDM checkpoints add the
    // base model's keys.
    const bool control = name == "control_v11p_sd15_canny" || name == "control_sd15_canny";
    const bool controlOnly = name == "control_v11p_sd15_canny";
    auto cfg = knownConfig(control ? "sd1_v1_inference" : name);
    const auto meta = at::TensorOptions().dtype(at::kFloat).device(at::kMeta);
    auto m = LatentModel::build(cfg, meta);
    static const char* const prefixes[] = { "model.diffusion_model.", "first_stage_model.",
        "cond_stage_model.transformer.text_model.", "cond_stage_model.model.", "cond_stage_model.",
        "conditioner.embedders.0.", "conditioner.embedders.1.", "control_model." };
    json keys = json::array();
    std::map<std::string, int64_t> counts;
    int64_t total = 0;
    std::function<void(const std::string&, at::Tensor&)> visit = [&](const std::string& k, at::Tensor& t) {
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
    };
    if (control) {
        ControlNet net(cfg.unet, 3, meta);
        for (auto& item : net->named_parameters(true))
            visit("control_model." + item.key(), item.value());
    }
    if (!controlOnly)
        m->forEachTensor(visit);
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

std::vector<std::string> manifestNames()
{
    auto names = knownConfigNames();
    names.push_back("control_v11p_sd15_canny");
    names.push_back("control_sd15_canny");
    return names;
}

} // namespace ls::models

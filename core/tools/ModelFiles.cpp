// latent-cli info (a model file), manifest and random-checkpoint.
#include "tools/DevTools.h"

#include "io/DiffusersFolder.h"
#include "io/SafeTensors.h"
#include "models/KnownConfigs.h"
#include "models/LatentModel.h"
#include "models/Manifest.h"
#include "models/RandomWeights.h"
#include "models/controlnet/ControlNetFile.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

namespace ls::tools {

using nlohmann::json;

int printModelInfo(const std::string& path, const std::string& prediction)
{
    auto w = io::openWeights(path);
    if (!w->contains("model.diffusion_model.input_blocks.0.0.weight")
        && (w->contains("control_model.input_hint_block.0.weight") || w->contains("input_hint_block.0.weight"))) {
        // A ControlNet: what it holds and the text width that says which family it is for.
        const auto info = models::inspectControlNet(*w);
        const std::string k = info.prefix + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight";
        json c = { { "layout", info.prefix.empty() ? "bare keys" : info.prefix + "*" },
            { "difference", info.difference }, { "hint_channels", info.hintChannels },
            { "model_channels", w->info(info.prefix + "input_blocks.0.0.weight").shape.at(0) } };
        if (w->contains(k) && w->info(k).shape.size() == 2) {
            const int64_t width = w->info(k).shape[1];
            c["context_dim"] = width;
            c["for"] = width == 768 ? "SD 1.x" : width == 1024 ? "SD 2.x" : width == 2048 ? "SDXL" : "?";
        }
        std::cout << json { { "file", path }, { "tensors", w->keys().size() }, { "controlnet", c } }.dump(2)
                  << std::endl;
        return 0;
    }
    models::ModelConfig cfg;
    if (auto* d = dynamic_cast<io::DiffusersFolder*>(w.get()))
        cfg = models::configFromLdmJson(d->ldmConfig(), d);
    else if (auto beside = models::findConfigBeside(path))
        cfg = models::configFromLdmJson(*beside, w.get());
    else
        cfg = models::detectConfig(*w, prediction);
    json out;
    out["file"] = path;
    out["tensors"] = w->keys().size();
    out["config"] = cfg.toJson();
    std::cout << out.dump(2) << std::endl;
    return 0;
}

int printManifest(const std::string& name)
{
    std::cout << models::manifestJson(name).dump() << std::endl;
    return 0;
}

int writeRandomCheckpoint(const std::string& name, const std::string& out, const std::string& dtype, uint64_t seed)
{
    const at::ScalarType st = dtype == "fp16" ? at::kHalf : dtype == "bf16" ? at::kBFloat16 : at::kFloat;
    models::writeRandomCheckpoint(name, out, st, seed);
    std::fprintf(stderr, "wrote %s (%s, random weights)\n", out.c_str(), dtype.c_str());
    return 0;
}

std::vector<std::string> knownModelConfigs() { return models::knownConfigNames(); }
std::vector<std::string> manifestNames() { return models::manifestNames(); }

} // namespace ls::tools

#pragma once
// The bundled model's evaluator: generates from held-out captions, layouts, masks and images and scores them with the
// exact detector of the synthetic world.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>

namespace ls::train {

struct EvalOptions {
    std::string task;               // txt2img | layout | inpaint | upscale
    int n = 200;
    // txt2img only: "heldout" (default) or "train", which scores the first n training scenes (one to three objects
    // each) per object: how well the model fits what it was trained on, against how well it generalises.
    std::string split = "heldout";
    uint64_t seed = 0;
    std::filesystem::path model;    // empty: the bundled model for the task
    int steps = 20;
    std::string sampler = "DPM++ 2M";
    double cfg = 5.0;
    bool noCaptionLayout = false;   // requests with caption_layout off (GenerationRequest::captionLayout)
    double strength = 0.6;          // upscale: how much of the bicubic start is re-noised (1 = all)
    std::filesystem::path dumpDir;  // optional: write the generated images and inputs
    std::function<void(int done, int total)> onProgress;
};

// {"task", "n", "seed", "model", "metrics": {...}}
nlohmann::json runEvaluation(const EvalOptions& options);

} // namespace ls::train

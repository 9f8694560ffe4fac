#pragma once
// Training of the bundled default model family, one stage at a time, each seeded and resumable:
//   autoencoder  KL-regularised, f4, 4 latent channels, trained once and shared by the other stages;
//   diffusion    text-and-layout UNet with cross-attention on one token sequence (caption + box tokens), condition
//                dropout for classifier-free guidance (serves txt2img, layout, img2img and inpainting);
//   sr           4x super-resolution UNet conditioned by concatenating the low-resolution image (as LDM-SR).
// `bundle` writes the trained weights as single-file checkpoints with a JSON config beside them, loadable like any
// user checkpoint.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace ls::train {

struct TrainOptions {
    std::string stage;            // autoencoder | diffusion | sr | bundle
    std::filesystem::path out;    // work folder: <out>/<stage>/ holds checkpoints and progress
    int steps = 0;                // 0 = the stage's default
    int batch = 0;                // 0 = the stage's default
    double lr = 0;                // 0 = the stage's default
    std::string device = "cpu";
    bool resume = false;
    uint64_t seed = 1;
    int saveEvery = 250;
    int dataset = 0;              // diffusion/sr: training scenes encoded once and cached (0 = default 32768)
    std::filesystem::path bundleTo; // bundle: resources/models
    std::function<void(const std::string&)> log; // progress lines (stderr by default)
};

int runTraining(const TrainOptions& options);

// The configurations of the bundled family, in the original LatentDiffusion params form (with "family").
nlohmann::json bundledDiffusionConfig();
nlohmann::json bundledSrConfig();

} // namespace ls::train

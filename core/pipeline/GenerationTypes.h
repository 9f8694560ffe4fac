#pragma once
// Result and progress types of a generation, free of torch so front ends (ui/) can include them.
#include "util/Image.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ls::pipeline {

struct StepInfo {
    int step = 0; // 1-based step just finished
    int total = 0;
    double elapsedSeconds = 0;
    int tile = 0, tiles = 1;
    const Image* preview = nullptr; // batch image 0; null when no preview this step
    bool fullDecode = false; // preview is a real decode, not the projection
};
using StepCallback = std::function<void(const StepInfo&)>;

// One LoRA file a job applied: how many of its modules reached the UNet and the text encoder.
struct AppliedLora {
    std::string name, path, hash;
    double textWeight = 1, unetWeight = 1;
    int unetModules = 0, textModules = 0;
};

struct GenerationResult {
    std::vector<Image> images;
    std::vector<int64_t> seeds;
    std::vector<std::map<std::string, std::string>> metadata; // per image: "parameters" + "latent_studio"
    double seconds = 0;
    std::vector<std::string> warnings; // things the user should know that did not stop the job (LoRA modules left out)
    std::vector<AppliedLora> loras;
};

struct ModelInfo {
    std::string name; // shown in metadata
    std::string hash; // first 10 hex of SHA-256 of the file (may be empty)
    std::string sha256; // all of it
    std::string vae; // the stand-alone VAE file used instead of the model's own, by file name (empty: its own)
    std::string vaeHash; // first 10 hex of its SHA-256
};

} // namespace ls::pipeline

#pragma once
#include "io/WeightSource.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace ls::tools {

struct GoldenResult {
    bool ok = true;
    double maxErr = 0;
    std::string tol;
    std::string message;
    std::vector<std::string> details; // per output: name, max error, worst ratio to tolerance
};

// Runs one case. `weights` replaces the case's own weight file when given (diffusers reuse).
GoldenResult runGoldenCase(
    const std::filesystem::path& dir, const nlohmann::json& caseJson, std::shared_ptr<io::WeightSource> weights);

// Where the cases run: "cpu" (default) or "cuda" (fp32 with TF32 off, so the tolerances of the CPU cases hold).
// Inputs go to the device, outputs come back to the CPU to be compared. Fails when this libtorch has no CUDA.
void setGoldenDevice(const std::string& device);

// The CLIP vocabulary for tokenizer cases (--vocab); empty: the case's vocab_file, then the usual places.
void setGoldenVocabulary(const std::filesystem::path& path);

} // namespace ls::tools

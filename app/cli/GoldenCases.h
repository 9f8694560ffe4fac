#pragma once
#include "io/WeightSource.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace ls::cli {

struct GoldenResult {
    bool ok = true;
    double maxErr = 0;
    std::string tol;
    std::string message;
    std::vector<std::string> details; // per output: name, max error, worst ratio to tolerance
};

// Runs one case. `weights` replaces the case's own weight file when given (diffusers reuse).
GoldenResult runGoldenCase(const std::filesystem::path& dir, const nlohmann::json& caseJson,
    std::shared_ptr<io::WeightSource> weights);

} // namespace ls::cli

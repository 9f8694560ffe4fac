#pragma once
// Strict loading of module parameters from a weight source: every missing, unexpected and wrongly shaped key is
// collected and reported together in one error that names the file.
#include "io/WeightSource.h"

#include <torch/nn/module.h>

#include <functional>
#include <set>
#include <string>

namespace ls::models {

struct LoadReport {
    std::vector<std::string> missing;
    std::vector<std::string> unexpected;
    std::vector<std::string> wrongShape; // "key: file [..] vs model [..]"
    std::vector<std::string> nonFinite; // keys holding NaN/Inf (a warning)
    bool ok() const { return missing.empty() && unexpected.empty() && wrongShape.empty(); }
    std::string describe(const std::string& file, size_t maxPerList = 12) const;
};

struct LoadOptions {
    // Keys under the prefix that may be absent from the file (non-persistent buffers such as CLIP position_ids).
    std::set<std::string> optional;
    // Keys under the prefix in the file that are known and deliberately ignored.
    std::function<bool(const std::string&)> ignore;
    bool checkFinite = true;
};

// Copies prefix+name for every parameter and buffer of module (converting dtype), reporting problems in report.
void loadModule(torch::nn::Module& module, const io::WeightSource& source, const std::string& prefix,
    LoadReport& report, const LoadOptions& options = {});

// Parameter and buffer names with shapes, in registration order (for manifests).
std::vector<std::pair<std::string, std::vector<int64_t>>> moduleKeys(
    torch::nn::Module& module, bool withBuffers = true);

} // namespace ls::models

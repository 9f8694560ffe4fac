#pragma once
// Full-size key manifests: every checkpoint key of a published model with its shape (and dtype when not float32),
// built on the meta device so nothing is allocated.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace ls::models {

// {"model", "param_counts", "total_params", "n_keys", "keys": [[key, shape(, dtype)], ...]}
nlohmann::json manifestJson(const std::string& name);
// Every name manifestJson knows: the known configurations and the SD 1.5 ControlNet files.
std::vector<std::string> manifestNames();

} // namespace ls::models

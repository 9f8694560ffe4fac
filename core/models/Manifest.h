#pragma once
// Full-size key manifests: every checkpoint key of a published model with its shape (and dtype when not float32),
// built on the meta device so nothing is allocated.
#include <nlohmann/json.hpp>

#include <string>

namespace ls::models {

// {"model", "param_counts", "total_params", "n_keys", "keys": [[key, shape(, dtype)], ...]}
nlohmann::json manifestJson(const std::string& name);

} // namespace ls::models

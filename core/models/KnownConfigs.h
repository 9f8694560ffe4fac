#pragma once
// The published full-size configurations, by the manifest names of shared/golden/manifests.
#include "models/ModelConfig.h"

namespace ls::models {

std::vector<std::string> knownConfigNames();
// Throws InvalidInput listing the valid names for an unknown one.
ModelConfig knownConfig(const std::string& name);

} // namespace ls::models

#pragma once
// Model configuration files: JSON, or the original yaml (when built with yaml-cpp), both read into JSON.
#include <nlohmann/json.hpp>

#include <filesystem>

namespace ls::io {

nlohmann::json readConfigFile(const std::filesystem::path& path);
bool hasYamlSupport();

} // namespace ls::io

#pragma once
#include <filesystem>
#include <string>

namespace ls {
// Hex SHA-256 of a file's bytes (streamed); throws Io on read errors.
std::string sha256File(const std::filesystem::path& path);
std::string sha256(const std::string& bytes);
}

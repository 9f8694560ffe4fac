#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace ls {
// Hex SHA-256 of a file's bytes from `offset` on (streamed); throws Io on read errors.
std::string sha256File(const std::filesystem::path& path, uint64_t offset = 0);
std::string sha256(const std::string& bytes);
} // namespace ls

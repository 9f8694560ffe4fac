#pragma once
// Small helpers shared by the Qt Test executables.
#include <functional>
#include <filesystem>
#include <string>

namespace ls::test {

std::filesystem::path sharedDir(); // ../shared (LS_SHARED_DIR)
std::filesystem::path goldenDir(); // ../shared/golden
std::filesystem::path tempDir(); // fresh per process, removed at exit
void writeBytes(const std::filesystem::path& p, const std::string& bytes);
std::string readBytes(const std::filesystem::path& p);
// Runs fn and returns the message of the ls::Error it throws ("" when it does not throw).
std::string errorOf(const std::function<void()>& fn);

} // namespace ls::test

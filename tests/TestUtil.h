#pragma once
// Small helpers shared by the Qt Test executables.
#include "util/Image.h"

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
// An RGB test picture: red rising along x, green along y, blue 90.
Image gradient(int w, int h);
// A one-channel inpainting mask: 255 (repaint) in [x0, x1) x [y0, y1), 0 elsewhere.
Image rectMask(int w, int h, int x0, int y0, int x1, int y1);

} // namespace ls::test

#pragma once
// A plain 8-bit image that crosses every layer (no torch, no Qt): row-major, interleaved channels.
#include <cstdint>
#include <string>
#include <vector>

namespace ls {

struct Image {
    int width = 0;
    int height = 0;
    int channels = 0; // 1 (mask), 3 (RGB) or 4 (RGBA)
    std::vector<uint8_t> pixels;

    Image() = default;
    Image(int w, int h, int c, uint8_t fill = 0)
        : width(w)
        , height(h)
        , channels(c)
        , pixels(static_cast<size_t>(w) * h * c, fill)
    {
    }
    bool empty() const { return width == 0 || height == 0; }
    uint8_t* at(int x, int y) { return pixels.data() + (static_cast<size_t>(y) * width + x) * channels; }
    const uint8_t* at(int x, int y) const { return pixels.data() + (static_cast<size_t>(y) * width + x) * channels; }
    bool operator==(const Image&) const = default;
};

} // namespace ls

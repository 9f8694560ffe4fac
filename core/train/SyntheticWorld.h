#pragma once
// The synthetic world of the bundled default model: flat-coloured shapes on plain backgrounds, one to three objects
// per 64x64 image on a 3x3 grid, each scene with a caption composed from its content and the objects' boxes. Every
// scene is a pure function of (split, index); the held-out split never contains a training scene.
#include "text/WorldLayout.h"
#include "util/Image.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ls::train {

constexpr int kWorldSize = text::kWorldPixels;

enum class Shape { Circle, Square, Triangle };
inline constexpr std::array<const char*, 3> kShapeNames = text::kWorldShapes;
inline constexpr std::array<const char*, 4> kColorNames = text::kWorldColors;
inline constexpr std::array<std::array<uint8_t, 3>, 4> kColors { { { 220, 40, 40 }, { 40, 180, 60 }, { 40, 80, 220 },
    { 235, 200, 40 } } };
inline constexpr std::array<const char*, 2> kSizeNames { "small", "large" };
inline constexpr std::array<int, 2> kSizeRadius = text::kWorldRadius;
// Grid cells row-major: 0 top left ... 8 bottom right.
inline constexpr std::array<const char*, 9> kCellPhrases { "at the top left", "at the top", "at the top right",
    "on the left", "in the center", "on the right", "at the bottom left", "at the bottom", "at the bottom right" };
inline constexpr std::array<std::array<uint8_t, 3>, 3> kBackgrounds { { { 245, 245, 240 }, { 30, 30, 35 },
    { 140, 140, 140 } } };

struct WorldObject {
    int shape = 0; // index into kShapeNames
    int color = 0; // kColorNames
    int size = 0; // kSizeNames
    int cell = 0; // 0..8
    int cx = 0, cy = 0; // centre in pixels (cell centre plus a small jitter)
    std::array<int, 4> box() const; // x0, y0, x1, y1 (exclusive) in pixels
    std::string phrase() const; // "a small red circle at the top left"
    std::string label() const; // "red circle"
};

struct Scene {
    int background = 0;
    std::vector<WorldObject> objects;
    std::string caption() const; // phrases joined with " and "
    uint64_t key() const; // identity of the scene content (jitter excluded)
};

enum class Split { Train, HeldOut };

// Deterministic scene for (split, index); held-out scenes are exactly those whose key hashes into the held-out set.
Scene makeScene(Split split, uint64_t index, int minObjects = 1, int maxObjects = 3);
bool isHeldOut(const Scene& s);
Image render(const Scene& s);

// The exact detector of this world: objects found in an image (colour, shape, size, cell, box).
struct Detection {
    int color = -1, shape = -1, size = -1, cell = -1;
    std::array<int, 4> box {};
    int pixels = 0;
};
std::vector<Detection> detect(const Image& img);
double iou(const std::array<int, 4>& a, const std::array<int, 4>& b);

} // namespace ls::train

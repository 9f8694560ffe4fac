#pragma once
// The spatial path of the bundled model's condition. Its token sequence (WorldTokenizer) carries caption words and box
// triples; cross-attention alone learned colour and shape from it but never where things go (MODEL_CARD.md). So the
// same boxes are also painted, by this fixed function, into layout channels that the UNet reads beside the noisy
// latent (concatenation, as the LDM paper conditions on semantic maps): per box, its colour channel and its shape
// channel hold the fraction of each latent pixel the box covers.
//
// For captions without boxes, layoutFromCaption is the world grammar's text-to-layout planner (as in two-stage,
// layout-grounded text-to-image): each "a <size> <colour> <shape> <position>" phrase becomes the box such an object has
// at that grid cell. The diffusion model then draws what the boxes ask.
#include "text/WorldTokenizer.h"

#include <array>
#include <string>
#include <vector>

namespace ls::text {

// Four colour channels (red, green, blue, yellow), then three shape channels (circle, square, triangle).
constexpr int kWorldLayoutChannels = 7;

// The world's geometry (64x64 pixels, a 3x3 grid): what SyntheticWorld renders and what the planner lays out.
constexpr int kWorldPixels = 64;
constexpr std::array<int, 2> kWorldRadius { 5, 9 }; // small, large
constexpr int worldCellCentre(int i) { return 11 + i * 21; }

// [kWorldLayoutChannels, h, w] row-major, values in 0..1 (the maximum over boxes). Boxes whose label names no known
// colour and shape are skipped.
std::vector<float> rasteriseWorldLayout(const std::vector<WorldBox>& boxes, int h, int w);

// One box per caption phrase that names a colour, a shape and a position ("top", "bottom", "left", "right",
// "center"); phrases are separated by "and". The size defaults to large when the phrase names none. A caption without
// positions gives no boxes.
std::vector<WorldBox> layoutFromCaption(const std::string& caption);

} // namespace ls::text

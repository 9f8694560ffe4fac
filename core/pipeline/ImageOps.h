#pragma once
// Conversions between Image and tensors, and the mask and resampling operations the jobs share.
#include "util/Image.h"

#include <ATen/ATen.h>

namespace ls::pipeline {

at::Tensor imageToTensor(const Image& img); // -> [1, 3, H, W] in [-1, 1] (RGB; alpha dropped)
Image tensorToImage(const at::Tensor& t); // [1, 3, H, W] in [-1, 1] -> RGB
at::Tensor maskToTensor(const Image& mask); // -> [1, 1, H, W] in [0, 1] (first channel)
Image tensorToMask(const at::Tensor& m); // [1, 1, H, W] in [0, 1] -> 1 channel
at::Tensor growMask(const at::Tensor& mask, int pixels); // dilate (> 0) or erode (< 0)
at::Tensor blurMask(const at::Tensor& mask, int radius); // Gaussian feather, sigma = radius / 2
// AUTOMATIC1111's "Masked content: fill" (modules/masking.py fill): the unmasked colours, blurred ever less (radius
// 256, 64, 16, 4, 2, 0) and laid over each other, fill the masked area. [1, 3, H, W] in [-1, 1]; mask 1 = masked.
// Gaussians approximated by three box blurs (as PIL does), edges extended.
at::Tensor fillMasked(const at::Tensor& image, const at::Tensor& mask01);
// Blending weights of one tile among overlapping tiles, [1, 1, h, w]: linear ramps over `overlap` pixels on the sides
// that have a neighbour (flags), 1 elsewhere; summed tiles divided by summed weights hide the seams.
at::Tensor seamWeights(int h, int w, int overlap, bool top, bool bottom, bool left, bool right);
Image toRgb(const Image& img);
// Separable Lanczos-3 resampling of an RGB(A) image.
Image resizeLanczos(const Image& img, int width, int height);
// The w x h rectangle at (x, y), which must lie inside the image.
Image cropImage(const Image& img, int x, int y, int w, int h);
// Copies src into dst with its top-left corner at (x, y); it must fit, with the same channel count.
void pasteImage(Image& dst, const Image& src, int x, int y);
// The first channel of an image (a mask from any picture).
Image firstChannel(const Image& img);
// out = init where m == 0, generated where m == 1, blended between. Pixels with m == 0 are copied bit for bit.
Image composite(const Image& init, const Image& generated, const at::Tensor& mask01);
// Outpainting: the image on a larger canvas (new area pre-filled by stretching the edge pixels outwards, then
// blurred) and the mask of what to paint (the new area plus `overlap` pixels into the old one, to hide the seam).
std::pair<Image, Image> outpaintCanvas(const Image& img, int left, int top, int right, int bottom, int overlap = 8);

// Bounding box [x0, y0, x1, y1) of mask pixels >= 0.5; empty when none.
std::array<int, 4> maskBounds(const at::Tensor& mask01);

} // namespace ls::pipeline

#pragma once
// 3x3 convolutions (stride 1, padding 1) by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray 2016): each 4x4
// input tile and each filter are transformed so that the convolution becomes 16 matrix products with 2.25 times fewer
// multiplications than the direct method. On the CPU the UNet and the VAE decoder spend most of their time in such
// convolutions, and the direct method already runs near the matrix-multiply peak, so fewer multiplications is what is
// left to win. Float32 results agree with at::conv2d to rounding (about 1e-6 relative).
#include <ATen/ATen.h>

namespace ls::nn {

// Whether winogradConv3x3 takes this call: float32 CPU tensors, no autograd, a 3x3 kernel with stride 1 and padding 1,
// and enough work to pay for the transforms. LS_WINOGRAD=0 in the environment turns it off (for comparisons).
bool winogradApplies(const at::Tensor& x, const at::Tensor& weight, int64_t stride, int64_t padding);

// x [N, C, H, W], weight [K, C, 3, 3], bias [K] or undefined -> [N, K, H, W].
at::Tensor winogradConv3x3(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

} // namespace ls::nn

#pragma once
// Minimal layers whose parameters are created uninitialised with explicit options (dtype, device, or the meta
// device for shape-only models). Weights always come from a checkpoint, so no initialisation work is wasted.
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <ATen/ATen.h>

namespace ls::nn {

using Options = at::TensorOptions;

struct LinearImpl : torch::nn::Module {
    LinearImpl(int64_t in, int64_t out, bool bias, const Options& o);
    at::Tensor forward(const at::Tensor& x);
    at::Tensor weight, bias;
};
TORCH_MODULE(Linear);

struct Conv2dImpl : torch::nn::Module {
    Conv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, const Options& o);
    at::Tensor forward(const at::Tensor& x);
    // forward(nearest-neighbour 2x upsample of x), the decoders' and UNets' Upsample. A 3x3 convolution (stride 1,
    // padding 1) is done without the upsampled tensor: each output phase (row and column parity) sees two input rows
    // and columns, so it is a 2x2 convolution of x with summed taps: 16 instead of 36 multiplications per output
    // value, the same result up to rounding. Under autograd, and for other kernels, the plain composition.
    at::Tensor forwardUpsampled2x(const at::Tensor& x);
    at::Tensor weight, bias;
    int64_t stride, padding;
};
TORCH_MODULE(Conv2d);

// 1-D convolution with kernel 1 (the attention blocks of openaimodel store [out, in, 1] weights).
struct Conv1x1dImpl : torch::nn::Module {
    Conv1x1dImpl(int64_t in, int64_t out, const Options& o);
    at::Tensor forward(const at::Tensor& x); // [B, C, T]
    at::Tensor weight, bias;
};
TORCH_MODULE(Conv1x1d);

struct GroupNormImpl : torch::nn::Module {
    GroupNormImpl(int64_t groups, int64_t channels, double eps, const Options& o);
    at::Tensor forward(const at::Tensor& x);
    at::Tensor weight, bias;
    int64_t groups;
    double eps;
};
TORCH_MODULE(GroupNorm);

struct LayerNormImpl : torch::nn::Module {
    LayerNormImpl(int64_t dim, double eps, const Options& o);
    at::Tensor forward(const at::Tensor& x);
    at::Tensor weight, bias;
    double eps;
};
TORCH_MODULE(LayerNorm);

struct EmbeddingImpl : torch::nn::Module {
    EmbeddingImpl(int64_t count, int64_t dim, const Options& o);
    at::Tensor forward(const at::Tensor& ids);
    at::Tensor weight;
    // Rows past the table (textual-inversion vectors, [E, dim]): ids count..count+E-1 look them up. Not a parameter.
    at::Tensor extra;
};
TORCH_MODULE(Embedding);

// The dtype a model computes in when its weights are stored as w: on the CPU, fp16 and bf16 weights are storage only
// (half the memory) and the maths runs in fp32 (libtorch's CPU half kernels are slow or missing); on a GPU, the
// weights' own dtype.
at::ScalarType computeType(const at::Tensor& w);
at::ScalarType computeType(const at::TensorOptions& storage);
// w in x's dtype, a no-op when it already is: fp16/bf16-stored weights in an fp32 computation are widened per call.
inline at::Tensor like(const at::Tensor& w, const at::Tensor& x)
{
    return !w.defined() || w.scalar_type() == x.scalar_type() ? w : w.to(x.scalar_type());
}

// A module with no parameters that keeps an index free in a Sequential (SiLU, Dropout): nothing is registered.
inline at::Tensor silu(const at::Tensor& x) { return at::silu(x); }

// Scaled dot-product attention on [B, H, T, D] tensors; chunked over queries to bound memory.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
    const c10::optional<at::Tensor>& mask = c10::nullopt);

} // namespace ls::nn

namespace ls::nn {

// Returns the plain container module at a dotted path under parent, creating empty ones on the way. Checkpoint key
// segments like `time_embed.0` or `up.3.block.0` become such containers with index-named children.
std::shared_ptr<torch::nn::Module> container(torch::nn::Module& parent, const std::string& dottedPath);

// Registers a module at a dotted path (`time_embed.0`), creating the containers before its last segment.
template <class Holder> Holder reg(torch::nn::Module& parent, const std::string& dottedPath, Holder holder)
{
    const auto pos = dottedPath.rfind('.');
    if (pos == std::string::npos)
        return parent.register_module(dottedPath, holder);
    auto owner = container(parent, dottedPath.substr(0, pos));
    return owner->register_module(dottedPath.substr(pos + 1), holder);
}

} // namespace ls::nn

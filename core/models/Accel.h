#pragma once
// Backend fast paths, chosen once per process: the attention kernel, CUDA graphs for the UNet call, channels-last
// convolution weights and group norm in the activations' own dtype on a GPU. The CPU path stays as measured in
// docs/benchmarks.md (Debian's libtorch 1.13); on CUDA each is on by default where this build has it. The version- and
// CUDA-specific code lives in Accel.cpp alone, compiled in with LS_ACCEL (CMake option, default on): SDPA needs
// libtorch >= 2.1, graphs and GPU memory statistics a libtorch built with CUDA.
//
// Environment overrides, read once (for A/B runs and as an escape hatch): LS_ATTENTION=auto|chunked|sdpa,
// LS_CUDA_GRAPHS=0|1, LS_CHANNELS_LAST=0|1, LS_NATIVE_GROUP_NORM=0|1, LS_CUDNN_BENCHMARK=0|1.
#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ls::accel {

enum class Attention { Auto, Chunked, Sdpa };

struct Settings {
    Attention attention
        = Attention::Auto; // Auto: SDPA for CUDA tensors where compiled in, the chunked kernel otherwise
    bool cudaGraphs = true; // UNet calls on CUDA replay one captured graph per input signature
    bool channelsLast = false; // CUDA: convolution weights in channels-last order (moveTo)
    bool nativeGroupNorm = true; // CUDA fp16/bf16: the UNet's group norms in the activations' dtype (the
                                 // kernel accumulates in fp32) instead of GroupNorm32's round trip via fp32
    bool cudnnBenchmark = true; // CUDA: cuDNN picks the fastest convolution per shape (prepareDevice)
};
// The process-wide settings (the environment read on first use).
Settings& settings();
Attention parseAttention(const std::string& name); // auto|chunked|sdpa; throws InvalidInput naming the value
const char* name(Attention a);

// What this build has.
bool sdpaCompiled(); // at::scaled_dot_product_attention (libtorch >= 2.1 with LS_ACCEL)
bool cudaExtrasCompiled(); // CUDA graphs and the caching allocator's statistics (CUDA libtorch with LS_ACCEL)

// Whether nn::attention takes the SDPA kernel for these queries under the current settings.
bool useSdpa(const at::Tensor& q);
// softmax(q k^T * scale + mask) v through at::scaled_dot_product_attention; mask is additive (any float dtype).
at::Tensor sdpa(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, const c10::optional<at::Tensor>& mask);
// Whether the UNet's GroupNorm32 may run in x's own dtype.
bool nativeGroupNorm(const at::Tensor& x);

// Once a model lives on `device`: cuDNN benchmark mode on CUDA (per the settings). No-op on the CPU.
void prepareDevice(const at::Device& device);
// Waits for the device's queue (no-op on the CPU).
void synchronize(const at::Device& device);
// Peak bytes the CUDA caching allocator reserved / handed out on `device`, in MiB; 0 on the CPU or without the extras.
double peakGpuReservedMb(const at::Device& device);
double peakGpuAllocatedMb(const at::Device& device);

// Runs fn through one captured CUDA graph per input signature (device, dtypes, shapes, strides, which inputs are
// undefined): the first call with a signature runs fn once eagerly on a side stream (cuDNN autotuning, cuBLAS
// workspaces), captures a second call, then every call copies its inputs into the captured ones and replays. fn must
// be a pure function of its inputs and of weights that stay where they are (clear() after moving them). Falls back to
// fn(inputs) when graphs are off or not compiled in, for CPU inputs, and for good once a capture fails (error() says
// why). At most `capacity` graphs are kept (least recently used dropped); they share one memory pool.
class GraphCache {
public:
    using Fn = std::function<at::Tensor(const std::vector<at::Tensor>&)>;
    explicit GraphCache(size_t capacity = 3);
    ~GraphCache();
    GraphCache(const GraphCache&) = delete;
    GraphCache& operator=(const GraphCache&) = delete;

    at::Tensor run(const Fn& fn, const std::vector<at::Tensor>& inputs);
    void clear();
    size_t size() const;
    size_t captures() const; // graphs captured so far (a replayed signature does not count again)
    const std::string& error() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl;
};

} // namespace ls::accel

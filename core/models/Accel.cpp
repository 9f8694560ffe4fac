#include "models/Accel.h"

#include "util/Error.h"

#include <torch/version.h>

#include <cstdlib>
#include <map>
#include <sstream>

#if defined(LS_ACCEL) && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1))
#define LS_HAVE_SDPA 1
#endif

#if defined(LS_ACCEL) && defined(LS_TORCH_CUDA)                                                                        \
    && __has_include(<ATen/cuda/CUDAGraph.h>) && __has_include(<cuda_runtime_api.h>)
#define LS_HAVE_CUDA_EXTRAS 1
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#if defined(LS_REQUIRE_CUDA_EXTRAS) && !defined(LS_HAVE_CUDA_EXTRAS)
#error "the CUDA section is not compiled in (the accel_cuda_syntax test needs it)"
#endif

namespace ls::accel {

namespace {

bool envFlag(const char* name, bool fallback)
{
    const char* v = std::getenv(name);
    if (!v || !*v)
        return fallback;
    const std::string s(v);
    return !(s == "0" || s == "off" || s == "false" || s == "no");
}

Settings fromEnvironment()
{
    Settings s;
    if (const char* a = std::getenv("LS_ATTENTION"); a && *a)
        s.attention = parseAttention(a);
    s.cudaGraphs = envFlag("LS_CUDA_GRAPHS", s.cudaGraphs);
    s.channelsLast = envFlag("LS_CHANNELS_LAST", s.channelsLast);
    s.nativeGroupNorm = envFlag("LS_NATIVE_GROUP_NORM", s.nativeGroupNorm);
    s.cudnnBenchmark = envFlag("LS_CUDNN_BENCHMARK", s.cudnnBenchmark);
    return s;
}

} // namespace

Settings& settings()
{
    static Settings s = fromEnvironment();
    return s;
}

Attention parseAttention(const std::string& n)
{
    if (n == "auto")
        return Attention::Auto;
    if (n == "chunked")
        return Attention::Chunked;
    if (n == "sdpa")
        return Attention::Sdpa;
    fail(ErrorKind::InvalidInput, "attention backend '" + n + "': expected auto, chunked or sdpa");
}

const char* name(Attention a)
{
    switch (a) {
    case Attention::Auto:
        return "auto";
    case Attention::Chunked:
        return "chunked";
    case Attention::Sdpa:
        return "sdpa";
    }
    return "?";
}

bool sdpaCompiled()
{
#ifdef LS_HAVE_SDPA
    return true;
#else
    return false;
#endif
}

bool cudaExtrasCompiled()
{
#ifdef LS_HAVE_CUDA_EXTRAS
    return true;
#else
    return false;
#endif
}

bool useSdpa(const at::Tensor& q)
{
    switch (settings().attention) {
    case Attention::Chunked:
        return false;
    case Attention::Sdpa:
        if (!sdpaCompiled())
            fail(ErrorKind::Unsupported,
                "attention backend 'sdpa': this build has no at::scaled_dot_product_attention "
                "(libtorch " TORCH_VERSION "; it needs 2.1 or later and LS_ACCEL=ON)");
        return true;
    case Attention::Auto:
        return sdpaCompiled() && q.is_cuda();
    }
    return false;
}

at::Tensor sdpa(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, const c10::optional<at::Tensor>& mask)
{
#ifdef LS_HAVE_SDPA
    c10::optional<at::Tensor> m;
    if (mask)
        m = mask->to(q.scalar_type());
    return at::scaled_dot_product_attention(q, k, v, m, 0.0, false, scale);
#else
    fail(ErrorKind::Unsupported, "at::scaled_dot_product_attention is not in this build (libtorch " TORCH_VERSION ")");
#endif
}

bool nativeGroupNorm(const at::Tensor& x) { return x.is_cuda() && settings().nativeGroupNorm; }

void prepareDevice(const at::Device& device)
{
    if (device.is_cuda())
        at::globalContext().setBenchmarkCuDNN(settings().cudnnBenchmark);
}

void synchronize(const at::Device& device)
{
    if (!device.is_cuda())
        return;
#ifdef LS_HAVE_CUDA_EXTRAS
    c10::cuda::device_synchronize();
#else
    at::zeros({ 1 }, at::TensorOptions().device(device)).cpu(); // a copy back waits for the queue
#endif
}

#ifdef LS_HAVE_CUDA_EXTRAS
namespace {
double peakMb(const at::Device& device, bool reserved)
{
    if (!device.is_cuda())
        return 0;
    const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    const auto& s = reserved ? stats.reserved_bytes[0] : stats.allocated_bytes[0]; // [0]: the aggregate over pools
    return static_cast<double>(s.peak) / (1024.0 * 1024.0);
}
} // namespace
double peakGpuReservedMb(const at::Device& device) { return peakMb(device, true); }
double peakGpuAllocatedMb(const at::Device& device) { return peakMb(device, false); }
#else
double peakGpuReservedMb(const at::Device&) { return 0; }
double peakGpuAllocatedMb(const at::Device&) { return 0; }
#endif

// ---------------------------------------------------------------- CUDA graphs

#ifdef LS_HAVE_CUDA_EXTRAS
namespace {

std::string signature(const std::vector<at::Tensor>& inputs)
{
    std::ostringstream s;
    for (const auto& t : inputs) {
        if (!t.defined()) {
            s << "-;";
            continue;
        }
        s << t.device() << ' ' << t.scalar_type() << ' ' << t.sizes() << ' ' << t.strides() << ';';
    }
    return s.str();
}

} // namespace
#endif

struct GraphCache::Impl {
    size_t capacity = 3;
    size_t captures = 0;
    std::string error;
    bool disabled = false;
#ifdef LS_HAVE_CUDA_EXTRAS
    struct Entry {
        at::cuda::CUDAGraph graph;
        std::vector<at::Tensor> in;
        at::Tensor out;
        uint64_t lastUse = 0;
    };
    std::map<std::string, std::unique_ptr<Entry>> entries;
    uint64_t clock = 0;
    // One memory pool for every graph of the cache: graphs replay one at a time on one stream and their outputs are
    // cloned at once, so they may share temporaries (three private pools would triple the memory held).
    decltype(at::cuda::graph_pool_handle()) pool {};
    bool havePool = false;

    Entry* capture(const Fn& fn, const std::vector<at::Tensor>& inputs)
    {
        auto e = std::make_unique<Entry>();
        for (const auto& t : inputs)
            e->in.push_back(t.defined() ? t.clone() : t);
        const auto device = inputs.front().device();
        c10::cuda::device_synchronize();
        {
            c10::cuda::CUDAStreamGuard guard(c10::cuda::getStreamFromPool(false, device.index()));
            fn(e->in); // warm-up on the capture stream: cuDNN autotuning, cuBLAS handles and workspaces
            c10::cuda::device_synchronize();
            if (!havePool) {
                pool = at::cuda::graph_pool_handle();
                havePool = true;
            }
            e->graph.capture_begin(pool);
            try {
                e->out = fn(e->in);
            } catch (...) {
                try {
                    e->graph.capture_end();
                } catch (...) {
                }
                throw;
            }
            e->graph.capture_end();
        }
        c10::cuda::device_synchronize();
        ++captures;
        return e.release();
    }
#endif
};

GraphCache::GraphCache(size_t capacity)
    : impl(std::make_unique<Impl>())
{
    impl->capacity = std::max<size_t>(1, capacity);
}

GraphCache::~GraphCache() = default;

at::Tensor GraphCache::run(const Fn& fn, const std::vector<at::Tensor>& inputs)
{
    if (!settings().cudaGraphs || impl->disabled || inputs.empty() || !inputs.front().defined()
        || !inputs.front().is_cuda())
        return fn(inputs);
#ifdef LS_HAVE_CUDA_EXTRAS
    at::NoGradGuard noGrad;
    const std::string key = signature(inputs);
    auto it = impl->entries.find(key);
    if (it == impl->entries.end()) {
        while (impl->entries.size() >= impl->capacity) {
            auto oldest = impl->entries.begin();
            for (auto j = impl->entries.begin(); j != impl->entries.end(); ++j)
                if (j->second->lastUse < oldest->second->lastUse)
                    oldest = j;
            impl->entries.erase(oldest);
        }
        Impl::Entry* e = nullptr;
        try {
            e = impl->capture(fn, inputs);
        } catch (const std::exception& ex) {
            impl->disabled = true;
            impl->error = std::string("CUDA graph capture failed, running without graphs: ") + ex.what();
            impl->entries.clear();
            impl->havePool = false;
            return fn(inputs);
        }
        it = impl->entries.emplace(key, std::unique_ptr<Impl::Entry>(e)).first;
    }
    auto& e = *it->second;
    e.lastUse = ++impl->clock;
    for (size_t i = 0; i < inputs.size(); ++i)
        if (inputs[i].defined())
            e.in[i].copy_(inputs[i]);
    e.graph.replay();
    return e.out.clone(); // the captured output is overwritten by the next replay
#else
    return fn(inputs);
#endif
}

void GraphCache::clear()
{
#ifdef LS_HAVE_CUDA_EXTRAS
    impl->entries.clear();
    impl->havePool = false; // the old pool goes with its last graph; the next capture starts a new one
#endif
}

size_t GraphCache::size() const
{
#ifdef LS_HAVE_CUDA_EXTRAS
    return impl->entries.size();
#else
    return 0;
#endif
}

size_t GraphCache::captures() const { return impl->captures; }

const std::string& GraphCache::error() const { return impl->error; }

} // namespace ls::accel

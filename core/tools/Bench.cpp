// latent-cli bench: load, text encoding, seconds per guided step (median), decode, total, peak memory.
#include "tools/DevTools.h"

#include "io/SafeTensors.h"
#include "models/Accel.h"
#include "models/KnownConfigs.h"
#include "models/RandomWeights.h"
#include "models/sdxl/SdxlConditioning.h"
#include "models/taesd/Taesd.h"
#include "pipeline/Conditioning.h"
#include "pipeline/Preview.h"
#include "pipeline/ModelLoading.h"
#include "pipeline/Names.h"
#include "pipeline/Sampling.h"
#include "util/Error.h"
#include "util/Threads.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/version.h>
#if __has_include(<torch/csrc/autograd/profiler_legacy.h>)
#include <torch/csrc/autograd/profiler_legacy.h>
#define LS_HAVE_LEGACY_PROFILER 1
#endif

#include <algorithm>
#include <numeric>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

namespace ls::tools {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

double peakRssMb()
{
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmHWM:", 0) == 0)
            return std::stod(line.substr(6)) / 1024.0;
    return 0;
}

void sync(const at::Device& d) { accel::synchronize(d); }

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// One fast-path combination timed by --variants.
struct Variant {
    accel::Attention attention;
    bool graphs, channelsLast, nativeGroupNorm;
};

// Every combination this build and device can run: attention chunked / SDPA, CUDA graphs off / on, channels-last off
// / on, GroupNorm32 via fp32 / native (the last only matters on a GPU below fp32). The first is the reference
// (portable paths, eager) every other is compared with.
std::vector<Variant> variantsFor(const at::Device& device, at::ScalarType compute)
{
    std::vector<accel::Attention> att { accel::Attention::Chunked };
    if (accel::sdpaCompiled())
        att.push_back(accel::Attention::Sdpa);
    std::vector<bool> graphs { false };
    if (device.is_cuda() && accel::cudaExtrasCompiled())
        graphs.push_back(true);
    std::vector<bool> gn { false };
    if (device.is_cuda() && compute != at::kFloat)
        gn.push_back(true);
    std::vector<Variant> out;
    for (auto a : att)
        for (bool g : graphs)
            for (bool cl : { false, true })
                for (bool n : gn)
                    out.push_back({ a, g, cl, n });
    return out;
}

// One bench run: what its phases (set-up, load, text encoding, steps, variants, decodes, report) hand on.
struct BenchRun {
    explicit BenchRun(const BenchOptions& options)
        : o(options)
    {
    }
    const BenchOptions& o;
    int threads = 0;
    at::Device device = at::kCPU;
    at::ScalarType dtype = at::kFloat;
    int w = 0, h = 0;
    fs::path path;
    std::shared_ptr<models::LatentModel> m;
    std::shared_ptr<const text::ClipTokenizer> tok;
    at::Tensor cond, uncond, condVec, uncondVec; // SDXL: the vector condition of each
    at::Tensor x; // the latent the steps work on
    double rssBefore = 0, loadS = 0, loadRss = 0, encodeS = 0, stepS = 0, previewS = 0, previewSetupS = 0;
    double decodeS = 0, taesdS = 0;
    std::vector<double> stepTimes;
    nlohmann::json variants = nlohmann::json::array();
};

void setUp(BenchRun& r)
{
    const BenchOptions& o = r.o;
    if (o.model.empty() == o.random.empty())
        fail(ErrorKind::InvalidInput, "bench: give exactly one of --model or --random");
    r.threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    configureThreads(r.threads);
    r.device = pipeline::findDevice(o.device) == pipeline::Device::Cuda ? at::Device(at::kCUDA) : at::Device(at::kCPU);
    if (r.device.is_cuda() && !at::hasCUDA())
        fail(ErrorKind::Unsupported, "bench: this libtorch build has no CUDA (or no GPU is visible)");
    r.dtype = o.dtype == "fp16" ? at::kHalf : o.dtype == "bf16" ? at::kBFloat16 : at::kFloat;
    auto& fast = accel::settings();
    if (!o.attention.empty())
        fast.attention = accel::parseAttention(o.attention);
    if (fast.attention == accel::Attention::Sdpa && !accel::sdpaCompiled())
        fail(ErrorKind::Unsupported,
            "bench --attention sdpa: this build has no at::scaled_dot_product_attention (libtorch " TORCH_VERSION
            ", needs 2.1 and LS_ACCEL)");
    if (!o.cudaGraphs.empty())
        fast.cudaGraphs = o.cudaGraphs == "on";
    if (o.channelsLast)
        fast.channelsLast = true;
    if (std::sscanf(o.size.c_str(), "%dx%d", &r.w, &r.h) != 2 || r.w < 64 || r.h < 64)
        fail(ErrorKind::InvalidInput, "bench: --size must be WxH, e.g. 512x512");
}

void load(BenchRun& r)
{
    const BenchOptions& o = r.o;
    auto& fast = accel::settings();
    const at::Device device = r.device;
    fs::path& path = r.path;
    path = o.model;
    if (!o.random.empty()) {
        const char* home = std::getenv("HOME");
        const fs::path cache = fs::path(home ? home : "/tmp") / ".cache/latent-studio";
        fs::create_directories(cache);
        const std::string fd = o.fileDtype.empty() ? o.dtype : o.fileDtype;
        const at::ScalarType fileType = fd == "fp16" ? at::kHalf : fd == "bf16" ? at::kBFloat16 : at::kFloat;
        // v2: norm scales one (v1 zeroed most GroupNorm scales, and with them the UNet's output).
        path = cache / ("random-v2-" + o.random + "-" + fd + ".safetensors");
        if (!fs::exists(path)) {
            std::fprintf(stderr, "writing %s ...\n", path.c_str());
            models::writeRandomCheckpoint(o.random, path, fileType, 0);
        }
    }
    r.rssBefore = peakRssMb();
    auto t0 = Clock::now();
    pipeline::ModelLoadOptions lo;
    lo.configFile = o.config;
    lo.vocabulary = o.vocab;
    lo.dtype = r.dtype;
    lo.hash = false;
    auto& m = r.m;
    {
        if (o.random.empty()) {
            // A user file or the bundled model: the normal loading path (config beside the file, --config, detection).
            auto lm = pipeline::loadModel(path, lo);
            m = lm.model;
            r.tok = lm.tokenizer;
            if (device.is_cuda())
                m->moveTo(device);
        } else {
            std::shared_ptr<io::WeightSource> wsrc = io::openWeights(path);
            const models::ModelConfig cfg = models::knownConfig(o.random);
            m = models::LatentModel::load(*wsrc, cfg, at::TensorOptions().dtype(r.dtype).device(device));
            accel::prepareDevice(device);
        }
        if (fast.channelsLast)
            m->setChannelsLast(true);
    }
    sync(device);
    r.loadS = seconds(t0);
    r.loadRss = peakRssMb();
}

void encodeText(BenchRun& r)
{
    const BenchOptions& o = r.o;
    const at::Device device = r.device;
    auto& m = r.m;
    auto& tok = r.tok;
    auto &cond = r.cond, &uncond = r.uncond, &condVec = r.condVec, &uncondVec = r.uncondVec;
    const int w = r.w, h = r.h;
    // Text encoding: the vocabulary when given, else a fixed id sequence of a typical prompt length.
    const auto t0 = Clock::now();
    const bool sdxl = models::isSdxl(m->config.family);
    auto vectorFor = [&](const at::Tensor& pooled) {
        return models::sdxl::vectorCondition(m->config.family, pooled, models::sdxl::forSize(w, h)).to(device);
    };
    if (m->bert) {
        pipeline::Conditioner cd(*m, nullptr);
        cond = m->config.family == models::Family::Synthetic
            ? cd.encodeWorld("a large red circle at the top left and a small blue square at the bottom")
            : m->bert(at::zeros({ 1, 77 }, at::TensorOptions().dtype(at::kLong)).to(device));
        uncond = m->config.family == models::Family::Synthetic ? cd.encodeWorld("") : cond.clone();
    } else if (m->clip || m->openclip) {
        if (!o.vocab.empty() && !tok)
            tok = std::make_shared<text::ClipTokenizer>(text::ClipTokenizer::find({ o.vocab }));
        if (tok) {
            pipeline::Conditioner cd(*m, tok);
            cond = cd.encodePrompt("a photograph of an astronaut riding a horse on the moon, highly detailed");
            if (sdxl)
                condVec = vectorFor(cd.pooled());
            uncond = cd.encodePrompt("");
            if (sdxl)
                uncondVec = vectorFor(cd.pooled());
        } else if (sdxl) {
            std::vector<int64_t> ids(77, models::sdxl::kClipLPad);
            ids[0] = 49406;
            for (int i = 1; i < 16; ++i)
                ids[i] = 320 + i;
            auto idL = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).view({ 1, 77 }).to(device);
            auto idG = idL.clone();
            idG.narrow(1, 17, 60).fill_(models::sdxl::kClipGPad);
            idG[0][16] = 49407;
            idL[0][16] = 49407;
            auto t = models::sdxl::encodeText(*m, idL, idG);
            cond = t.context;
            uncond = cond.clone();
            condVec = vectorFor(t.pooled);
            uncondVec = condVec.clone();
        } else {
            std::vector<int64_t> ids(77, 49407);
            ids[0] = 49406;
            for (int i = 1; i < 16; ++i)
                ids[i] = 320 + i;
            auto idT = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).view({ 1, 77 }).to(device);
            cond = m->clip ? m->clip->forward(idT) : m->openclip->forward(idT);
            uncond = cond.clone();
        }
    }
    sync(device);
    r.encodeS = seconds(t0);
}

void timeSteps(BenchRun& r)
{
    const BenchOptions& o = r.o;
    const at::Device device = r.device;
    auto& m = r.m;
    const auto &cond = r.cond, &uncond = r.uncond, &condVec = r.condVec, &uncondVec = r.uncondVec;
    const int w = r.w, h = r.h;
    const int f = static_cast<int>(m->config.firstStage.downFactor());
    const int64_t c = m->config.unet.outChannels;
    auto& x = r.x;
    x = at::randn({ o.batch, c, h / f, w / f }, at::TensorOptions().dtype(m->computeType()).device(device));
    auto& stepTimes = r.stepTimes;
    const bool concatInpaint = m->config.unet.inChannels != c;
    for (int i = 0; i < o.steps; ++i) {
        auto ts = Clock::now();
        auto xin = at::cat({ x, x });
        if (concatInpaint)
            xin = at::cat({ xin,
                              at::zeros({ xin.size(0), m->config.unet.inChannels - c, xin.size(2), xin.size(3) },
                                  xin.options()) },
                1);
        auto t = at::full({ xin.size(0) }, 500, at::TensorOptions().dtype(at::kLong).device(device));
        at::Tensor ctx = cond.defined()
            ? at::cat({ uncond.expand({ o.batch, -1, -1 }), cond.expand({ o.batch, -1, -1 }) })
            : at::Tensor();
        at::Tensor y = m->config.unet.numClasses > 0
            ? at::full({ xin.size(0) }, 20, at::TensorOptions().dtype(at::kLong).device(device))
            : at::Tensor();
        if (condVec.defined())
            y = at::cat({ uncondVec.expand({ o.batch, -1 }), condVec.expand({ o.batch, -1 }) });
        auto out = m->denoise(xin, t, ctx, y);
        x = x - 0.01 * out.narrow(0, 0, o.batch).to(x.scalar_type());
        sync(device);
        stepTimes.push_back(seconds(ts));
    }
    r.stepS = median(stepTimes);
}

void timeVariants(BenchRun& r)
{
    const BenchOptions& o = r.o;
    const at::Device device = r.device;
    auto& m = r.m;
    auto& fast = accel::settings();
    const auto &cond = r.cond, &uncond = r.uncond, &condVec = r.condVec, &uncondVec = r.uncondVec;
    const int f = static_cast<int>(m->config.firstStage.downFactor());
    const int w = r.w, h = r.h;
    // --variants: one UNet call on a fixed input under each combination, its median time over max(3, --steps) calls
    // after two warm-up calls (a CUDA graph is captured there), and its largest deviation from the first (reference).
    auto& variants = r.variants;
    {
        const accel::Settings saved = fast;
        auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
        auto xv = at::randn(
            { 2 * o.batch, m->config.unet.inChannels, h / f, w / f }, gen, at::TensorOptions().dtype(at::kFloat));
        auto tv = at::full({ xv.size(0) }, 500, at::TensorOptions().dtype(at::kLong));
        at::Tensor ctxv = cond.defined()
            ? at::cat({ uncond.expand({ o.batch, -1, -1 }), cond.expand({ o.batch, -1, -1 }) })
            : at::Tensor();
        at::Tensor yv = m->config.unet.numClasses > 0
            ? at::full({ xv.size(0) }, 20, at::TensorOptions().dtype(at::kLong))
            : at::Tensor();
        if (condVec.defined())
            yv = at::cat({ uncondVec.expand({ o.batch, -1 }), condVec.expand({ o.batch, -1 }) }).cpu();
        at::Tensor reference;
        for (const auto& v : variantsFor(device, m->computeType())) {
            fast.attention = v.attention;
            fast.cudaGraphs = v.graphs;
            fast.nativeGroupNorm = v.nativeGroupNorm;
            m->setChannelsLast(v.channelsLast);
            nlohmann::json r;
            r["attention"] = accel::name(v.attention);
            r["cuda_graphs"] = v.graphs;
            r["channels_last"] = v.channelsLast;
            r["native_group_norm"] = v.nativeGroupNorm;
            try {
                at::Tensor out;
                for (int i = 0; i < 2; ++i)
                    out = m->denoise(xv, tv, ctxv, yv).to(at::kCPU, at::kFloat);
                std::vector<double> times;
                for (int i = 0; i < std::max(3, o.steps); ++i) {
                    auto ts = Clock::now();
                    out = m->denoise(xv, tv, ctxv, yv);
                    sync(device);
                    times.push_back(seconds(ts));
                }
                out = out.to(at::kCPU, at::kFloat);
                if (!reference.defined())
                    reference = out;
                r["step_s"] = median(times);
                r["it_per_s"] = median(times) > 0 ? 1.0 / median(times) : 0.0;
                r["max_abs_diff"] = (out - reference).abs().max().item<double>();
                r["reference_abs_max"] = reference.abs().max().item<double>();
                r["finite"] = out.isfinite().all().item<bool>();
                if (!m->unetGraphs->error().empty())
                    r["error"] = m->unetGraphs->error();
            } catch (const std::exception& e) {
                r["error"] = e.what();
            }
            variants.push_back(r);
        }
        fast = saved;
        m->setChannelsLast(fast.channelsLast);
    }
}

void timeDecodes(BenchRun& r)
{
    const BenchOptions& o = r.o;
    const at::Device device = r.device;
    auto& m = r.m;
    const auto& x = r.x;
    // The per-step preview the app and `generate` draw by default: the linear latent -> RGB projection (fitted once per
    // model when it has no published table; that one-off cost is reported apart).
    auto t0 = Clock::now();
    pipeline::LatentPreviewer previewer(*m);
    r.previewSetupS = seconds(t0);
    std::vector<double> previewTimes;
    for (int i = 0; i < std::max(3, o.steps); ++i) {
        auto tp = Clock::now();
        auto img = previewer.project(x);
        previewTimes.push_back(seconds(tp));
        if (img.width == 0)
            break;
    }
    std::sort(previewTimes.begin(), previewTimes.end());
    r.previewS = previewTimes[previewTimes.size() / 2];
    if (!o.noDecode) {
        t0 = Clock::now();
        m->decodeLatent(x.narrow(0, 0, 1), o.vaeTile);
        sync(device);
        r.decodeS = seconds(t0);
    }
    if (!o.taesd.empty()) { // the tiny autoencoder's decode of the same latent, median of 3
        auto dec = models::loadTinyAutoencoder(o.taesd, models::TinyAutoencoderHalf::Kind::Decoder);
        dec.to(at::TensorOptions().dtype(at::kFloat).device(device));
        std::vector<double> ts;
        for (int i = 0; i < 3; ++i) {
            auto tt = Clock::now();
            dec.forward(x.narrow(0, 0, 1).to(at::kFloat));
            sync(device);
            ts.push_back(seconds(tt));
        }
        std::sort(ts.begin(), ts.end());
        r.taesdS = ts[1];
    }
}

void report(const BenchRun& r)
{
    const BenchOptions& o = r.o;
    const at::Device device = r.device;
    const auto& m = r.m;
    const auto& x = r.x;
    const auto& fast = accel::settings();
    const double loadS = r.loadS, encodeS = r.encodeS, stepS = r.stepS, decodeS = r.decodeS, loadRss = r.loadRss;
    const auto& stepTimes = r.stepTimes;
    const int threads = r.threads;
    nlohmann::json j;
    j["model"] = o.random.empty() ? o.model : "random:" + o.random;
    j["size"] = o.size;
    j["batch"] = o.batch;
    j["steps_timed"] = o.steps;
    j["load_s"] = loadS;
    j["encode_s"] = encodeS;
    j["step_s"] = stepS;
    j["step_times_s"] = stepTimes;
    j["preview_s"] = r.previewS;
    j["preview_share"] = stepS > 0 ? r.previewS / stepS : 0.0;
    j["preview_setup_s"] = r.previewSetupS;
    j["decode_s"] = decodeS;
    if (!o.taesd.empty())
        j["taesd_decode_s"] = r.taesdS;
    j["total_s"] = loadS + encodeS + std::accumulate(stepTimes.begin(), stepTimes.end(), 0.0) + decodeS;
    j["peak_rss_mb"] = peakRssMb();
    j["load_peak_rss_mb"] = loadRss;
    j["rss_before_load_mb"] = r.rssBefore;
    j["peak_gpu_mb"] = accel::peakGpuReservedMb(device); // the caching allocator's peak reservation (0 on the CPU)
    j["peak_gpu_allocated_mb"] = accel::peakGpuAllocatedMb(device);
    j["it_per_s"] = stepS > 0 ? 1.0 / stepS : 0.0;
    j["attention"] = accel::name(fast.attention);
    j["attention_kernel"] = accel::useSdpa(x) ? "sdpa" : "chunked";
    j["cuda_graphs"]
        = device.is_cuda() && fast.cudaGraphs && accel::cudaExtrasCompiled() && m->unetGraphs->error().empty();
    j["cuda_graph_captures"] = m->unetGraphs->captures();
    j["cuda_graph_error"] = m->unetGraphs->error();
    j["channels_last"] = fast.channelsLast;
    j["libtorch"] = TORCH_VERSION;
    j["sdpa_compiled"] = accel::sdpaCompiled();
    j["cuda_extras_compiled"] = accel::cudaExtrasCompiled();
    if (o.variants)
        j["variants"] = r.variants;
    j["device"] = o.device;
    j["dtype"] = o.dtype;
    j["vae_tile"] = o.vaeTile;
    j["compute_dtype"] = std::string(c10::toString(m->computeType()));
    j["threads"] = threads;
    j["file_mb"] = static_cast<double>(fs::file_size(r.path)) / (1024.0 * 1024.0);
    if (o.json) {
        std::cout << j.dump() << std::endl;
    } else {
        std::printf("load %.2fs | encode %.3fs | step %.3fs (median of %d, batch %d, %s) | decode %.2fs | peak RSS "
                    "%.0f MB (after load %.0f MB) | %s %s, %d threads\n",
            loadS, encodeS, stepS, o.steps, o.batch, o.size.c_str(), decodeS, peakRssMb(), loadRss, o.device.c_str(),
            o.dtype.c_str(), threads);
    }
}

} // namespace

int runBench(const BenchOptions& o)
{
    torch::NoGradGuard noGrad;
    BenchRun r(o);
    setUp(r);
    load(r);
    encodeText(r);
    // Profiling slows every operator a little: the times printed with --profile are not the benchmark's numbers.
#ifdef LS_HAVE_LEGACY_PROFILER
    std::unique_ptr<torch::autograd::profiler::RecordProfile> profile;
    if (!o.profile.empty())
        profile = std::make_unique<torch::autograd::profiler::RecordProfile>(o.profile);
#else
    if (!o.profile.empty())
        fail(ErrorKind::Unsupported,
            "bench --profile: this libtorch has no legacy profiler (torch/csrc/autograd/profiler_legacy.h)");
#endif
    timeSteps(r);
    if (o.variants)
        timeVariants(r);
    timeDecodes(r);
#ifdef LS_HAVE_LEGACY_PROFILER
    profile.reset(); // writes the trace
#endif
    report(r);
    return 0;
}

} // namespace ls::tools

#include "models/RandomWeights.h"

#include "io/SafeTensors.h"
#include "models/KnownConfigs.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>

namespace ls::models {

namespace {
void fill(const std::string& k, at::Tensor& t, at::Generator& gen)
{
    if (t.scalar_type() == at::kLong) {
        t.copy_(at::arange(t.size(-1), t.options()).view(t.sizes()));
        return;
    }
    // Every 1-D weight is a norm's scale (GroupNorm `in_layers.0`, `out.0`, `norm1`, LayerNorm `ln_1`): one, as
    // initialised, so no block's output is zeroed (a zero `out.0` would make the whole UNet output zero and leave
    // nothing to compare in `bench --variants`). Biases and other 1-D tensors: zero.
    const bool weight = k.size() > 7 && k.compare(k.size() - 7, 7, ".weight") == 0;
    const bool norm = weight && t.dim() == 1;
    if (norm || (k.find("ln_") != std::string::npos && t.dim() <= 1))
        t.fill_(k.compare(k.size() - 5, 5, ".bias") == 0 ? 0.0 : 1.0);
    else if (t.dim() <= 1)
        t.zero_();
    else
        t.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(t.numel() / t.size(0))), gen);
}
} // namespace

void randomizeWeights(LatentModel& m, uint64_t seed)
{
    torch::NoGradGuard noGrad;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    m.forEachTensor([&](const std::string& k, at::Tensor& t) {
        if (t.device().is_cpu()) {
            fill(k, t, gen);
        } else {
            auto c = at::empty(t.sizes(), t.options().device(at::kCPU));
            fill(k, c, gen);
            t.copy_(c);
        }
    });
}

void writeRandomCheckpoint(
    const std::string& name, const std::filesystem::path& out, at::ScalarType dtype, uint64_t seed)
{
    torch::NoGradGuard noGrad;
    auto cfg = knownConfig(name);
    auto m = LatentModel::build(cfg, at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    m->forEachTensor([&](const std::string& k, at::Tensor& meta) {
        auto t = at::empty(meta.sizes(), at::TensorOptions().dtype(meta.scalar_type()));
        fill(k, t, gen);
        tensors.emplace_back(k, t.is_floating_point() ? t.to(dtype) : t);
    });
    auto s = sampling::BetaSchedule::linear(cfg.linearStart, cfg.linearEnd, cfg.timesteps);
    tensors.emplace_back("betas", s.betas);
    tensors.emplace_back("alphas_cumprod", s.alphasCumprod);
    tensors.emplace_back("alphas_cumprod_prev", s.alphasCumprodPrev);
    io::writeSafeTensors(out, tensors, { { "format", "pt" }, { "latent_studio", "random weights: " + name } });
}

} // namespace ls::models

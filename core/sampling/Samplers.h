#pragma once
// The samplers of the original code, as free functions over a guided model. DDIM and PLMS follow
// CompVis ldm/models/diffusion/{ddim,plms}.py; Euler, Euler ancestral, Heun and DPM++ 2M follow
// crowsonkb/k-diffusion sampling.py with CompVisDenoiser. Random numbers come from outside (NoiseFn) so a seed gives
// the same picture on any device and golden trajectories can be replayed.
#include "sampling/Schedule.h"

#include <functional>
#include <optional>

namespace ls::sampling {

// Guided noise prediction eps(x_t, t) for the model input x_t at (possibly fractional) timestep t, where acp is the
// alphas_cumprod at t (used to turn v-predictions into eps).
using EpsFn = std::function<at::Tensor(const at::Tensor& xT, const at::Tensor& t, double acp)>;
// Noise for step i (standard normal, shape of x).
using NoiseFn = std::function<at::Tensor(int64_t step, const at::Tensor& like)>;
// Called after each step with the step index, the new x and the predicted clean latent. Returning false stops.
using StepFn = std::function<bool(int64_t step, int64_t total, const at::Tensor& x, const at::Tensor& x0)>;
// Called before each DDIM step with the latent; may return a replacement (masked inpainting blend).
using PreStepFn = std::function<at::Tensor(int64_t step, int64_t timestep, const at::Tensor& x)>;

struct DdimOptions {
    double eta = 0.0;
    NoiseFn noise; // needed when eta > 0
    PreStepFn preStep; // optional
    StepFn onStep; // optional
};

// Runs DDIM from x over params.timesteps in reverse (index len-1 .. 0).
at::Tensor sampleDdim(const EpsFn& eps, at::Tensor x, const DdimParams& params, const DdimOptions& options);
// PLMS (eta must be 0): pseudo improved Euler first step, then Adams-Bashforth combinations of past eps.
at::Tensor samplePlms(const EpsFn& eps, at::Tensor x, const DdimParams& params, const DdimOptions& options);

// k-diffusion: denoised(x, sigma) = x - sigma * eps(x / sqrt(sigma^2 + 1), sigma_to_t(sigma)).
class KDenoiser {
public:
    KDenoiser(EpsFn eps, const SigmaSchedule& schedule)
        : m_eps(std::move(eps))
        , m_schedule(schedule)
    {
    }
    // sgm's DiscreteDenoiser (the SDXL reference): sigma quantized to the nearest of the table's sigmas, the UNet fed
    // that integer index, instead of k-diffusion's interpolated fractional timestep.
    KDenoiser(EpsFn eps, const SigmaSchedule& schedule, const SgmDiscreteSchedule* discrete)
        : m_eps(std::move(eps))
        , m_schedule(schedule)
        , m_discrete(discrete)
    {
    }
    at::Tensor operator()(const at::Tensor& x, double sigma) const;
    const SigmaSchedule& schedule() const { return m_schedule; }

private:
    EpsFn m_eps;
    const SigmaSchedule& m_schedule;
    const SgmDiscreteSchedule* m_discrete = nullptr;
};

struct KOptions {
    NoiseFn noise; // ancestral / SDE samplers
    StepFn onStep; // gets the denoised estimate as x0
    double eta = 1.0;
    double sNoise = 1.0;
};

enum class KSampler {
    Euler,
    EulerAncestral,
    Heun,
    Dpmpp2M,
    Lms,
    Dpm2,
    Dpm2Ancestral,
    Dpmpp2SAncestral,
    DpmppSde,
    Dpmpp2MSde
};

// UniPC (Zhao et al. 2023), multistep, data prediction, B(h) = expm1(h) ("bh2"), lower orders for the first and
// last steps, no corrector after the final step; one model evaluation per step.
at::Tensor sampleUniPC(const KDenoiser& model, at::Tensor x, const at::Tensor& sigmas, int order, const StepFn& onStep);

// x starts as noise * sigmas[0]. sigmas ends with 0.
at::Tensor sampleK(
    KSampler kind, const KDenoiser& model, at::Tensor x, const at::Tensor& sigmas, const KOptions& options);

} // namespace ls::sampling

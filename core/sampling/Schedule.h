#pragma once
// Noise schedules of the original code: the LatentDiffusion linear beta schedule (float64 maths, float32 buffers),
// DDIM's uniform timestep subsets, and k-diffusion's sigma views of the same schedule (CompVisDenoiser).
#include <ATen/ATen.h>

#include <vector>

namespace ls::sampling {

struct BetaSchedule {
    at::Tensor betas64, alphasCumprod64; // float64 [T]
    at::Tensor betas, alphasCumprod, alphasCumprodPrev; // float32 model buffers
    // betas = linspace(sqrt(start), sqrt(end), T, float64)^2 ("linear" in ldm make_beta_schedule)
    static BetaSchedule linear(double start, double end, int64_t timesteps = 1000);
    // From stored float32 alphas_cumprod (a checkpoint's own buffer).
    static BetaSchedule fromAlphasCumprod(const at::Tensor& alphasCumprod);
    // Zero terminal SNR (Lin et al., "Common Diffusion Noise Schedules and Sample Steps are Flawed", 2024, Algorithm
    // 1): sqrt(alphas_cumprod) shifted so that the last step holds no signal and scaled so that the first is unchanged.
    // The last alphas_cumprod is kept at kTerminalAlphaCumprod instead of 0 so that sigma stays finite for the
    // k-diffusion samplers (as diffusers does); with v-prediction the model's output there is -x0 either way.
    static BetaSchedule rescaledZeroTerminalSnr(const BetaSchedule& s);
    static constexpr double kTerminalAlphaCumprod = 5.9604644775390625e-08; // 2^-24
    int64_t size() const { return alphasCumprod.size(0); }
    // True when the last step carries (almost) no signal: such models must start at t = T-1 ("trailing" steps).
    bool zeroTerminal() const;
};

// DDIM "uniform": c = T // S; arange(0, T, c) + 1. May hold more than S entries when S does not divide T (as the
// reference does).
std::vector<int64_t> ddimTimesteps(int64_t steps, int64_t timesteps = 1000);
// "trailing" (Lin et al.): T-1, T-1-T/S, ... rounded, ascending as ddimTimesteps; the first step of sampling is t =
// T-1.
std::vector<int64_t> trailingTimesteps(int64_t steps, int64_t timesteps = 1000);

struct DdimParams {
    std::vector<int64_t> timesteps;
    std::vector<double> alphas, alphasPrev, sigmas, sqrtOneMinusAlphas;
};
DdimParams ddimParams(const BetaSchedule& s, const std::vector<int64_t>& timesteps, double eta);

// k-diffusion DiscreteSchedule over a model's alphas_cumprod (float32 maths, as the reference).
class SigmaSchedule {
public:
    explicit SigmaSchedule(const at::Tensor& alphasCumprod32);
    const at::Tensor& sigmas() const { return m_sigmas; } // ascending [T]
    double sigmaMin() const;
    double sigmaMax() const;
    at::Tensor sigmaToT(const at::Tensor& sigma) const;
    at::Tensor tToSigma(const at::Tensor& t) const;
    // get_sigmas(n): linspace in t from T-1 to 0, plus a final 0.
    at::Tensor uniform(int64_t n) const;

private:
    at::Tensor m_sigmas, m_logSigmas;
};

at::Tensor karrasSigmas(int64_t n, double sigmaMin, double sigmaMax, double rho = 7.0); // + final 0

// sgm (Stability-AI/generative-models, the SDXL reference): DiscreteDenoiser's table and LegacyDDPMDiscretization.
class SgmDiscreteSchedule {
public:
    // sigmas = sqrt(float32((1 - acp) / acp)) from float64 alphas_cumprod, ascending (index = timestep).
    explicit SgmDiscreteSchedule(const BetaSchedule& s);
    const at::Tensor& sigmas() const { return m_sigmas; }
    // int(linspace(T-1, 0, n, endpoint=False)) ascending: for n = 10, 99, 199, ..., 999 (the smallest is T/n - 1).
    std::vector<int64_t> legacyTimesteps(int64_t n) const;
    // The sigmas of legacyTimesteps, descending, with a final 0 (n + 1 values).
    at::Tensor legacySigmas(int64_t n) const;
    // The nearest table index (first minimum of |sigma - sigmas|): the UNet's integer timestep.
    int64_t quantize(double sigma) const;

private:
    at::Tensor m_sigmas;
};
// Img2ImgDiscretizationWrapper: of n + 1 descending sigmas (final 0 included) keeps the last max(int(strength
// (n+1)),1).
at::Tensor img2imgSigmas(const at::Tensor& sigmas, double strength);
at::Tensor exponentialSigmas(int64_t n, double sigmaMin, double sigmaMax); // + final 0

} // namespace ls::sampling

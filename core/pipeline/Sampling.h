#pragma once
// Runs any named sampler and schedule over a guided model: the DDIM/PLMS family on the model's discrete timesteps,
// the k-diffusion family on sigmas (uniform in t, Karras, exponential, SGM uniform). Handles img2img starts and
// latent-blend inpainting for both families.
#include "sampling/Samplers.h"

#include <optional>

namespace ls::pipeline {

struct SamplingPlan {
    std::string sampler = "Euler a";
    std::string schedule = "Automatic";
    int steps = 20;
    double eta = 0.0; // DDIM
    double etaAncestral = 1.0; // ancestral and SDE samplers
};

struct LatentStart {
    at::Tensor initLatent; // scaled latent of the input image
    double strength = 1.0; // 1 = from pure noise
    // At strength 1, start from the forward process's own terminal state (the init's small remaining signal plus
    // noise) instead of pure noise. Schedules like SD's do not reach zero signal at T, and a model trained on them
    // reads the image's overall colour from that signal; the super-resolution job gives it the upsampled input here.
    bool terminalSignal = false;
};

struct LatentBlend {
    at::Tensor initLatent; // what to keep
    at::Tensor mask; // [B or 1, 1, h, w], 1 = generate, 0 = keep
};

// Number of UNet evaluations per step (for progress): 2 for Heun/DPM2/2S/SDE, else 1.
int evaluationsPerStep(const std::string& sampler);

// noise: unit Gaussian [B, C, h, w] (x_T before scaling); stepNoise: further unit noise, per step.
at::Tensor runSampling(const SamplingPlan& plan, const sampling::BetaSchedule& schedule, const sampling::EpsFn& eps,
    const at::Tensor& noise, const sampling::NoiseFn& stepNoise, const std::optional<LatentStart>& start,
    const std::optional<LatentBlend>& blend, const sampling::StepFn& onStep);

} // namespace ls::pipeline

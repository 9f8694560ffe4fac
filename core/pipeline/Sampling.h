#pragma once
// Runs any named sampler and schedule over a guided model: the DDIM/PLMS family on the model's discrete timesteps,
// the k-diffusion family on sigmas (uniform in t, Karras, exponential, SGM uniform). Handles img2img starts and
// latent-blend inpainting for both families.
#include "pipeline/SamplerNames.h"
#include "sampling/Samplers.h"

#include <optional>

namespace ls::pipeline {

struct SamplingPlan {
    Sampler sampler = Sampler::EulerA;
    Schedule schedule = Schedule::Automatic;
    int steps = 20;
    double eta = 0.0; // DDIM
    double etaAncestral = 1.0; // ancestral and SDE samplers
    // From the names a request carries (validated before; an unknown name is an error naming it).
    static SamplingPlan named(const std::string& sampler, const std::string& schedule, int steps, double eta = 0.0,
        double etaAncestral = 1.0);
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
    // Soft inpainting (differential diffusion, Levin & Fried 2023): the mask's grey levels are per-pixel strengths.
    // A pixel at m is kept (the known latent, noised to the step's level) for the first 1 - m of the steps and
    // generated for the last m: 1 behaves as the hard mask, 0 is kept throughout.
    bool soft = false;
    // The mask in force at `progress` (0 at the first step, 1 after the last).
    at::Tensor maskAt(double progress) const
    {
        if (!soft)
            return mask;
        return ((mask > 0) & (mask >= static_cast<float>(1.0 - progress) - 1e-6f)).to(mask.scalar_type());
    }
};

// noise: unit Gaussian [B, C, h, w] (x_T before scaling); stepNoise: further unit noise, per step.
at::Tensor runSampling(const SamplingPlan& plan, const sampling::BetaSchedule& schedule, const sampling::EpsFn& eps,
    const at::Tensor& noise, const sampling::NoiseFn& stepNoise, const std::optional<LatentStart>& start,
    const std::optional<LatentBlend>& blend, const sampling::StepFn& onStep);

} // namespace ls::pipeline

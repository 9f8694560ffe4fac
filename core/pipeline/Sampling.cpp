#include "pipeline/Sampling.h"

#include "util/Error.h"

#include <cmath>

namespace ls::pipeline {

using namespace ls::sampling;

SamplingPlan SamplingPlan::named(
    const std::string& sampler, const std::string& schedule, int steps, double eta, double etaAncestral)
{
    const auto s = findSampler(sampler);
    if (!s)
        fail(ErrorKind::InvalidInput, "sampler: unknown '" + sampler + "'");
    const auto sch = findSchedule(schedule);
    if (!sch)
        fail(ErrorKind::InvalidInput, "schedule: unknown '" + schedule + "'");
    return { *s, *sch, steps, eta, etaAncestral };
}

namespace {

at::Tensor sigmasFor(Schedule schedule, const SigmaSchedule& ks, int steps, bool karrasDefault, bool zeroTerminal)
{
    // Zero-terminal-SNR models start at sigma ~ 4096: Karras and exponential spacing would spend most steps where the
    // image is still pure noise, so "Automatic" is uniform in t there (Lin et al.'s "trailing").
    const Schedule s = schedule == Schedule::Automatic
        ? (karrasDefault && !zeroTerminal ? Schedule::Karras : Schedule::Uniform)
        : schedule;
    switch (s) {
    case Schedule::Karras:
        return karrasSigmas(steps, ks.sigmaMin(), ks.sigmaMax());
    case Schedule::Exponential:
        return exponentialSigmas(steps, ks.sigmaMin(), ks.sigmaMax());
    case Schedule::SgmUniform: {
        const double tMax = static_cast<double>(ks.sigmas().size(0) - 1);
        auto t = at::linspace(tMax, 0, steps + 1, at::TensorOptions().dtype(at::kFloat)).narrow(0, 0, steps);
        return at::cat({ ks.tToSigma(t), at::zeros({ 1 }) });
    }
    case Schedule::Automatic:
    case Schedule::Uniform:
        break;
    }
    return ks.uniform(steps);
}

KSampler kind(Sampler s)
{
    switch (s) {
    case Sampler::Euler:
        return KSampler::Euler;
    case Sampler::EulerA:
        return KSampler::EulerAncestral;
    case Sampler::Heun:
        return KSampler::Heun;
    case Sampler::Lms:
        return KSampler::Lms;
    case Sampler::Dpm2:
        return KSampler::Dpm2;
    case Sampler::Dpm2A:
        return KSampler::Dpm2Ancestral;
    case Sampler::Dpmpp2SA:
        return KSampler::Dpmpp2SAncestral;
    case Sampler::Dpmpp2M:
        return KSampler::Dpmpp2M;
    case Sampler::DpmppSde:
        return KSampler::DpmppSde;
    case Sampler::Dpmpp2MSde:
        return KSampler::Dpmpp2MSde;
    default:
        break;
    }
    fail(ErrorKind::InvalidInput, "sampler: " + samplerSpec(s).name + " is not a k-diffusion sampler");
}

// The DDIM/PLMS family on the model's discrete timesteps.
at::Tensor runDdimFamily(const SamplingPlan& plan, const BetaSchedule& schedule, const EpsFn& eps,
    const at::Tensor& noise, const NoiseFn& stepNoise, const std::optional<LatentStart>& start,
    const std::optional<LatentBlend>& blend, const StepFn& onStep)
{
    const int steps = plan.steps;
    const double strength = start ? std::clamp(start->strength, 0.0, 1.0) : 1.0;
    // The reference's arange(0, T, T // S) + 1 gives more than S steps when S does not divide T; users asked for S.
    // Zero-terminal-SNR models: "trailing" steps, so that sampling starts at t = T-1 where the start is pure noise.
    std::vector<int64_t> ts
        = schedule.zeroTerminal() ? trailingTimesteps(steps, schedule.size()) : ddimTimesteps(steps, schedule.size());
    if (static_cast<int64_t>(ts.size()) != steps) {
        ts.clear();
        for (int i = 0; i < steps; ++i)
            ts.push_back(1
                + static_cast<int64_t>(
                    std::llround(static_cast<double>(i) * (schedule.size() - 2) / std::max(1, steps - 1))));
    }
    auto p = ddimParams(schedule, ts, plan.sampler == Sampler::Plms ? 0.0 : plan.eta);
    at::Tensor x = noise;
    if (start && strength >= 1.0 && start->terminalSignal) {
        const size_t last = p.alphas.size() - 1;
        x = std::sqrt(static_cast<float>(p.alphas[last])) * start->initLatent
            + static_cast<float>(p.sqrtOneMinusAlphas[last]) * noise;
    } else if (start && strength < 1.0) {
        const int64_t tEnc = static_cast<int64_t>(strength * static_cast<double>(p.timesteps.size()));
        if (tEnc <= 0)
            return start->initLatent;
        x = std::sqrt(static_cast<float>(p.alphas[tEnc])) * start->initLatent
            + static_cast<float>(p.sqrtOneMinusAlphas[tEnc]) * noise;
        for (auto* v : { &p.alphas, &p.alphasPrev, &p.sigmas, &p.sqrtOneMinusAlphas })
            v->resize(tEnc);
        p.timesteps.resize(tEnc);
    }
    DdimOptions o;
    o.eta = plan.eta;
    o.noise = stepNoise;
    o.onStep = onStep;
    if (blend) {
        auto acp = schedule.alphasCumprod;
        const double n = static_cast<double>(p.timesteps.size());
        o.preStep = [&, acp, n](int64_t i, int64_t t, const at::Tensor& xi) {
            const float a = acp[std::min<int64_t>(t, acp.size(0) - 1)].item<float>();
            auto q = std::sqrt(a) * blend->initLatent + std::sqrt(1.0f - a) * stepNoise(1000 + i, xi);
            const auto m = blend->maskAt(static_cast<double>(i) / n);
            return q * (1 - m) + m * xi;
        };
    }
    x = plan.sampler == Sampler::Ddim ? sampleDdim(eps, x, p, o) : samplePlms(eps, x, p, o);
    if (blend) {
        const auto m = blend->maskAt(1.0);
        x = blend->initLatent * (1 - m) + m * x;
    }
    return x;
}

// The k-diffusion family on sigmas (and LCM, UniPC), with img2img starts and latent-blend inpainting.
at::Tensor runKFamily(const SamplingPlan& plan, const BetaSchedule& schedule, const EpsFn& eps, const at::Tensor& noise,
    const NoiseFn& stepNoise, const std::optional<LatentStart>& start, const std::optional<LatentBlend>& blend,
    const StepFn& onStep)
{
    const int steps = plan.steps;
    const double strength = start ? std::clamp(start->strength, 0.0, 1.0) : 1.0;
    SigmaSchedule ks(schedule.alphasCumprod);
    const bool karrasDefault = samplerSpec(plan.sampler).karrasByDefault;
    at::Tensor sigmas = sigmasFor(plan.schedule, ks, steps, karrasDefault, schedule.zeroTerminal());
    at::Tensor x;
    if (start && strength < 1.0) {
        const int64_t tEnc = static_cast<int64_t>(strength * steps);
        if (tEnc <= 0)
            return start->initLatent;
        sigmas = sigmas.narrow(0, steps - tEnc, tEnc + 1).contiguous();
    }
    if (start && (strength < 1.0 || start->terminalSignal))
        x = start->initLatent + noise * sigmas[0].item<float>();
    else
        x = noise * sigmas[0].item<float>();
    KDenoiser plain(eps, ks);
    KOptions o;
    o.noise = stepNoise;
    o.onStep = onStep;
    o.eta = plan.etaAncestral;
    if (plan.sampler == Sampler::Lcm) {
        const int64_t n = sigmas.size(0) - 1;
        for (int64_t i = 0; i < n; ++i) {
            const double s = sigmas[i].item<float>(), next = sigmas[i + 1].item<float>();
            auto den = plain(x, s);
            if (blend) {
                const auto m = blend->maskAt(static_cast<double>(i) / static_cast<double>(n));
                den = blend->initLatent * (1 - m) + m * den;
            }
            x = den;
            if (next > 0)
                x = x + stepNoise(i, x) * static_cast<float>(next);
            if (onStep && !onStep(i, n, x, den))
                break;
        }
        return x;
    }
    if (plan.sampler == Sampler::UniPC && !blend)
        return sampleUniPC(plain, x, sigmas, 3, onStep);
    if (!blend)
        return sampleK(kind(plan.sampler), plain, x, sigmas, o);
    // Latent-blend inpainting in k-diffusion: keep the known part of the denoised prediction (A1111 CFGDenoiser).
    std::vector<double> sigmaList; // soft inpainting: the step a model call belongs to, from its sigma
    for (int64_t k = 0; k < sigmas.size(0); ++k)
        sigmaList.push_back(sigmas[k].item<double>());
    EpsFn blendedEps = [&](const at::Tensor& xIn, const at::Tensor& t, double acp) {
        // Express the blend on eps: denoised' = x - sigma*eps' must equal init*(1-m) + m*denoised.
        auto e = eps(xIn, t, acp);
        const double sigma = std::sqrt((1.0 - acp) / acp);
        auto xs = xIn / static_cast<float>(std::sqrt(acp)); // back to the k-diffusion x
        auto denoised = xs - static_cast<float>(sigma) * e;
        size_t step = 0;
        while (step + 2 < sigmaList.size() && sigmaList[step + 1] >= sigma * (1 - 1e-6))
            ++step;
        const auto m = blend->maskAt(static_cast<double>(step) / static_cast<double>(sigmaList.size() - 1));
        auto kept = blend->initLatent * (1 - m) + m * denoised;
        return (xs - kept) / static_cast<float>(sigma);
    };
    KDenoiser blended(blendedEps, ks);
    x = plan.sampler == Sampler::UniPC ? sampleUniPC(blended, x, sigmas, 3, onStep)
                                       : sampleK(kind(plan.sampler), blended, x, sigmas, o);
    const auto m = blend->maskAt(1.0);
    return blend->initLatent * (1 - m) + m * x;
}

} // namespace

at::Tensor runSampling(const SamplingPlan& plan, const BetaSchedule& schedule, const EpsFn& eps,
    const at::Tensor& noise, const NoiseFn& stepNoise, const std::optional<LatentStart>& start,
    const std::optional<LatentBlend>& blend, const StepFn& onStep)
{
    if (plan.sampler == Sampler::Ddim || plan.sampler == Sampler::Plms)
        return runDdimFamily(plan, schedule, eps, noise, stepNoise, start, blend, onStep);
    return runKFamily(plan, schedule, eps, noise, stepNoise, start, blend, onStep);
}

} // namespace ls::pipeline

// The upscaling job: LDM-SR 4x, the SD x4 upscaler (prompted, noise-augmented) and the bundled SR model, tile by
// tile with one noise field for the whole picture and linear ramps across the overlaps; Lanczos without a model.
#include "pipeline/jobs/Jobs.h"

#include "pipeline/Conditioning.h"
#include "pipeline/ImageOps.h"
#include "pipeline/Sampling.h"

#include <cmath>

namespace ls::pipeline::detail {

using models::Family;

void runUpscale(GeneratorState& d, const GenerationRequest& r, const StepCallback& onStep, const StopToken& stop,
    Clock::time_point t0, ResultWriter& out)
{
    const Image lr = toRgb(r.initImage);
    if (!d.model) {
        out.add(resizeLanczos(lr, lr.width * r.upscaleFactor, lr.height * r.upscaleFactor), r.seed);
        return;
    }
    auto& m = *d.model;
    const bool x4 = d.upscaleMethod() == UpscaleMethod::SdX4;
    const int f = static_cast<int>(m.config.firstStage.downFactor()); // 4: latent size = low-res size
    const int mult = (1 << (m.config.unet.channelMult.size() - 1));
    at::Tensor cond, uncond;
    std::unique_ptr<Conditioner> cd;
    if (x4) {
        cd = std::make_unique<Conditioner>(m, d.tokenizer, &d.embeddingTokens);
        cond = cd->encodePrompt(r.prompt, r.clipSkip);
        uncond = cd->encodePrompt(r.negativePrompt, r.clipSkip);
        cd->matchLengths(cond, uncond, r.clipSkip);
    }
    const int tile
        = std::min({ r.tileSize, lr.width, lr.height }) < r.tileSize ? std::max(lr.width, lr.height) : r.tileSize;
    const int overlap = r.tileOverlap;
    const auto xs = models::tileStarts(lr.width, tile, overlap), ys = models::tileStarts(lr.height, tile, overlap);
    const int tiles = static_cast<int>(xs.size() * ys.size());
    const int outW = lr.width * f, outH = lr.height * f;
    auto acc = at::zeros({ 1, 3, outH, outW });
    auto wsum = at::zeros({ 1, 1, outH, outW });
    auto lrT = imageToTensor(lr);
    float augSignal = 1.0f, augNoise = 0.0f; // SD x4: noise augmentation of the low-res image, its own schedule
    if (x4) {
        auto low = sampling::BetaSchedule::linear(m.config.lowScaleStart, m.config.lowScaleEnd, 1000);
        augSignal = static_cast<float>(std::sqrt(low.alphasCumprod64[r.noiseLevel].item<double>()));
        augNoise = static_cast<float>(std::sqrt(1 - low.alphasCumprod64[r.noiseLevel].item<double>()));
    }
    NoiseSource noise(r.seed, 1);
    // One noise field for the whole image, so overlapping tiles start from the same noise.
    auto fullNoise = noise.draw(
        { m.config.firstStage.embedDim, roundUp(lr.height, mult), roundUp(lr.width, mult) }, at::TensorOptions());
    int tileIndex = 0;
    for (const int ty : ys) {
        for (const int tx : xs) {
            ++tileIndex;
            const int tw = std::min(tile, lr.width), th = std::min(tile, lr.height);
            const int pw = roundUp(tw, mult), ph = roundUp(th, mult);
            auto crop = lrT.narrow(2, ty, th).narrow(3, tx, tw);
            crop = at::replication_pad2d(crop, { 0, pw - tw, 0, ph - th });
            at::Tensor concat, labels;
            if (x4) {
                concat = augSignal * crop + augNoise * noise.draw({ 3, ph, pw }, at::TensorOptions());
                labels = at::full({ 1 }, r.noiseLevel, at::TensorOptions().dtype(at::kLong));
            } else {
                concat = crop;
            }
            JobCondition condition;
            condition.cond = x4 ? cond : at::Tensor();
            condition.uncond = uncond;
            auto eps = d.guidedEps(stop, condition, x4 ? r.cfgScale : 1.0, concat, labels);
            const auto plan = SamplingPlan::named(r.sampler, r.schedule, r.steps, r.eta, r.etaAncestral);
            auto start = fullNoise.narrow(2, ty, std::min(ph, static_cast<int>(fullNoise.size(2)) - ty))
                             .narrow(3, tx, std::min(pw, static_cast<int>(fullNoise.size(3)) - tx));
            if (start.size(2) != ph || start.size(3) != pw)
                start = noise.draw({ m.config.firstStage.embedDim, ph, pw }, at::TensorOptions());
            std::optional<LatentStart> from;
            if (m.config.family == Family::SyntheticSR) {
                // The bundled SR model: start from the terminal state of the bicubic-upsampled tile (see LatentStart).
                auto up = at::upsample_bicubic2d(crop, { ph * f, pw * f }, false).clamp(-1, 1);
                from = LatentStart { m.encodeImage(up).to(at::kCPU, at::kFloat), r.strength, true };
            }
            auto latent = runSampling(
                plan, m.schedule, eps, start,
                [&](int64_t, const at::Tensor& like) { return noise.draw(like.sizes().slice(1), at::TensorOptions()); },
                from, std::nullopt, d.stepReporter(r, onStep, t0, tileIndex, tiles));
            stop.check();
            auto img = m.decodeLatent(latent).to(at::kCPU, at::kFloat).narrow(2, 0, th * f).narrow(3, 0, tw * f);
            // Linear ramps in the overlap so seams blend.
            const bool top = ty > 0, bottom = ty + th<lr.height, left = tx> 0, right = tx + tw < lr.width;
            auto w = seamWeights(th * f, tw * f, overlap * f, top, bottom, left, right);
            acc.narrow(2, ty * f, th * f).narrow(3, tx * f, tw * f).add_(img * w);
            wsum.narrow(2, ty * f, th * f).narrow(3, tx * f, tw * f).add_(w);
        }
    }
    out.add(tensorToImage(acc / wsum.clamp_min(1e-6)), r.seed);
}

} // namespace ls::pipeline::detail

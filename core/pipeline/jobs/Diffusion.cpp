// The diffusion jobs: text-to-image, image-to-image, inpainting (a 9-channel inpainting model's extra input, or
// latent blending on any model; whole picture or only masked) and layout-to-image. Like a diffusers pipeline's
// __call__, in numbered steps.
#include "pipeline/jobs/Jobs.h"

#include "pipeline/ImageOps.h"
#include "pipeline/Sampling.h"

#include <cmath>

namespace ls::pipeline::detail {

namespace {

// AUTOMATIC1111's refiner: the first model predicts until (T-1 - t) / T >= refinerSwitchAt for the timestep t of the
// step (the nearest table index), the refiner from then on, with its own condition.
sampling::EpsFn withRefiner(GeneratorState& d, const GenerationRequest& r, const StopToken& stop, sampling::EpsFn base,
    const JobCondition& refinerCondition, at::Tensor concat, std::shared_ptr<models::LatentModel> refiner)
{
    if (concat.defined() && refiner->config.unet.inChannels == refiner->config.unet.outChannels)
        concat = at::Tensor(); // a plain refiner after an inpainting model: latent blending keeps the rest
    auto refined = d.guidedEps(stop, refinerCondition, r.cfgScale, concat, {}, refiner);
    const double last = static_cast<double>(d.model->schedule.size() - 1);
    const double switchAt = r.refinerSwitchAt;
    auto switched = std::make_shared<bool>(false);
    return [base, refined, last, switchAt, switched](const at::Tensor& x, const at::Tensor& t, double acp) {
        if (!*switched && (last - std::round(t.max().item<double>())) / (last + 1) >= switchAt)
            *switched = true;
        return (*switched ? refined : base)(x, t, acp);
    };
}

} // namespace

void runDiffusion(GeneratorState& d, const GenerationRequest& r, const StepCallback& onStep, const StopToken& stop,
    Clock::time_point t0, ResultWriter& out)
{
    auto& m = *d.model;
    const int mult = d.pixelMultiple();
    const int f = static_cast<int>(m.config.firstStage.downFactor());
    const int64_t latentC = m.config.unet.outChannels;

    // 1. Where the job paints: the input, the masks, the only-masked rectangle
    const JobGeometry geometry = jobGeometry(r);
    const auto& [init, maskFull, compositeMask, region, workW, workH] = geometry;
    const int genW = roundUp(workW, mult), genH = roundUp(workH, mult);
    const int64_t lh = genH / f, lw = genW / f;

    // 2. The condition (per text-encoder family; regional guidance for layout boxes on text models)
    JobCondition condition = conditionFor(d, r, genW, genH, f, lh, lw);

    // 3. Noise, and where sampling starts: the input's latent (img2img, inpaint), the masks, an inpainting model's
    // extra input
    NoiseSource noise(r.seed, r.batch);
    const auto lat = at::TensorOptions().dtype(at::kFloat);
    auto xT = noise.draw({ latentC, lh, lw }, lat);
    sampling::NoiseFn stepNoise
        = [&](int64_t, const at::Tensor& like) { return noise.draw(like.sizes().slice(1), lat); };

    std::optional<LatentStart> start;
    std::optional<LatentBlend> blend;
    at::Tensor concat;
    Image work; // the image the model sees (inpaint: maybe the crop)
    at::Tensor workMask;
    if (r.mode == JobMode::Img2Img || r.mode == JobMode::Inpaint) {
        if (r.mode == JobMode::Inpaint && r.onlyMasked) {
            const Image crop = cropImage(init, region[0], region[1], region[2] - region[0], region[3] - region[1]);
            work = resizeLanczos(crop, genW, genH);
            auto mcrop = maskFull.narrow(2, region[1], crop.height).narrow(3, region[0], crop.width);
            workMask = at::upsample_bilinear2d(mcrop, { genH, genW }, false).clamp(0, 1);
            if (!r.softInpainting)
                workMask = (workMask > 0.0).to(at::kFloat);
        } else {
            work = init;
            if (genW != init.width || genH != init.height) {
                // Pad to the model's multiple by edge replication; cropped back after decoding.
                auto t = imageToTensor(init);
                t = at::replication_pad2d(t, { 0, genW - init.width, 0, genH - init.height });
                work = tensorToImage(t);
            }
            if (r.mode == JobMode::Inpaint)
                workMask = at::constant_pad_nd(maskFull, { 0, genW - init.width, 0, genH - init.height }, 0);
        }
        if (r.mode == JobMode::Inpaint && r.maskedContent == "fill")
            work = tensorToImage(fillMasked(imageToTensor(work), workMask));
        auto encNoise = noise.draw({ m.config.firstStage.embedDim, lh, lw }, lat);
        auto initLatent
            = m.encodeImage(imageToTensor(work).repeat({ r.batch, 1, 1, 1 }), encNoise).to(at::kCPU, at::kFloat);
        if (r.mode == JobMode::Inpaint) {
            auto latentMask = at::max_pool2d(workMask, { f, f }); // any repainted pixel -> repaint the latent
            // A1111's "latent noise" (the sampling noise of the seed, as its create_random_tensors gives) and
            // "latent nothing" in the repainted latent
            if (r.maskedContent == "latent noise")
                initLatent = initLatent * (1 - latentMask) + xT * latentMask;
            else if (r.maskedContent == "latent nothing")
                initLatent = initLatent * (1 - latentMask);
            if (d.inpaintModel()) {
                auto masked = imageToTensor(work) * (workMask < 0.5).to(at::kFloat);
                auto maskedLatent
                    = m.encodeImage(masked.repeat({ r.batch, 1, 1, 1 }), encNoise).to(at::kCPU, at::kFloat);
                concat = at::cat(
                    { at::upsample_nearest2d(workMask, { lh, lw }).repeat({ r.batch, 1, 1, 1 }), maskedLatent }, 1);
                start = LatentStart { initLatent, r.strength };
                if (r.softInpainting) // the grey levels as strengths on the inpainting model too
                    blend = LatentBlend { initLatent, latentMask, true };
            } else {
                blend = LatentBlend { initLatent, latentMask, r.softInpainting };
                start = LatentStart { initLatent, r.strength };
            }
        } else {
            start = LatentStart { initLatent, r.strength };
        }
    } else if (d.inpaintModel()) {
        // An inpainting model asked for plain generation: everything is "masked".
        auto zeros = m.encodeImage(at::zeros({ r.batch, 3, genH, genW })).to(at::kCPU, at::kFloat);
        concat = at::cat({ at::ones({ r.batch, 1, lh, lw }), zeros }, 1);
    }

    // 4. ControlNets (their hints from the control images or from what the job paints), then sampling
    attachControls(d, r, condition, lh, lw, work.empty() ? nullptr : &work, workMask.defined() ? &workMask : nullptr);
    auto eps = d.guidedEps(stop, condition, r.cfgScale, concat);
    if (!r.refinerModel.empty()) {
        auto refiner = d.refinerFor(r.refinerModel);
        eps = withRefiner(d, r, stop, eps, conditionFor(d, r, genW, genH, f, lh, lw, refiner.get()), concat, refiner);
    }
    const auto plan = SamplingPlan::named(r.sampler, r.schedule, r.steps, r.eta, r.etaAncestral);
    auto latent = runSampling(plan, m.schedule, eps, xT, stepNoise, start, blend, d.stepReporter(r, onStep, t0, 1, 1));

    // 5. Decoding, pasting back into the input, metadata
    for (int i = 0; i < r.batch; ++i) {
        stop.check();
        const Image img = pasteBack(d.decodeResult(latent, i, r), r, geometry);
        out.add(img, r.seed + i);
    }
}

} // namespace ls::pipeline::detail

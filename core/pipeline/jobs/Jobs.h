#pragma once
// The jobs Generator runs, one file each (core/pipeline/jobs): diffusion (txt2img, img2img, inpaint, layout),
// upscaling, and the hires pass as a composition of two (Hires.cpp); with the parts they share: where a job paints
// (InpaintGeometry.h), its condition (Conditions.cpp), the results' metadata (Metadata.h).
#include "pipeline/jobs/InpaintGeometry.h"
#include "pipeline/jobs/JobContext.h"
#include "pipeline/jobs/Metadata.h"

namespace ls::pipeline::detail {

// What the denoiser is guided by, for one job.
struct JobCondition {
    at::Tensor cond, uncond;
    int condCount = 1; // regional guidance: the global prompt, then one per box
    std::function<at::Tensor(const at::Tensor&)> combine; // [condCount, B, C, h, w] -> [B, C, h, w]
    LayoutChannels layout;
    // SDXL's vector condition (pooled text and micro-conditions): [condCount, adm] and [1, adm].
    at::Tensor condVector, uncondVector;
    // ControlNet residuals for one guided UNet call: (xin, t, context, y (SDXL's vectors), rows of the unconditional
    // copy at the top, timestep of the step) -> residuals, or none while no ControlNet acts at this step.
    std::function<std::vector<at::Tensor>(
        const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t, double)>
        control;
};

// The request's ControlNets ready for a job whose latent is lh x lw: each file read once (cached in
// d), its hint prepared (resized, preprocessed), combined into JobCondition::control. work/workMask: the job's input
// and mask at the painted size (inpaint and tile hints).
void attachControls(GeneratorState& d, const GenerationRequest& r, JobCondition& c, int64_t lh, int64_t lw,
    const Image* work, const at::Tensor* workMask);
// genW x genH: the painted size (the model's multiple); f: the autoencoder's factor; lh x lw: the latent size.
// on: the model to condition (the refiner), else d.model.
JobCondition conditionFor(GeneratorState& d, const GenerationRequest& r, int genW, int genH, int f, int64_t lh,
    int64_t lw, models::LatentModel* on = nullptr);

// Each job adds its pictures to `out`. r is ready to run: validated, seed chosen, LoRA tags out of its prompts.
void runDiffusion(GeneratorState& d, const GenerationRequest& r, const StepCallback& onStep, const StopToken& stop,
    Clock::time_point t0, ResultWriter& out);
void runUpscale(GeneratorState& d, const GenerationRequest& r, const StepCallback& onStep, const StopToken& stop,
    Clock::time_point t0, ResultWriter& out);
// Upscale with a text-to-image model: Lanczos, then image-to-image tile by tile (TiledUpscale.cpp).
void runTiledUpscale(GeneratorState& d, const GenerationRequest& r, const StepCallback& onStep, const StopToken& stop,
    Clock::time_point t0, ResultWriter& out);

} // namespace ls::pipeline::detail

// The hires pass as AUTOMATIC1111 composes it: the text-to-image picture, Lanczos-enlarged (to cover and cut the
// middle for a "Hires resize" of another ratio), repainted by image-to-image at the larger size with the same seed,
// optionally with its own sampler, prompts and CFG; one progress count over both passes.
#include "pipeline/Generator.h"
#include "pipeline/ImageOps.h"
#include "pipeline/jobs/JobContext.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace ls::pipeline {

using detail::Clock;

GenerationResult Generator::runHires(const GenerationRequest& r0, const StepCallback& onStep, const StopToken& stop)
{
    const auto t0 = Clock::now();
    GenerationRequest base = r0;
    base.hiresScale = 1.0;
    if (base.seed < 0)
        base.seed = static_cast<int64_t>(std::random_device {}() & 0xFFFFFFFFu);
    base.hiresWidth = base.hiresHeight = 0;
    const auto [w2, h2] = r0.hiresSize();
    // AUTOMATIC1111's "Hires resize" with both sides: enlarge to cover (keeping the ratio), then cut the middle
    int coverW = w2, coverH = h2;
    if (r0.hiresWidth > 0 && r0.hiresHeight > 0) {
        if (static_cast<double>(r0.width) / r0.height < static_cast<double>(r0.hiresWidth) / r0.hiresHeight)
            coverH = r0.hiresWidth * r0.height / r0.width;
        else
            coverW = r0.hiresHeight * r0.width / r0.height;
    }
    // Progress runs over both passes: the first pass's steps (the whole batch at once), then each image's second pass.
    const int hiresSteps = r0.hiresSteps > 0 ? r0.hiresSteps : r0.steps;
    int firstTotal = r0.steps, done = 0;
    int secondTotal = std::max(1, static_cast<int>(std::lround(hiresSteps * r0.hiresStrength))); // until the pass says
    auto report = [&](const StepInfo& s, bool second) {
        if (!onStep)
            return;
        StepInfo t = s;
        if (second)
            secondTotal = s.total;
        else
            firstTotal = s.total;
        t.step = second ? firstTotal + done + s.step : s.step;
        t.total = firstTotal + secondTotal * std::max(1, r0.batch);
        onStep(t);
    };
    const GenerationResult first = runChecked(
        base, [&](const StepInfo& s) { report(s, false); }, stop);
    GenerationResult out;
    for (size_t i = 0; i < first.images.size(); ++i) {
        GenerationRequest hr = r0;
        hr.mode = JobMode::Img2Img;
        hr.hiresScale = 1.0;
        hr.hiresWidth = hr.hiresHeight = 0;
        hr.initImage = resizeLanczos(toRgb(first.images[i]), coverW, coverH);
        if (coverW != w2 || coverH != h2) // as A1111 trims the latent: whole latent pixels off each side
            hr.initImage = cropImage(hr.initImage, (coverW - w2) / 8 / 2 * 8, (coverH - h2) / 8 / 2 * 8, w2, h2);
        if (!r0.hiresSampler.empty())
            hr.sampler = r0.hiresSampler;
        if (!r0.hiresPrompt.empty())
            hr.prompt = r0.hiresPrompt;
        if (!r0.hiresNegativePrompt.empty())
            hr.negativePrompt = r0.hiresNegativePrompt;
        if (r0.hiresCfgScale > 0)
            hr.cfgScale = r0.hiresCfgScale;
        hr.width = w2;
        hr.height = h2;
        hr.strength = r0.hiresStrength;
        hr.steps = hiresSteps;
        hr.seed = first.seeds[i];
        hr.batch = 1;
        // The metadata records the text-to-image request with its hires settings (the seed is the image's).
        const GenerationResult second = runChecked(
            hr, [&](const StepInfo& s) { report(s, true); }, stop, &r0);
        done += secondTotal;
        out.images.push_back(second.images.front());
        out.seeds.push_back(first.seeds[i]);
        out.metadata.push_back(second.metadata.front());
        for (const auto& w : second.warnings) // the passes share most warnings: each once
            if (std::find(out.warnings.begin(), out.warnings.end(), w) == out.warnings.end()
                && std::find(first.warnings.begin(), first.warnings.end(), w) == first.warnings.end())
                out.warnings.push_back(w);
        if (i == 0)
            out.loras = second.loras;
    }
    out.warnings.insert(out.warnings.begin(), first.warnings.begin(), first.warnings.end());
    out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return out;
}

} // namespace ls::pipeline

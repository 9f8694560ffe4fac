// Conditioning per text-encoder family: the layout2img model's box tokens (BERT), the bundled model's world tokens and
// layout channels, and CLIP/OpenCLIP prompts (SD1/SD2) with regional guidance for layout boxes (one prediction per
// box prompt, blended by soft box masks over the global one).
#include "pipeline/jobs/Jobs.h"

#include "models/sdxl/SdxlConditioning.h"
#include "pipeline/Conditioning.h"
#include "text/LayoutTokens.h"
#include "text/WorldLayout.h"

#include <algorithm>
#include <cmath>

namespace ls::pipeline::detail {

using models::Family;

namespace {

// Where a job's condition is built: the request at the painted size (genW x genH, the autoencoder's factor f, the
// latent lh x lw), the model to condition (the refiner or the loaded one).
struct ConditionSite {
    GeneratorState& d;
    const GenerationRequest& r;
    int genW, genH, f;
    int64_t lh, lw;
    models::LatentModel& m;
    bool refiner;
};

// Regional guidance: one noise prediction per box prompt, blended by soft box masks over the global one.
void regionalGuidance(const ConditionSite& s, Conditioner& cd, std::vector<at::Tensor>& pooled, JobCondition& c)
{
    const GenerationRequest& r = s.r;
    const int genW = s.genW, genH = s.genH, f = s.f;
    auto& cond = c.cond;
    auto& uncond = c.uncond;
    auto& condCount = c.condCount;
    auto& combine = c.combine;
    std::vector<at::Tensor> conds { cond };
    std::vector<at::Tensor> masks;
    for (const auto& b : r.boxes) {
        conds.push_back(cd.encodePrompt(b.prompt.empty() ? b.label : b.prompt, r.clipSkip));
        pooled.push_back(cd.pooled());
        auto mk = at::zeros({ 1, 1, genH, genW });
        const int x0 = std::clamp(static_cast<int>(std::round(b.x)), 0, genW),
                  y0 = std::clamp(static_cast<int>(std::round(b.y)), 0, genH);
        const int x1 = std::clamp(static_cast<int>(std::round(b.x + b.w)), 0, genW),
                  y1 = std::clamp(static_cast<int>(std::round(b.y + b.h)), 0, genH);
        if (x1 > x0 && y1 > y0)
            mk.narrow(2, y0, y1 - y0).narrow(3, x0, x1 - x0).fill_(1.0);
        masks.push_back(at::avg_pool2d(mk, { f, f }));
    }
    size_t longest = 0;
    for (auto& c : conds)
        longest = std::max<size_t>(longest, static_cast<size_t>(c.size(1)));
    for (auto& c : conds) {
        auto u = uncond;
        cd.matchLengths(c, u, r.clipSkip);
        while (static_cast<size_t>(c.size(1)) < longest) {
            auto e = cd.encodePrompt("", r.clipSkip);
            c = at::cat({ c, e }, 1);
        }
    }
    cd.matchLengths(conds[0], uncond, r.clipSkip);
    while (static_cast<size_t>(uncond.size(1)) < longest)
        uncond = at::cat({ uncond, cd.encodePrompt("", r.clipSkip) }, 1);
    cond = at::cat(conds);
    condCount = static_cast<int>(conds.size());
    auto boxMasks = at::cat(masks); // [R, 1, h, w]
    combine = [boxMasks](const at::Tensor& eps) { // eps [1+R, B, C, h, w]
        auto mk = boxMasks.unsqueeze(1); // [R, 1, 1, h, w]
        auto cover = mk.sum(0).clamp_max(1.0); // [1, 1, h, w]
        auto regional = (eps.narrow(0, 1, eps.size(0) - 1) * mk).sum(0) / mk.sum(0).clamp_min(1e-6);
        return eps[0] * (1 - cover) + regional * cover;
    };
}

// SDXL's vector condition: the pooled texts with the size and crop micro-conditions (and aesthetic scores).
void sdxlVectors(const ConditionSite& s, std::vector<at::Tensor>& pooled, at::Tensor& uncondPooled, JobCondition& c)
{
    const GenerationRequest& r = s.r;
    models::LatentModel& m = s.m;
    const int genW = s.genW, genH = s.genH;
    auto& uncond = c.uncond;
    if (r.negativePrompt.empty()) {
        // As AUTOMATIC1111 (and sgm's demo for the base): an empty negative prompt is zeros, not "" encoded.
        uncond = at::zeros_like(uncond);
        uncondPooled = at::zeros_like(uncondPooled);
    }
    auto mc = models::sdxl::forSize(genW, genH, r.aestheticScore);
    if (r.sdxlOriginalWidth > 0 && r.sdxlOriginalHeight > 0) {
        mc.originalWidth = r.sdxlOriginalWidth;
        mc.originalHeight = r.sdxlOriginalHeight;
    }
    if (r.sdxlTargetWidth > 0 && r.sdxlTargetHeight > 0) {
        mc.targetWidth = r.sdxlTargetWidth;
        mc.targetHeight = r.sdxlTargetHeight;
    }
    mc.cropLeft = r.sdxlCropLeft;
    mc.cropTop = r.sdxlCropTop;
    c.condVector = models::sdxl::vectorCondition(m.config.family, at::cat(pooled), mc);
    mc.aestheticScore = r.negativeAestheticScore;
    c.uncondVector = models::sdxl::vectorCondition(m.config.family, uncondPooled, mc);
}

// The layout2img model (BERT over box tokens): its classes at their boxes.
void conditionBoxTokens(const ConditionSite& s, JobCondition& c)
{
    GeneratorState& d = s.d;
    const GenerationRequest& r = s.r;
    models::LatentModel& m = s.m;
    auto& cond = c.cond;
    auto& uncond = c.uncond;
    text::LayoutTokenBuilder builder;
    builder.noObjectClasses = static_cast<int64_t>(d.classes.size());
    std::vector<text::LayoutObject> objs;
    for (const auto& b : r.boxes) {
        text::LayoutObject o;
        const std::string name = b.label.empty() ? b.prompt : b.label;
        o.categoryNo = std::find(d.classes.begin(), d.classes.end(), name) - d.classes.begin();
        o.bbox = { b.x / r.width, b.y / r.height, b.w / r.width, b.h / r.height };
        objs.push_back(o);
    }
    Conditioner cd(m, d.tokenizer);
    cond = cd.encodeTokens(builder.build(objs));
    uncond = cd.encodeTokens(builder.build({}));
}

// The bundled model: world tokens for the caption and its boxes, and the boxes painted as layout channels.
void conditionWorld(const ConditionSite& s, JobCondition& c)
{
    GeneratorState& d = s.d;
    const GenerationRequest& r = s.r;
    models::LatentModel& m = s.m;
    const int genW = s.genW, genH = s.genH;
    const int64_t lh = s.lh, lw = s.lw;
    auto& cond = c.cond;
    auto& uncond = c.uncond;
    auto& layout = c.layout;
    Conditioner cd(m, d.tokenizer);
    std::vector<text::WorldBox> boxes;
    if (r.mode == JobMode::Layout)
        for (const auto& b : r.boxes)
            boxes.push_back({ b.x / genW, b.y / genH, (b.x + b.w) / genW, (b.y + b.h) / genH,
                b.label.empty() ? b.prompt : b.label });
    else if (m.config.layoutChannels && r.captionLayout)
        boxes = text::layoutFromCaption(r.prompt); // "a red circle at the top left": the boxes the phrases describe
    cond = cd.encodeWorld(r.prompt, boxes);
    uncond = cd.encodeWorld(r.negativePrompt);
    if (m.config.layoutChannels) {
        const auto k = m.config.layoutChannels;
        layout.cond = at::tensor(text::rasteriseWorldLayout(boxes, static_cast<int>(lh), static_cast<int>(lw)))
                          .view({ 1, k, lh, lw });
        layout.uncond = at::zeros_like(layout.cond);
    }
}

// SD1 (CLIP), SD2 (OpenCLIP) and SDXL (both, with the vector condition): prompts, regional guidance for layouts.
void conditionClip(const ConditionSite& s, JobCondition& c)
{
    GeneratorState& d = s.d;
    const GenerationRequest& r = s.r;
    models::LatentModel& m = s.m;
    auto& cond = c.cond;
    auto& uncond = c.uncond;
    // Textual-inversion words are the model's own extra token rows: the refiner reads them as plain words.
    Conditioner cd(m, d.tokenizer, s.refiner ? nullptr : &d.embeddingTokens);
    std::vector<at::Tensor> pooled; // SDXL: one per condition, then the negative prompt's
    cond = cd.encodePrompt(r.prompt, r.clipSkip);
    pooled.push_back(cd.pooled());
    uncond = cd.encodePrompt(r.negativePrompt, r.clipSkip);
    at::Tensor uncondPooled = cd.pooled();
    if (r.mode == JobMode::Layout)
        regionalGuidance(s, cd, pooled, c);
    else
        cd.matchLengths(cond, uncond, r.clipSkip);
    if (models::isSdxl(m.config.family))
        sdxlVectors(s, pooled, uncondPooled, c);
}

} // namespace

JobCondition conditionFor(GeneratorState& d, const GenerationRequest& r, int genW, int genH, int f, int64_t lh,
    int64_t lw, models::LatentModel* on)
{
    // One implementation per text-encoder family.
    const ConditionSite s { d, r, genW, genH, f, lh, lw, on ? *on : *d.model, on != nullptr };
    JobCondition c;
    if (s.m.config.family == Family::Layout2Img)
        conditionBoxTokens(s, c);
    else if (s.m.config.family == Family::Synthetic)
        conditionWorld(s, c);
    else if (s.m.clip || s.m.openclip)
        conditionClip(s, c);
    return c;
}

} // namespace ls::pipeline::detail

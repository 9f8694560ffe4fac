// Upscaling with a text-to-image model (AUTOMATIC1111's "SD upscale", and the tile ControlNet's use): the picture
// enlarged with Lanczos, then repainted by image-to-image tile by tile at the model's own resolution, the tiles
// overlapping and blended with linear ramps. ControlNets steer each tile: the "tile" preprocessor (and "none"
// without an image) reads the tile itself, a unit's own image is cut to the same tile.
#include "pipeline/jobs/Jobs.h"

#include "pipeline/ImageOps.h"
#include "pipeline/ModelLoading.h"

namespace ls::pipeline::detail {

void runTiledUpscale(GeneratorState& d, const GenerationRequest& r, const StepCallback& onStep, const StopToken& stop,
    Clock::time_point t0, ResultWriter& out)
{
    // 1. The enlarged picture, and the tiles that cover it (the model's resolution, overlap scaled with the factor)
    const Image small = toRgb(r.initImage);
    const int W = small.width * r.upscaleFactor, H = small.height * r.upscaleFactor;
    const Image big = resizeLanczos(small, W, H);
    const int mult = d.pixelMultiple();
    const int tile = std::max(mult, nativeResolution(d.model->config) / mult * mult);
    const int overlap = std::min(tile / 2 - 1, r.tileOverlap * r.upscaleFactor);
    const auto xs = models::tileStarts(W, std::min(tile, W), overlap);
    const auto ys = models::tileStarts(H, std::min(tile, H), overlap);
    const int tiles = static_cast<int>(xs.size() * ys.size());
    auto acc = at::zeros({ 1, 3, H, W });
    auto wsum = at::zeros({ 1, 1, H, W });
    std::vector<Image> controlImages; // the units' own images at the enlarged size, cut per tile below
    for (const auto& c : r.controls)
        controlImages.push_back(c.image.empty() ? Image() : resizeLanczos(toRgb(c.image), W, H));

    // 2. Each tile repainted by image-to-image with the same seed, its ControlNet hints cut to it
    int index = 0;
    for (const int64_t ty : ys)
        for (const int64_t tx : xs) {
            ++index;
            const int tw = std::min<int>(tile, W), th = std::min<int>(tile, H);
            GenerationRequest t = r;
            t.mode = JobMode::Img2Img;
            t.initImage = cropImage(big, static_cast<int>(tx), static_cast<int>(ty), tw, th);
            t.width = tw;
            t.height = th;
            t.batch = 1;
            for (size_t i = 0; i < t.controls.size(); ++i)
                if (!controlImages[i].empty())
                    t.controls[i].image
                        = cropImage(controlImages[i], static_cast<int>(tx), static_cast<int>(ty), tw, th);
            GenerationResult tileResult;
            ResultWriter tileOut(d, tileResult, t, t, nullptr, {}, {});
            const StepCallback perTile = [&](const StepInfo& s) {
                if (!onStep)
                    return;
                StepInfo p = s;
                p.tile = index;
                p.tiles = tiles;
                onStep(p);
            };
            runDiffusion(d, t, perTile, stop, t0, tileOut);
            stop.check();
            const auto img = imageToTensor(tileResult.images.at(0));
            const bool top = ty > 0, bottom = ty + th<H, left = tx> 0, right = tx + tw < W;
            const auto w = seamWeights(th, tw, overlap, top, bottom, left, right);
            acc.narrow(2, ty, th).narrow(3, tx, tw).add_(img * w);
            wsum.narrow(2, ty, th).narrow(3, tx, tw).add_(w);
        }

    // 3. The blended picture
    out.add(tensorToImage(acc / wsum.clamp_min(1e-6)), r.seed);
}

} // namespace ls::pipeline::detail

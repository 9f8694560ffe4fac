#include "pipeline/jobs/InpaintGeometry.h"

#include "pipeline/ImageOps.h"

#include <algorithm>
#include <cmath>

namespace ls::pipeline::detail {

void applyOutpaint(GenerationRequest& r)
{
    if (r.mode == JobMode::Inpaint && (r.extendLeft || r.extendTop || r.extendRight || r.extendBottom)) {
        auto [canvas, newMask] = outpaintCanvas(r.initImage, r.extendLeft, r.extendTop, r.extendRight, r.extendBottom);
        if (!r.mask.empty()) { // the user's own mask, moved onto the canvas
            Image moved(canvas.width, canvas.height, 1, 0);
            pasteImage(moved, firstChannel(r.mask), r.extendLeft, r.extendTop);
            for (size_t i = 0; i < newMask.pixels.size(); ++i)
                newMask.pixels[i] = std::max(newMask.pixels[i], moved.pixels[i]);
        }
        r.initImage = canvas;
        r.mask = newMask;
        r.extendLeft = r.extendTop = r.extendRight = r.extendBottom = 0;
        r.strength = 1.0;
    }
}

JobGeometry jobGeometry(const GenerationRequest& r)
{
    JobGeometry g;
    auto& [init, maskFull, compositeMask, region, workW, workH] = g;
    workW = r.width;
    workH = r.height;
    if (r.mode == JobMode::Img2Img || r.mode == JobMode::Inpaint) {
        init = toRgb(r.initImage);
        workW = init.width;
        workH = init.height;
    }
    if (r.mode == JobMode::Inpaint) {
        const auto grown = growMask(maskToTensor(r.mask), r.maskGrow);
        maskFull = r.softInpainting ? grown.clamp(0, 1) : (grown >= 0.5).to(at::kFloat);
        compositeMask = at::maximum(blurMask(maskFull, r.maskBlur), maskFull);
        // Keep every pixel outside the feathered mask untouched: zero beyond the blur's reach.
        region = { 0, 0, init.width, init.height };
        if (r.onlyMasked) {
            auto b = maskBounds(growMask(maskFull, r.maskBlur));
            const int pad = r.onlyMaskedPadding;
            int x0 = std::max(0, b[0] - pad), y0 = std::max(0, b[1] - pad);
            int x1 = std::min(init.width, b[2] + pad), y1 = std::min(init.height, b[3] + pad);
            // Expand to the aspect of the working resolution so the crop is not distorted.
            const double aspect = static_cast<double>(r.width) / r.height;
            double cw = x1 - x0, ch = y1 - y0;
            if (cw / ch < aspect) {
                const double want = std::min<double>(init.width, ch * aspect);
                const double grow = (want - cw) / 2;
                x0 = std::max(0, static_cast<int>(std::floor(x0 - grow)));
                x1 = std::min(init.width, static_cast<int>(std::ceil(x0 + want)));
            } else {
                const double want = std::min<double>(init.height, cw / aspect);
                const double grow = (want - ch) / 2;
                y0 = std::max(0, static_cast<int>(std::floor(y0 - grow)));
                y1 = std::min(init.height, static_cast<int>(std::ceil(y0 + want)));
            }
            region = { x0, y0, x1, y1 };
            workW = r.width;
            workH = r.height;
        }
    }
    return g;
}

Image pasteBack(const Image& decoded, const GenerationRequest& r, const JobGeometry& g)
{
    const auto& [init, maskFull, compositeMask, region, workW, workH] = g;
    if (r.mode == JobMode::Inpaint) {
        if (r.onlyMasked) {
            const int cw = region[2] - region[0], ch = region[3] - region[1];
            Image full = init;
            pasteImage(full, resizeLanczos(decoded, cw, ch), region[0], region[1]);
            return composite(init, full, compositeMask);
        }
        return composite(init, cropImage(decoded, 0, 0, init.width, init.height), compositeMask);
    }
    if (decoded.width != workW || decoded.height != workH)
        return cropImage(decoded, 0, 0, workW, workH);
    return decoded;
}

} // namespace ls::pipeline::detail

#pragma once
// Where a job paints: outpainting's larger canvas, the inpainting masks, the "only masked" rectangle, and putting the
// painted pixels back so that everything outside the mask stays bit-identical.
#include "pipeline/GenerationRequest.h"

#include <ATen/ATen.h>

#include <array>

namespace ls::pipeline::detail {

// Outpainting (extend* > 0, inpaint): the image on a canvas grown by the extents, the new area plus the user's own
// mask (moved) to paint, extents zeroed, strength 1. Other requests are left as they are.
void applyOutpaint(GenerationRequest& r);

struct JobGeometry {
    Image init; // img2img/inpaint: the input, RGB
    at::Tensor maskFull; // inpaint: [1,1,H,W] 0/1 at the input's resolution (grown, unblurred)
    at::Tensor compositeMask; // inpaint: the feathered mask the result is blended with
    std::array<int, 4>
        region {}; // inpaint: the rectangle worked on [x0, y0, x1, y1) (the whole image unless only masked)
    int workW = 0, workH = 0; // the size the model paints (before rounding up to its multiple)
};
JobGeometry jobGeometry(const GenerationRequest& r);

// The decoded picture (genW x genH) back into the job's output: inpainting pastes the painted rectangle (resized back
// for only masked) into the input and blends with the feathered mask; other jobs crop the padding off.
Image pasteBack(const Image& decoded, const GenerationRequest& r, const JobGeometry& g);

} // namespace ls::pipeline::detail

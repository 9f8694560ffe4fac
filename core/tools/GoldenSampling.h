#pragma once
#include "tools/GoldenContext.h"

namespace ls::tools::golden {

// Runs the case when its kind is a schedule or sampler one (schedule, sample_*, img2img, inpaint_masked_ddim,
// sample_inpaint9_ddim, sample_ldm_sr); false for any other kind.
bool runSamplingCase(Ctx& c, const std::string& kind);

} // namespace ls::tools::golden

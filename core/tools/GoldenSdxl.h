#pragma once
#include "tools/GoldenContext.h"

namespace ls::tools::golden {

// Runs the case when its kind is one of SDXL's (unet_sdxl, clip_g_text, sdxl_conditioner, schedule_sdxl,
// sample_sdxl_*, img2img_sdxl); false for any other kind.
bool runSdxlCase(Ctx& c, const std::string& kind);

} // namespace ls::tools::golden

#pragma once
#include "tools/GoldenContext.h"

namespace ls::tools::golden {

// Runs the case when it is one of ControlNet's (controlnet, unet_controlled, sample_controlnet_ddim, a ControlLDM
// checkpoint, canny, hint_inpaint); false for any other.
bool runControlCase(Ctx& c, const std::string& kind);

} // namespace ls::tools::golden

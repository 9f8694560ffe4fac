#pragma once
// A request as the body of an AUTOMATIC1111 API call (/sdapi/v1/txt2img or /img2img), for sending jobs to remote
// servers that speak it (ours: `latent-cli serve`, and A1111, Forge, SD.Next, ...). The inverse of the server's
// parsing (server/ApiRequest.h): what the request says, in A1111's fields; images as base64 PNG. Torch-free.
#include "pipeline/GenerationRequest.h"

#include <nlohmann/json.hpp>

#include <string>

namespace ls::pipeline {

struct ApiCall {
    std::string path; // "/sdapi/v1/txt2img" or "/sdapi/v1/img2img"
    nlohmann::json body;
};

// `checkpoint`: the server's model title (override_settings.sd_model_checkpoint; empty: the server's current one).
// ControlNets go by their file's stem (the server finds its own copy by that name). Throws Unsupported naming what
// cannot be sent: upscaling, outpainting, a grown mask, a refiner.
ApiCall toApiCall(const GenerationRequest& request, const std::string& checkpoint);

} // namespace ls::pipeline

#pragma once
// AUTOMATIC1111's responses: {images, parameters, info} with `info` the JSON string of Processed.js(), whose
// `infotexts` are exactly the PNGs' "parameters" text.
#include "server/ApiRequest.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace ls::server {

struct JobOutcome {
    std::vector<Image> images;
    std::vector<std::map<std::string, std::string>> metadata; // per image ("parameters", "latent_studio")
    std::vector<int64_t> seeds;
    bool interrupted = false;
    std::vector<std::string> warnings;
};

struct ModelIdentity {
    std::string name; // "Model" of the infotext
    std::string shortHash;
    bool inpainting = false;
};

std::string jobTimestamp(); // A1111's "%Y%m%d%H%M%S", local time

// Processed.js() of the job.
nlohmann::json processedInfo(
    const ApiJob& job, const JobOutcome& outcome, const ModelIdentity& model, const std::string& timestamp);
// The whole response body.
nlohmann::json generationResponse(
    const ApiJob& job, const JobOutcome& outcome, const ModelIdentity& model, const std::string& timestamp);

} // namespace ls::server

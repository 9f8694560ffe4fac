#pragma once
// AUTOMATIC1111-compatible "parameters" text: the prompt, "Negative prompt: ...", then one line of
// "Key: value, Key: value" (values holding ',', ':' or newlines are JSON-quoted). Both directions.
#include "pipeline/GenerationRequest.h"

#include <map>
#include <string>

namespace ls::pipeline {

struct ModelInfo;

std::string buildInfotext(const GenerationRequest& r, int64_t seed, const std::string& modelName, const std::string& modelHash,
    int width, int height, const std::vector<std::pair<std::string, std::string>>& extra = {});

struct ParsedInfotext {
    std::string prompt;
    std::string negativePrompt;
    std::vector<std::pair<std::string, std::string>> params; // in order
    std::string get(const std::string& key, const std::string& def = {}) const;
};

ParsedInfotext parseInfotext(const std::string& text);
// Applies what an A1111 PNG says to a request (unknown keys are ignored; bad values reported as InvalidInput).
GenerationRequest requestFromInfotext(const ParsedInfotext& p, GenerationRequest base = {});

} // namespace ls::pipeline

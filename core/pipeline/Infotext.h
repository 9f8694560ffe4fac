#pragma once
// AUTOMATIC1111-compatible "parameters" text: the prompt, "Negative prompt: ...", then one line of
// "Key: value, Key: value" (values holding ',', ':' or newlines are JSON-quoted). Both directions.
#include "pipeline/GenerationRequest.h"

#include <map>
#include <string>

namespace ls::pipeline {

struct ModelInfo;

std::string buildInfotext(const GenerationRequest& r, int64_t seed, const std::string& modelName,
    const std::string& modelHash, int width, int height,
    const std::vector<std::pair<std::string, std::string>>& extra = {});

struct ParsedInfotext {
    std::string prompt;
    std::string negativePrompt;
    std::vector<std::pair<std::string, std::string>> params; // in order
    std::string get(const std::string& key, const std::string& def = {}) const; // the last value given for key
    bool has(const std::string& key) const;
};

// Parses as AUTOMATIC1111's parse_generation_parameters does: lines stripped (CRLF, indented "Negative prompt:"), the
// last line's "Key: value" pairs found by its pattern (bare words such as "Tiling" are skipped), quoted values
// unquoted.
ParsedInfotext parseInfotext(const std::string& text);
// Applies what an A1111 PNG says to a request for the job base.mode (bad values reported as InvalidInput). Keys it
// cannot carry out (e.g. "Variation seed: 5", "Hires upscaler: Latent", a hires pass for img2img, which is dropped)
// are listed in *unhonoured as "Key: value"; keys that only describe the picture (Model hash, Version, ...) are not.
// A picture's settings reused for a job other than text-to-image carry no hires pass: it is turned off and said so
// in *unhonoured ("the hires pass (img2img has none)").
void dropHiresPassForOtherJobs(GenerationRequest& r, std::vector<std::string>* unhonoured);

GenerationRequest requestFromInfotext(
    const ParsedInfotext& p, GenerationRequest base = {}, std::vector<std::string>* unhonoured = nullptr);

} // namespace ls::pipeline

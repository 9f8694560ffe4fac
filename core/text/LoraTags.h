#pragma once
// AUTOMATIC1111's LoRA tags in prompts: <lora:NAME>, <lora:NAME:W>, <lora:NAME:TE:UNET> and the named forms te=W,
// unet=W (also spelled <lyco:...>). W multiplies the file's deltas: TE those of the text encoder, UNET those of the
// UNet (UNET defaults to TE, TE to 1).
#include <string>
#include <vector>

namespace ls::text {

struct LoraTag {
    std::string name; // a file stem looked up in the LoRA folders, or a path
    double textWeight = 1.0;
    double unetWeight = 1.0;
    bool operator==(const LoraTag&) const = default;
};

// The prompt without its LoRA tags (appended to *tags in order). Throws InvalidInput naming the tag when one is
// malformed (no name, a weight that is not a number).
std::string extractLoraTags(const std::string& prompt, std::vector<LoraTag>* tags);

} // namespace ls::text

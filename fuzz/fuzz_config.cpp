// Model configuration JSON: LatentDiffusion params (the YAML/JSON beside a checkpoint, or a "family" file) through
// configFromLdmJson, and the diffusers key-renaming rules driven by a component's config.json.
#include "io/DiffusersFolder.h"
#include "models/ModelConfig.h"
#include "util/JsonChecks.h"

#include <nlohmann/json.hpp>

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const auto j = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(data), size), nullptr, false);
    if (j.is_discarded())
        return 0;
    try {
        (void)ls::models::configFromLdmJson(j);
    } catch (const std::exception&) {
    }
    try {
        ls::checkJsonNumbers(j, "config.json"); // what DiffusersFolder does with every config.json it reads
        for (const char* key :
            { "down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight", "mid_block.resnets.1.conv1.weight",
                "up_blocks.3.resnets.2.conv_shortcut.weight", "encoder.down_blocks.0.resnets.0.norm1.weight" })
            (void)ls::io::DiffusersFolder::toOriginal("unet", key, j);
    } catch (const std::exception&) {
    }
    return 0;
}

// Layout boxes JSON (latent-cli layout --boxes FILE), then request validation with those boxes.
#include "pipeline/GenerationRequest.h"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    try {
        ls::pipeline::GenerationRequest r;
        r.mode = ls::pipeline::JobMode::Layout;
        r.prompt = "fuzz";
        r.boxes = ls::pipeline::parseLayoutBoxes(std::string(reinterpret_cast<const char*>(data), size), "boxes.json");
        (void)r.validate();
    } catch (const std::exception&) {
    }
    return 0;
}

// PNG metadata and A1111 infotext: the built-in PNG decoder (chunks, tEXt/iTXt, zlib), then the parameters text and
// the request built from it. Input: PNG bytes, or (when it is not a PNG) the infotext itself.
#include "io/ImageFile.h"
#include "pipeline/Infotext.h"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    std::string text = bytes;
    try {
        auto png = ls::io::decodePng(bytes, "fuzz.png");
        text = png.metadata.count("parameters") ? png.metadata["parameters"] : std::string();
    } catch (const std::exception&) {
    }
    try {
        auto parsed = ls::pipeline::parseInfotext(text);
        auto r = ls::pipeline::requestFromInfotext(parsed);
        (void)r.validate();
    } catch (const std::exception&) {
    }
    return 0;
}

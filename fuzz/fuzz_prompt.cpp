// Prompt text: the A1111 attention/emphasis parser ((a:1.2), [b], BREAK, escapes) and the bundled model's world
// tokenizer (caption words and box labels).
#include "text/PromptWeights.h"
#include "text/WorldTokenizer.h"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string s(reinterpret_cast<const char*>(data), size);
    try {
        (void)ls::text::parsePromptAttention(s);
    } catch (const std::exception&) {
    }
    try {
        static const ls::text::WorldTokenizer tok;
        (void)tok.encode(s, { { 0.1, 0.2, 0.5, 0.6, s } });
    } catch (const std::exception&) {
    }
    return 0;
}

// The restricted unpickler on raw pickle streams (any protocol), with the default limits.
#include "io/Pickle.h"

#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    try {
        (void)ls::io::pickle::unpickle(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.pkl");
    } catch (const std::exception&) {
    }
    return 0;
}

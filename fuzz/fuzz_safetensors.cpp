// safetensors reader: header length, JSON header, dtype/shape/offset validation, tensor loads.
#include "FuzzCommon.h"
#include "io/SafeTensors.h"

#include <ATen/ATen.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    ls::fuzz::MemFile f(data, size);
    if (!f.ok())
        return 0;
    try {
        ls::io::SafeTensorsFile st(f.path());
        for (const auto& k : st.keys()) {
            (void)st.info(k);
            (void)st.load(k).sum();
        }
    } catch (const std::exception&) {
    }
    return 0;
}

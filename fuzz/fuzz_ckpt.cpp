// .ckpt reader: zip container (libzip), data.pkl through the restricted unpickler, tensor storages and views.
#include "FuzzCommon.h"
#include "io/CkptFile.h"

#include <ATen/ATen.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    ls::fuzz::MemFile f(data, size);
    if (!f.ok())
        return 0;
    try {
        ls::io::CkptFile ck(f.path());
        for (const auto& k : ck.keys()) {
            (void)ck.info(k);
            (void)ck.load(k).sum();
        }
    } catch (const std::exception&) {
    }
    return 0;
}

// .ckpt reader: zip container (libzip), data.pkl through the restricted unpickler, tensor storages and views.
#include "FuzzCommon.h"
#include "io/CkptFile.h"

#include <ATen/ATen.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    return ls::fuzz::loadEveryTensor<ls::io::CkptFile>(data, size);
}

// safetensors reader: header length, JSON header, dtype/shape/offset validation, tensor loads.
#include "FuzzCommon.h"
#include "io/SafeTensors.h"

#include <ATen/ATen.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    return ls::fuzz::loadEveryTensor<ls::io::SafeTensorsFile>(data, size);
}

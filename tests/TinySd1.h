#pragma once
// The tiny SD1 checkpoint of ../shared/golden, as the pipeline tests load it.
#include "TestUtil.h"

#include "pipeline/ModelLoading.h"

namespace ls::test {

inline std::filesystem::path tinySd1Weights() { return goldenDir() / "tiny_sd1" / "weights.safetensors"; }

// Its config and the CLIP vocabulary of ../shared/data.
inline pipeline::ModelLoadOptions tinySd1Options()
{
    pipeline::ModelLoadOptions o;
    o.configFile = goldenDir() / "tiny_sd1" / "case.json";
    o.vocabulary = sharedDir() / "data" / "clip";
    return o;
}

// Loaded once per test program, without the file hash.
inline pipeline::LoadedModel& tinySd1()
{
    static pipeline::LoadedModel m = [] {
        auto o = tinySd1Options();
        o.hash = false;
        return pipeline::loadModel(tinySd1Weights(), o);
    }();
    return m;
}

} // namespace ls::test

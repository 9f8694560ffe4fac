#pragma once
// Random full-size weights in the original key layout, for benchmarks and load tests (make-random-checkpoint).
#include "models/LatentModel.h"

namespace ls::models {

// Fills every floating parameter: norms 1, biases 0, matrices N(0, 1/fan_in) so activations stay finite; integer
// buffers (CLIP position_ids) get their natural values.
void randomizeWeights(LatentModel& model, uint64_t seed);

// Writes a checkpoint of the named published configuration with random weights (plus schedule buffers).
void writeRandomCheckpoint(
    const std::string& name, const std::filesystem::path& out, at::ScalarType dtype, uint64_t seed);

} // namespace ls::models

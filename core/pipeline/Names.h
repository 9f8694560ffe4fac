#pragma once
// The engine's other typed names, each with its one table of user-facing names (SamplerNames.h has the samplers and
// schedules, GenerationRequest.h the job modes): the device the model runs on, the model's prediction type, and how
// the upscale job enlarges with the model loaded. Front ends parse user input with these and pass the enums on.
// Torch-free.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ls::pipeline {

// A table of names: ours, then the other names users, diffusers and AUTOMATIC1111 write for the same thing.
using NameTable = std::vector<std::pair<std::string, std::vector<std::string>>>;
// Our name for `name` in the table (any case, aliases included), or empty.
std::string lookupName(const NameTable& table, const std::string& name);
std::string asciiLower(std::string s);

enum class Device { Cpu, Cuda };
const std::vector<std::string>& deviceNames(); // "cpu", "cuda"
std::optional<Device> findDevice(const std::string& name); // any case
const std::string& deviceName(Device d);

// What the UNet predicts: the noise (eps, SD1/SD2-512/SDXL) or the velocity (v, SD2-768-v, zero-terminal-SNR models).
enum class Prediction { Eps, V };
const std::vector<std::string>& predictionNames(); // "eps", "v" (the original configs' parameterization)
// Ours or diffusers' ("epsilon", "v_prediction"), any case.
std::optional<Prediction> findPrediction(const std::string& name);
const std::string& predictionName(Prediction p);

// How the upscale job enlarges: plain Lanczos (no model), a super-resolution model (LDM-SR 4x, the bundled SR), the SD
// x4 upscaler (prompted, noise-augmented), or a text-to-image model repainting Lanczos-enlarged tiles. Chosen from the
// model (ModelLoading.h: upscaleMethodFor), never named by users, so it has no name table.
enum class UpscaleMethod { Lanczos, SuperResolution, SdX4, TiledImg2Img };

} // namespace ls::pipeline

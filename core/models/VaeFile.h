#pragma once
// A stand-alone autoencoder (VAE) file in place of a model's own first stage, as users pair SD 1.x checkpoints with
// vae-ft-mse-840000. Layouts read: the original one (encoder.*, decoder.*, quant_conv.*, post_quant_conv.*), the same
// under first_stage_model.*, and diffusers' (a vae/ folder, or its diffusion_pytorch_model.safetensors). Training
// state (loss.*, model_ema.*) is ignored. Loading is strict, and the model keeps its own autoencoder unless every
// weight of the new one loaded.
#include "models/LatentModel.h"

#include <filesystem>

namespace ls::models {

void loadVae(LatentModel& model, const std::filesystem::path& file);

} // namespace ls::models

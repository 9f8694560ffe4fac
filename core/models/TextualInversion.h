#pragma once
// Textual-inversion embeddings (Gal et al. 2022): vectors learned for a new word of the text encoder's input. Formats
// read: AUTOMATIC1111's .pt (string_to_param.*) and .safetensors (emb_params), and diffusers' learned_embeds (one
// tensor under the token's name). A word of the prompt equal to the file's name stands for its vectors
// (text/PromptWeights.h).
#include <ATen/ATen.h>

#include <filesystem>

namespace ls::models {

// The embedding's vectors, [N, dim] fp32. Throws naming the file: no or several candidate tensors, SDXL embeddings
// (clip_l/clip_g), vectors of another width than the text encoder's (`dim`), more than 75 vectors.
// part "clip_l" / "clip_g": one tower's vectors of an SDXL embedding (throws for a one-set SD1/SD2 file).
at::Tensor readEmbedding(const std::filesystem::path& file, int64_t dim, const std::string& part = {});

} // namespace ls::models

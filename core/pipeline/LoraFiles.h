#pragma once
// Finding LoRA files by the names prompts use (<lora:NAME:W>), and textual-inversion embeddings by theirs: the file's
// stem, or its path below a LoRA folder without the extension ("styles/ink"). Torch-free, so that front ends can list
// them.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ls::pipeline {

// Where LoRAs are looked for when nothing else is set: `loras/` and `Lora/` beside the model file, the folders of
// $LS_LORA_PATH (':'-separated), and ~/.local/share/latent-studio/loras ($XDG_DATA_HOME respected).
std::vector<std::filesystem::path> defaultLoraFolders(const std::filesystem::path& modelFile);

struct LoraFile {
    std::string name; // what a tag writes: the path below its folder, without the extension
    std::filesystem::path path;
};

// Every .safetensors/.pt/.ckpt file in these folders and their subfolders (4 levels), by folder then name; missing
// folders are skipped.
std::vector<LoraFile> listLoraFiles(const std::vector<std::filesystem::path>& folders);

// A name as a tag writes it: an existing file path, else the first file of listLoraFiles whose name or stem it is.
std::optional<std::filesystem::path> findLoraFile(
    const std::string& name, const std::vector<std::filesystem::path>& folders);

// Textual-inversion embeddings, found the same way in `embeddings/` folders: beside the model, $LS_EMBEDDING_PATH,
// ~/.local/share/latent-studio/embeddings. A prompt uses one by its file's stem (listed as `name`, .bin files too).
std::vector<std::filesystem::path> defaultEmbeddingFolders(const std::filesystem::path& modelFile);
std::vector<LoraFile> listEmbeddingFiles(const std::vector<std::filesystem::path>& folders);

// A TAESD decoder for previews: $LS_TAESD_DECODER, else taesd_decoder.safetensors (or .pth; for SDXL
// taesdxl_decoder.*) beside the model file or in its folder's vae_approx/ (AUTOMATIC1111's folder for it). Empty when
// none.
std::filesystem::path findPreviewDecoder(const std::filesystem::path& modelFile, bool sdxl = false);

} // namespace ls::pipeline

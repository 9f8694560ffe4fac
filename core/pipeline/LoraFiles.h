#pragma once
// Finding LoRA files by the names prompts use (<lora:NAME:W>): the file's stem, or its path below a LoRA folder
// without the extension ("styles/ink"). Torch-free, so that front ends can list them.
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
std::optional<std::filesystem::path> findLoraFile(const std::string& name, const std::vector<std::filesystem::path>& folders);

} // namespace ls::pipeline

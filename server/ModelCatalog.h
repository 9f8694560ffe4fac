#pragma once
// The models a server offers, named as AUTOMATIC1111 names them (modules/sd_models.py CheckpointInfo): `name` is the
// path below its folder ("sub/model.safetensors"), `model_name` that without the extension and with '/' as '_',
// `title` "name [shorthash]" once the hash is known. Clients pick a model by any of these, or by a part of the title
// (get_closet_checkpoint_match); they never name a file on the server by its path.
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ls::server {

struct CatalogEntry {
    std::string name; // "sub/model.safetensors"
    std::string modelName; // "sub_model"
    std::string shortHash; // first 10 hex of SHA-256 (empty until hashed)
    std::string sha256;
    std::filesystem::path path; // or "bundled:default"
    std::string title() const { return shortHash.empty() ? name : name + " [" + shortHash + "]"; }
};

class ModelCatalog {
public:
    // checkpointDirs: folders of .safetensors/.ckpt checkpoints and diffusers folders (model_index.json);
    // controlNetDirs: ControlNet files. `bundled`: offer the bundled default model too.
    ModelCatalog(std::vector<std::filesystem::path> checkpointDirs, std::vector<std::filesystem::path> controlNetDirs,
        bool bundled);
    void refresh();
    std::vector<CatalogEntry> checkpoints() const;
    std::vector<CatalogEntry> controlNets() const;
    std::optional<CatalogEntry> findCheckpoint(const std::string& search) const;
    std::optional<CatalogEntry> findControlNet(const std::string& search) const;
    void setHash(const std::filesystem::path& path, const std::string& sha256);

private:
    mutable std::mutex m_mutex;
    std::vector<std::filesystem::path> m_dirs, m_controlDirs;
    bool m_bundled;
    std::vector<CatalogEntry> m_checkpoints, m_controlNets;
};

// AUTOMATIC1111's closest match: an exact title, name, model name or hash, else the shortest title containing it.
std::optional<CatalogEntry> closestMatch(const std::vector<CatalogEntry>& entries, const std::string& search);

} // namespace ls::server

#include "server/ModelCatalog.h"

#include <algorithm>

namespace ls::server {

namespace fs = std::filesystem;

namespace {

bool isWeightsFile(const fs::path& p)
{
    const std::string e = p.extension().string();
    return e == ".safetensors" || e == ".ckpt" || e == ".pth" || e == ".pt";
}

CatalogEntry entryFor(const fs::path& root, const fs::path& file)
{
    CatalogEntry e;
    e.path = file;
    e.name = file.lexically_relative(root).generic_string();
    std::string stem = e.name;
    if (!fs::is_directory(file)) {
        const auto dot = stem.rfind('.');
        if (dot != std::string::npos && dot > stem.rfind('/') + 1)
            stem = stem.substr(0, dot);
    }
    std::replace(stem.begin(), stem.end(), '/', '_');
    e.modelName = stem;
    return e;
}

std::vector<CatalogEntry> scan(const std::vector<fs::path>& dirs, bool diffusersFolders)
{
    std::vector<CatalogEntry> out;
    for (const auto& dir : dirs) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec))
            continue;
        std::vector<fs::path> found;
        for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it.depth() > 4) {
                it.disable_recursion_pending();
                continue;
            }
            const fs::path& p = it->path();
            if (it->is_directory(ec)) {
                if (fs::exists(p / "model_index.json", ec)
                    || (!diffusersFolders && fs::exists(p / "config.json", ec)
                        && fs::exists(p / "diffusion_pytorch_model.safetensors", ec))) {
                    found.push_back(p);
                    it.disable_recursion_pending();
                }
            } else if (isWeightsFile(p)) {
                found.push_back(p);
            }
        }
        std::sort(found.begin(), found.end());
        for (const auto& p : found)
            out.push_back(entryFor(dir, p));
    }
    return out;
}

std::string stripHash(const std::string& s)
{
    // "name [hash]" -> "name"
    if (!s.empty() && s.back() == ']') {
        const auto open = s.rfind(" [");
        if (open != std::string::npos)
            return s.substr(0, open);
    }
    return s;
}

} // namespace

std::optional<CatalogEntry> closestMatch(const std::vector<CatalogEntry>& entries, const std::string& search)
{
    if (search.empty())
        return std::nullopt;
    const std::string bare = stripHash(search);
    for (const auto& e : entries) {
        const std::string stemOfName = fs::path(e.name).stem().string();
        if (e.title() == search || e.name == search || e.modelName == search || e.name == bare || e.modelName == bare
            || stemOfName == bare || (!e.shortHash.empty() && (e.shortHash == search || e.sha256 == search)))
            return e;
    }
    std::optional<CatalogEntry> best;
    for (const auto& e : entries)
        if (e.title().find(search) != std::string::npos && (!best || e.title().size() < best->title().size()))
            best = e;
    return best;
}

ModelCatalog::ModelCatalog(std::vector<fs::path> dirs, std::vector<fs::path> controlDirs, bool bundled)
    : m_dirs(std::move(dirs))
    , m_controlDirs(std::move(controlDirs))
    , m_bundled(bundled)
{
    refresh();
}

void ModelCatalog::refresh()
{
    auto checkpoints = scan(m_dirs, true);
    auto controls = scan(m_controlDirs, false);
    if (m_bundled) {
        CatalogEntry b;
        b.name = "latent-studio-default.safetensors";
        b.modelName = "latent-studio-default";
        b.path = "bundled:default";
        checkpoints.insert(checkpoints.begin(), b);
    }
    std::lock_guard lock(m_mutex);
    // keep hashes already known
    for (auto& e : checkpoints)
        for (const auto& old : m_checkpoints)
            if (old.path == e.path) {
                e.shortHash = old.shortHash;
                e.sha256 = old.sha256;
            }
    m_checkpoints = std::move(checkpoints);
    m_controlNets = std::move(controls);
}

std::vector<CatalogEntry> ModelCatalog::checkpoints() const
{
    std::lock_guard lock(m_mutex);
    return m_checkpoints;
}

std::vector<CatalogEntry> ModelCatalog::controlNets() const
{
    std::lock_guard lock(m_mutex);
    return m_controlNets;
}

std::optional<CatalogEntry> ModelCatalog::findCheckpoint(const std::string& search) const
{
    return closestMatch(checkpoints(), search);
}

std::optional<CatalogEntry> ModelCatalog::findControlNet(const std::string& search) const
{
    return closestMatch(controlNets(), search);
}

void ModelCatalog::setHash(const fs::path& path, const std::string& sha256)
{
    std::lock_guard lock(m_mutex);
    for (auto& e : m_checkpoints)
        if (e.path == path) {
            e.sha256 = sha256;
            e.shortHash = sha256.substr(0, 10);
        }
}

} // namespace ls::server

#include "pipeline/LoraFiles.h"

#include <algorithm>
#include <cstdlib>
#include <system_error>

namespace ls::pipeline {

namespace fs = std::filesystem;

namespace {

bool isLoraExtension(const fs::path& p)
{
    const std::string e = p.extension().string();
    return e == ".safetensors" || e == ".pt" || e == ".ckpt";
}

std::vector<fs::path> defaultFolders(const fs::path& modelFile, const std::vector<std::string>& besideModel,
    const char* env, const std::string& userFolder)
{
    std::vector<fs::path> out;
    if (!modelFile.empty()) {
        const fs::path dir = modelFile.parent_path().empty() ? fs::path(".") : modelFile.parent_path();
        for (const auto& b : besideModel)
            out.push_back(dir / b);
    }
    if (const char* e = std::getenv(env); e && *e) {
        std::string s(e);
        size_t start = 0;
        for (size_t i = 0; i <= s.size(); ++i)
            if (i == s.size() || s[i] == ':') {
                if (i > start)
                    out.emplace_back(s.substr(start, i - start));
                start = i + 1;
            }
    }
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
        out.push_back(fs::path(xdg) / "latent-studio" / userFolder);
    else if (const char* home = std::getenv("HOME"); home && *home)
        out.push_back(fs::path(home) / ".local" / "share" / "latent-studio" / userFolder);
    return out;
}

std::vector<LoraFile> listFiles(const std::vector<fs::path>& folders, bool (*accept)(const fs::path&))
{
    std::vector<LoraFile> out;
    for (const auto& folder : folders) {
        std::error_code ec;
        if (!fs::is_directory(folder, ec))
            continue;
        std::vector<LoraFile> here;
        fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec), end;
        for (; !ec && it != end; it.increment(ec)) {
            if (it.depth() >= 4)
                it.disable_recursion_pending();
            if (!it->is_regular_file(ec) || !accept(it->path()))
                continue;
            fs::path rel = it->path().lexically_relative(folder);
            rel.replace_extension();
            here.push_back({ rel.generic_string(), it->path() });
        }
        std::sort(here.begin(), here.end(), [](const LoraFile& a, const LoraFile& b) { return a.name < b.name; });
        out.insert(out.end(), here.begin(), here.end());
    }
    return out;
}

} // namespace

std::vector<fs::path> defaultLoraFolders(const fs::path& modelFile)
{
    return defaultFolders(modelFile, { "loras", "Lora" }, "LS_LORA_PATH", "loras");
}

std::vector<LoraFile> listLoraFiles(const std::vector<fs::path>& folders)
{
    return listFiles(folders, isLoraExtension);
}

std::vector<fs::path> defaultEmbeddingFolders(const fs::path& modelFile)
{
    return defaultFolders(modelFile, { "embeddings" }, "LS_EMBEDDING_PATH", "embeddings");
}

std::vector<LoraFile> listEmbeddingFiles(const std::vector<fs::path>& folders)
{
    return listFiles(folders, [](const fs::path& p) { return isLoraExtension(p) || p.extension() == ".bin"; });
}

std::optional<fs::path> findLoraFile(const std::string& name, const std::vector<fs::path>& folders)
{
    std::error_code ec;
    if ((name.find('/') != std::string::npos || isLoraExtension(name)) && fs::is_regular_file(name, ec))
        return fs::path(name);
    const auto files = listLoraFiles(folders);
    for (const auto& f : files)
        if (f.name == name)
            return f.path;
    for (const auto& f : files)
        if (f.path.stem().string() == name)
            return f.path;
    return std::nullopt;
}

std::filesystem::path findPreviewDecoder(const std::filesystem::path& modelFile, bool sdxl)
{
    if (const char* env = std::getenv("LS_TAESD_DECODER"); env && *env)
        return env;
    if (modelFile.empty())
        return {};
    const auto dir = modelFile.parent_path();
    for (const auto& folder : { dir, dir / "vae_approx" })
        for (const std::string ext : { ".safetensors", ".pth" }) {
            const std::string name = (sdxl ? "taesdxl_decoder" : "taesd_decoder") + ext;
            std::error_code ec;
            if (std::filesystem::is_regular_file(folder / name, ec))
                return folder / name;
        }
    return {};
}

} // namespace ls::pipeline

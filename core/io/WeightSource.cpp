#include "io/WeightSource.h"

#include "io/CkptFile.h"
#include "io/DiffusersFolder.h"
#include "io/SafeTensors.h"
#include "util/Error.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace ls::io {

namespace fs = std::filesystem;

std::unique_ptr<WeightSource> openWeights(const fs::path& path)
{
    std::error_code ec;
    if (!fs::exists(path, ec))
        fail(ErrorKind::Io, path.string() + ": no such file or folder");
    if (fs::is_directory(path, ec)) {
        if (fs::exists(path / "model_index.json", ec) || fs::exists(path / "unet" / "config.json", ec)
            || (fs::exists(path / "config.json", ec) && fs::exists(path / "diffusion_pytorch_model.safetensors", ec)))
            return std::make_unique<DiffusersFolder>(path);
        fail(ErrorKind::Io, path.string() + ": is a directory, but not a diffusers model folder (no model_index.json)");
    }
    // Decide by content, not by extension: a zip starts with "PK", safetensors with a small header length.
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f)
        fail(ErrorKind::Io, path.string() + ": cannot open: " + std::strerror(errno));
    unsigned char head[9] = {};
    const size_t n = std::fread(head, 1, 9, f);
    std::fclose(f);
    if (n == 0)
        fail(ErrorKind::Format, path.string() + ": file is empty (0 bytes)");
    if (n >= 2 && head[0] == 'P' && head[1] == 'K')
        return std::make_unique<CkptFile>(path);
    // A pickle starts with 0x80 (PROTO); so does a safetensors file whose header length ends in 0x80, but its JSON
    // header opens at byte 8.
    if (head[0] == 0x80 && !(n == 9 && head[8] == '{'))
        fail(ErrorKind::Unsupported,
            path.string()
                + ": a legacy (pre-zip) PyTorch pickle file; re-save it with torch.save in the zip format or convert "
                  "it to safetensors");
    return std::make_unique<SafeTensorsFile>(path);
}

void MergedSource::add(std::shared_ptr<WeightSource> source, std::string onlyPrefix)
{
    std::function<bool(const std::string&)> offers;
    if (!onlyPrefix.empty())
        offers = [prefix = std::move(onlyPrefix)](const std::string& key) { return key.starts_with(prefix); };
    m_parts.push_back({ std::move(source), std::move(offers) });
}

void MergedSource::add(std::shared_ptr<WeightSource> source, std::function<bool(const std::string&)> offers)
{
    m_parts.push_back({ std::move(source), std::move(offers) });
}

std::string MergedSource::path() const
{
    std::string s;
    for (const auto& p : m_parts)
        s += (s.empty() ? "" : " + ") + p.source->path();
    return s;
}

const WeightSource* MergedSource::find(const std::string& key) const
{
    for (const auto& p : m_parts)
        if ((!p.offers || p.offers(key)) && p.source->contains(key))
            return p.source.get();
    return nullptr;
}

std::vector<std::string> MergedSource::keys() const
{
    std::vector<std::string> out;
    for (const auto& p : m_parts)
        for (const auto& k : p.source->keys())
            if ((!p.offers || p.offers(k)) && find(k) == p.source.get())
                out.push_back(k);
    std::sort(out.begin(), out.end());
    return out;
}

bool MergedSource::contains(const std::string& key) const { return find(key) != nullptr; }

TensorInfo MergedSource::info(const std::string& key) const
{
    if (auto* s = find(key))
        return s->info(key);
    fail(ErrorKind::Mismatch, path() + ": no tensor named '" + key + "'");
}

at::Tensor MergedSource::load(const std::string& key) const
{
    if (auto* s = find(key))
        return s->load(key);
    fail(ErrorKind::Mismatch, path() + ": no tensor named '" + key + "'");
}

void MergedSource::release(const std::string& key) const
{
    if (auto* s = find(key))
        s->release(key);
}

} // namespace ls::io

#include "models/TextualInversion.h"

#include "io/WeightSource.h"
#include "util/Error.h"

namespace ls::models {

at::Tensor readEmbedding(const std::filesystem::path& file, int64_t dim, const std::string& part)
{
    const std::string where = file.string();
    auto src = io::openWeights(file);
    const auto keys = src->keys();
    if (part.empty()) {
        for (const auto& k : keys)
            if (k == "clip_l" || k == "clip_g")
                fail(ErrorKind::Unsupported,
                    where + ": an SDXL embedding (clip_l/clip_g); this model's text encoder takes one set of vectors");
    } else if (!src->contains(part)) {
        fail(ErrorKind::Mismatch,
            where + ": no '" + part
                + "' vectors: SDXL takes embeddings with clip_l and clip_g tensors (this one was made for SD 1.x/2.x)");
    }
    std::string key = part;
    if (part.empty())
        for (const char* preferred : { "emb_params", "string_to_param.*" })
            if (src->contains(preferred))
                key = preferred;
    if (key.empty()) {
        std::vector<std::string> candidates;
        for (const auto& k : keys)
            if (k.rfind("string_to_param.", 0) == 0 || src->info(k).shape.size() <= 2)
                candidates.push_back(k);
        if (candidates.size() != 1)
            fail(ErrorKind::Format,
                where + ": not a textual-inversion embedding ("
                    + (candidates.empty()
                            ? std::string("no vector tensor")
                            : std::to_string(candidates.size()) + " tensors, first '" + candidates.front() + "'")
                    + "; expected emb_params, string_to_param.* or one tensor)");
        key = candidates.front();
    }
    const auto info = src->info(key);
    at::Tensor v = src->load(key).to(at::kFloat).clone();
    if (v.dim() == 1)
        v = v.unsqueeze(0);
    if (v.dim() != 2 || v.size(0) < 1)
        fail(ErrorKind::Format,
            where + ": '" + key + "' has shape " + io::shapeToString(info.shape) + ", expected [vectors, "
                + std::to_string(dim) + "]");
    if (v.size(1) != dim)
        fail(ErrorKind::Mismatch,
            where + ": vectors of " + std::to_string(v.size(1)) + " values, this model's text encoder takes "
                + std::to_string(dim) + " (the embedding was made for another model"
                + (v.size(1) == 768         ? ": SD 1.x"
                        : v.size(1) == 1024 ? ": SD 2.x"
                                            : "")
                + ")");
    if (v.size(0) > 75)
        fail(ErrorKind::Format,
            where + ": " + std::to_string(v.size(0)) + " vectors; an embedding must fit one 75-token chunk");
    if (!at::isfinite(v).all().item<bool>())
        fail(ErrorKind::Format, where + ": holds NaN or infinite values");
    return v;
}

} // namespace ls::models

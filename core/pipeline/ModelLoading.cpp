#include "pipeline/ModelLoading.h"

#include "models/VaeFile.h"

#include "io/ConfigFile.h"
#include "io/DiffusersFolder.h"
#include "util/Error.h"
#include "util/Sha256.h"

#include <cstdlib>
#include <fstream>
#include <optional>
#include <unistd.h>

namespace ls::pipeline {

UpscaleMethod upscaleMethodFor(models::Family f)
{
    if (f == models::Family::SD2Upscaler)
        return UpscaleMethod::SdX4;
    return models::isUpscaler(f) ? UpscaleMethod::SuperResolution : UpscaleMethod::TiledImg2Img;
}

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
[[noreturn]] void loadingStopped(const std::string& path) { fail(ErrorKind::Cancelled, path + ": loading stopped"); }

// Counts what the model takes from the weights, for load progress (and a way to stop a load between tensors).
class ProgressSource : public io::WeightSource {
public:
    ProgressSource(const io::WeightSource& inner, std::function<bool(double)> onProgress)
        : m_inner(inner)
        , m_onProgress(std::move(onProgress))
    {
        for (const auto& k : inner.keys())
            if (k.rfind("model_ema.", 0) != 0) // EMA copies are never loaded
                m_total += static_cast<double>(inner.info(k).numel());
    }
    std::string path() const override { return m_inner.path(); }
    std::vector<std::string> keys() const override { return m_inner.keys(); }
    bool contains(const std::string& key) const override { return m_inner.contains(key); }
    io::TensorInfo info(const std::string& key) const override { return m_inner.info(key); }
    at::Tensor load(const std::string& key) const override
    {
        at::Tensor t = m_inner.load(key);
        m_done += static_cast<double>(t.numel());
        const double share = m_total > 0 ? std::min(1.0, m_done / m_total) : 1.0;
        if (share >= m_reported + 0.01 || share >= 1.0) { // about a hundred reports per load
            m_reported = share;
            if (!m_onProgress(share))
                loadingStopped(m_inner.path());
        }
        return t;
    }
    void release(const std::string& key) const override { m_inner.release(key); }

private:
    const io::WeightSource& m_inner;
    std::function<bool(double)> m_onProgress;
    double m_total = 0;
    mutable double m_done = 0, m_reported = 0;
};
} // namespace

std::vector<fs::path> vocabularySearchPath(const fs::path& modelPath, const fs::path& configured)
{
    std::vector<fs::path> c;
    if (!configured.empty())
        c.push_back(configured);
    if (const char* env = std::getenv("LS_CLIP_VOCAB"))
        c.emplace_back(env);
    if (!modelPath.empty()) {
        const fs::path dir = fs::is_directory(modelPath) ? modelPath : modelPath.parent_path();
        c.push_back(dir / "tokenizer");
        c.push_back(dir);
    }
    if (const char* home = std::getenv("HOME"))
        c.push_back(fs::path(home) / ".local/share/latent-studio/clip");
    c.emplace_back("/usr/share/latent-studio/clip");
    return c;
}

int nativeResolution(const models::ModelConfig& c)
{
    switch (c.family) {
    case models::Family::Synthetic:
        return 64;
    case models::Family::Layout2Img:
        return 256;
    case models::Family::SD2:
    case models::Family::SD2Inpaint:
        return c.parameterization == "v" ? 768 : 512;
    case models::Family::SDXL:
    case models::Family::SDXLRefiner:
        return 1024;
    default:
        return 512;
    }
}

fs::path findBundledModel(const std::string& which)
{
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    std::vector<fs::path> roots;
    if (const char* env = std::getenv("LS_MODELS_DIR"))
        roots.emplace_back(env);
    if (n > 0) {
        const fs::path exe(std::string(buf, static_cast<size_t>(n)));
        roots.push_back(exe.parent_path() / "../share/latent-studio/models");
        for (fs::path p = exe.parent_path(); !p.empty() && p != p.parent_path(); p = p.parent_path())
            roots.push_back(p / "resources/models");
    }
    for (const auto& r : roots) {
        std::error_code ec;
        if (fs::exists(r / which / "model.safetensors", ec))
            return fs::weakly_canonical(r / which / "model.safetensors");
    }
    fail(ErrorKind::InvalidInput,
        "the bundled model '" + which + "' is not installed (looked for resources/models/" + which
            + "/model.safetensors next to the program)");
}

LoadedModel loadModel(const fs::path& path, const ModelLoadOptions& o)
{
    auto status = [&](const std::string& s) {
        if (o.onStatus)
            o.onStatus(s);
    };
    status("opening " + path.string());
    std::shared_ptr<io::WeightSource> w = io::openWeights(path);
    models::ModelConfig cfg;
    if (!o.configFile.empty()) {
        cfg = models::configFromLdmJson(io::readConfigFile(o.configFile), w.get());
        cfg.source = o.configFile.string();
    } else if (auto* d = dynamic_cast<io::DiffusersFolder*>(w.get())) {
        cfg = models::configFromLdmJson(d->ldmConfig(), d);
    } else if (auto beside = models::findConfigBeside(path)) {
        cfg = models::configFromLdmJson(*beside, w.get());
    } else {
        cfg = models::detectConfig(*w, o.prediction ? predictionName(*o.prediction) : std::string());
    }
    if (o.prediction)
        cfg.parameterization = predictionName(*o.prediction);
    status(std::string("loading ") + models::familyName(cfg.family) + " weights");
    LoadedModel lm;
    std::optional<ProgressSource> counted;
    if (o.onProgress) {
        if (!o.onProgress(0.0))
            loadingStopped(path.string());
        counted.emplace(*w, o.onProgress);
    }
    lm.model = models::LatentModel::load(
        counted ? static_cast<const io::WeightSource&>(*counted) : *w, cfg, at::TensorOptions().dtype(o.dtype));
    if (o.onProgress && !o.onProgress(1.0)) // the share counted can stop short of 1: schedule buffers are read apart
        loadingStopped(path.string());
    if (!o.vae.empty()) {
        status("loading the VAE " + o.vae.string());
        bool loaded = true;
        try {
            models::loadVae(*lm.model, o.vae);
        } catch (const Error& e) {
            if (!o.vaeFallback || e.kind() == ErrorKind::Cancelled)
                throw;
            lm.model->warnings.push_back(std::string(e.what()) + "\n  (using the model's own VAE)");
            loaded = false;
        }
        if (loaded) {
            lm.info.vae = o.vae.filename().string();
            if (o.hash && fs::is_regular_file(o.vae))
                lm.info.vaeHash = sha256File(o.vae).substr(0, 10);
        }
    }
    lm.warnings = lm.model->warnings;
    // AUTOMATIC1111's "Model": the file name without its extension (any: .safetensors, .ckpt, .pt); a folder's name
    const fs::path named = path.filename().empty() ? path.parent_path() : path;
    lm.info.name = fs::is_directory(named) ? named.filename().string() : named.stem().string();
    if (o.hash && fs::is_regular_file(path)) {
        status("hashing");
        lm.info.sha256 = sha256File(path);
        lm.info.hash = lm.info.sha256.substr(0, 10);
    }
    if (o.tokenizer
        && (cfg.cond == models::CondStage::Clip || cfg.cond == models::CondStage::OpenClip
            || cfg.cond == models::CondStage::SdxlBase || cfg.cond == models::CondStage::SdxlRefiner)) {
        status("reading the CLIP vocabulary");
        lm.tokenizer = std::make_shared<text::ClipTokenizer>(
            text::ClipTokenizer::find(vocabularySearchPath(path, o.vocabulary)));
    }
    if (cfg.family == models::Family::Layout2Img) {
        std::vector<fs::path> candidates;
        if (!o.classesFile.empty())
            candidates.push_back(o.classesFile);
        const fs::path dir = fs::is_directory(path) ? path : path.parent_path();
        candidates.push_back(dir / "classes.json");
        for (const auto& c : candidates) {
            if (!fs::is_regular_file(c))
                continue;
            std::ifstream in(c);
            json j = json::parse(in, nullptr, false);
            if (j.is_discarded())
                fail(ErrorKind::Format, c.string() + ": not valid JSON");
            const json& list = j.contains("classes") ? j["classes"] : j;
            for (const auto& e : list)
                lm.layoutClasses.push_back(e.is_string() ? e.get<std::string>() : e.value("name", std::string()));
            break;
        }
        if (lm.layoutClasses.empty())
            fail(ErrorKind::Io,
                path.string()
                    + ": the layout2img model needs its class list (classes.json beside the checkpoint, or --classes)");
    }
    return lm;
}

} // namespace ls::pipeline

#pragma once
// What the jobs share (private to core/pipeline): the loaded model and its adapters (LoRAs, textual-inversion
// embeddings), the guided noise prediction, per-step reporting, seeded noise, and small helpers. Generator owns one;
// each job in core/pipeline/jobs works on it.
#include "models/LatentModel.h"
#include "models/Lora.h"
#include "models/controlnet/ControlNet.h"
#include "models/taesd/Taesd.h"
#include "pipeline/GenerationRequest.h"
#include "pipeline/GenerationTypes.h"
#include "pipeline/ModelLoading.h"
#include "pipeline/Preview.h"
#include "sampling/Samplers.h"
#include "text/ClipTokenizer.h"
#include "text/PromptWeights.h"
#include "util/StopToken.h"

#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>

namespace ls::pipeline::detail {

using Clock = std::chrono::steady_clock;

inline int roundUp(int v, int m) { return (v + m - 1) / m * m; }

// A name inside A1111's "Name: hash, Name: hash" lists, which drop ':' and ',' from names.
std::string withoutListMarks(std::string name);
// Takes the <lora:...> tags out of every prompt of the request (appending them to *tags after request.loras).
void stripLoraTags(GenerationRequest& r, std::vector<text::LoraTag>* tags);

// What was read from files, kept while the file stays the same (by path, modification time and size).
template <class T> class FileCache {
public:
    template <class Read> const T& get(const std::filesystem::path& file, Read&& read)
    {
        const std::string key = std::filesystem::absolute(file).lexically_normal().string();
        std::error_code ec;
        const auto mtime = std::filesystem::last_write_time(file, ec);
        const auto size = std::filesystem::file_size(file, ec);
        auto it = m_entries.find(key);
        if (it == m_entries.end() || it->second.mtime != mtime || it->second.size != size)
            it = m_entries.insert_or_assign(key, Entry { mtime, size, read() }).first;
        return it->second.value;
    }

private:
    struct Entry {
        std::filesystem::file_time_type mtime;
        uintmax_t size = 0;
        T value;
    };
    std::map<std::string, Entry> m_entries;
};

// One seeded CPU generator per batch image: the same seed gives the same noise on any device.
struct NoiseSource {
    std::vector<at::Generator> gens;
    NoiseSource(int64_t seed, int n)
    {
        for (int i = 0; i < n; ++i)
            gens.push_back(at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed + i)));
    }
    at::Tensor draw(at::IntArrayRef perImage, const at::TensorOptions& o)
    {
        std::vector<at::Tensor> parts;
        for (auto& g : gens)
            parts.push_back(at::randn(perImage, g, at::TensorOptions().dtype(at::kFloat)));
        return at::stack(parts).to(o);
    }
};

// Layout channels of the condition and of the unconditional copy, [1, K, h, w] each (models with layout_channels).
struct LayoutChannels {
    at::Tensor cond, uncond;
};
struct JobCondition;

struct GeneratorState {
    std::shared_ptr<models::LatentModel> model;
    std::shared_ptr<const text::ClipTokenizer> tokenizer;
    ModelInfo info;
    std::vector<std::string> classes;
    std::unique_ptr<LatentPreviewer> previewer;
    // TAESD previews (8x the latent size, a real decoder's picture) when a decoder file is set; read on first use.
    std::filesystem::path taesdFile;
    std::optional<models::TinyAutoencoderHalf> taesd;
    std::string taesdError; // why the file could not be used (the projection is used instead)
    bool taesdTried = false;
    const models::TinyAutoencoderHalf* previewDecoder();

    // LoRAs: read once per file (while it stays the same), applied as exactly the set a request names.
    std::vector<std::filesystem::path> loraFolders;
    FileCache<std::shared_ptr<const models::Lora>> loraCache;
    models::LoraSet loraSet;
    std::vector<models::LoraSet::Use> applyLoras(
        const std::vector<text::LoraTag>& tags, std::vector<std::string>& warnings);
    std::string describeLoraFolders() const;

    // Textual inversion: the embeddings the request's prompts name become the text encoder's extra token rows.
    std::vector<std::filesystem::path> embeddingFolders;
    struct EmbeddingFile {
        at::Tensor vectors; // SDXL: clip_l's
        at::Tensor vectorsG; // SDXL: clip_g's (bigG)
        std::string hash;
    };
    FileCache<EmbeddingFile> embeddingCache;
    std::vector<text::EmbeddingToken> embeddingTokens;
    std::vector<std::pair<std::string, std::string>> embeddingsUsed; // name, hash
    void prepareEmbeddings(const GenerationRequest& r);

    // ControlNets, read once per file (while it stays the same) for this model.
    FileCache<std::shared_ptr<models::ControlNet>> controlNets;

    // The refiner (GenerationRequest::refinerModel): loaded on first use with the model's dtype and device, kept while
    // the same file is asked for.
    std::shared_ptr<models::LatentModel> refiner;
    ModelInfo refinerInfo;
    std::filesystem::path refinerPath;
    std::shared_ptr<models::LatentModel> refinerFor(const std::filesystem::path& path);

    // The bundled model: a warning naming the prompt words it does not know (empty when it knows them all).
    std::string unknownWordsWarning(const GenerationRequest& r) const;

    at::ScalarType dtype() const { return model->computeType(); }
    int pixelMultiple() const
    {
        const int f = static_cast<int>(model->config.firstStage.downFactor());
        return f * (1 << (model->config.unet.channelMult.size() - 1));
    }
    bool inpaintModel() const { return model->config.unet.inChannels == model->config.firstStage.embedDim * 2 + 1; }
    bool isUpscaler() const { return models::isUpscaler(model->config.family); }
    // How the upscale job enlarges with the model loaded (Lanczos without one).
    UpscaleMethod upscaleMethod() const
    {
        return model ? upscaleMethodFor(model->config.family) : UpscaleMethod::Lanczos;
    }

    // Guided eps for a batch: contexts stacked as [uncond, cond...] (or only cond when scale == 1; condCount of them
    // for regional guidance, merged by the condition's combine), SDXL's vectors likewise. concat is appended to every
    // copy's input; layout channels ([1, K, h, w] for the condition and for the unconditional copy) follow it.
    // classLabels: the x4 upscaler's noise level, per image.
    // `on`: the model that predicts (the refiner's turn), else `model`.
    sampling::EpsFn guidedEps(const StopToken& stop, const JobCondition& condition, double scale,
        at::Tensor concat = {}, at::Tensor classLabels = {}, std::shared_ptr<models::LatentModel> on = nullptr);

    Image decodeImage(const at::Tensor& latent, int index, int vaeTile);
    // The final picture: the VAE's decode, or TAESD's with fast decode (an unusable decoder file is an error then).
    Image decodeResult(const at::Tensor& latent, int index, const GenerationRequest& r);

    // Progress, previews (latent projection or full decode, as the request asks) and the step count to the callback.
    sampling::StepFn stepReporter(
        const GenerationRequest& r, const StepCallback& cb, Clock::time_point t0, int tile, int tiles);
};

} // namespace ls::pipeline::detail

#pragma once
// The jobs: text-to-image, image-to-image, inpainting (9-channel models or latent blending, "only masked"),
// layout-to-image (the layout2img model's box tokens, or regional guidance on any text model) and upscaling
// (LDM-SR 4x, SD x4 upscaler, tiled; Lanczos without a model). Streams every step, stops when asked.
#include "models/LatentModel.h"
#include "pipeline/GenerationRequest.h"
#include "pipeline/GenerationTypes.h"
#include "text/ClipTokenizer.h"
#include "util/Image.h"
#include "util/StopToken.h"

#include <filesystem>
#include <functional>
#include <map>
#include <memory>

namespace ls::pipeline {

namespace detail {
struct GeneratorState;
}

class Generator {
public:
    // model may be null for plain Lanczos upscaling. layoutClasses: class names of the layout2img model, by index.
    Generator(std::shared_ptr<models::LatentModel> model, std::shared_ptr<const text::ClipTokenizer> tokenizer,
        ModelInfo info = {}, std::vector<std::string> layoutClasses = {});
    ~Generator();

    // Validates (throws InvalidInput listing every problem), then runs. Cancelled jobs throw Error(Cancelled) and
    // produce nothing.
    GenerationResult run(const GenerationRequest& request, const StepCallback& onStep, const StopToken& stop);

    // Model-dependent problems (job vs family, vocabulary), in addition to request.validate().
    std::vector<Problem> check(const GenerationRequest& request) const;
    models::LatentModel* model() const { return m_model.get(); }

    // Peak working memory of a request beyond the loaded weights (UNet activations and skips for the guided batch,
    // chunked attention, the decoder at full resolution), in bytes. 0 for upscaling, whose tiles bound it.
    uint64_t estimateMemory(const GenerationRequest& request) const;
    // Requests whose estimate exceeds the budget are refused by check() before anything is allocated.
    // 0 (default): the memory available now (MemAvailable of /proc/meminfo).
    void setMemoryBudget(uint64_t bytes) { m_budget = bytes; }

    // Folders that LoRA names (<lora:NAME:W> in prompts, GenerationRequest::loras) are looked up in, subfolders
    // included. Default: defaultLoraFolders(the model's file).
    void setLoraFolders(std::vector<std::filesystem::path> folders);
    const std::vector<std::filesystem::path>& loraFolders() const;
    // Folders whose textual-inversion embeddings prompts may use by name. Default: defaultEmbeddingFolders(the model).
    void setEmbeddingFolders(std::vector<std::filesystem::path> folders);
    const std::vector<std::filesystem::path>& embeddingFolders() const;
    // A TAESD decoder (taesd_decoder.safetensors/.pth) for the per-step previews: a real decoder's picture at full
    // size for about a fiftieth of the VAE's cost, instead of the latent-size projection. Empty: the projection.
    // Default for SD1/SD2 models: findPreviewDecoder(the model's file). A file that cannot be used is reported in the
    // result's warnings and the projection is used.
    void setPreviewDecoder(const std::filesystem::path& taesdDecoder);
    std::filesystem::path previewDecoder() const;

private:
    // recordAs: the request the results' metadata describes, when it is not this one (the hires pass's img2img records
    // its text-to-image request, at the first pass's size).
    GenerationResult runChecked(const GenerationRequest& request, const StepCallback& onStep, const StopToken& stop,
        const GenerationRequest* recordAs = nullptr);
    // Text-to-image with a hires pass: the picture, Lanczos-enlarged, repainted by image-to-image at the larger size.
    GenerationResult runHires(const GenerationRequest& request, const StepCallback& onStep, const StopToken& stop);
    std::unique_ptr<detail::GeneratorState> d; // what the jobs share (jobs/JobContext.h)
    std::shared_ptr<models::LatentModel> m_model;
    uint64_t m_budget = 0;
};

// Bytes of memory available to a new allocation now (MemAvailable), or 0 when unknown.
uint64_t availableMemory();

} // namespace ls::pipeline

#pragma once
// The engine seen from a front end, without torch in sight: load a model (any supported file, or none for plain
// upscaling), then run requests. One Engine per worker thread; calls are not thread-safe, the StopToken is.
#include "pipeline/GenerationRequest.h"
#include "pipeline/GenerationTypes.h"
#include "pipeline/Names.h"
#include "util/StopToken.h"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace ls::pipeline {

struct EngineLoadOptions {
    std::filesystem::path configFile;
    std::filesystem::path vocabulary;
    std::filesystem::path vae; // a stand-alone VAE in place of the model's own (empty: its own)
    bool vaeFallback = false; // one that does not fit the model: its own VAE and a warning, not an error
    std::optional<Prediction> prediction; // none: the file's own, or detection
    std::filesystem::path classesFile; // layout2img: its classes.json (default: beside the model)
    std::string dtype = "fp32"; // weights: fp32, fp16 or bf16 (the CPU computes in fp32 either way)
    bool hash = true;
    int threads = 0; // 0: all cores
    Device device = Device::Cpu; // Cuda: the model's weights and every model call on the GPU (a warning and the CPU
                                 // when there is none, or an error when deviceRequired)
    bool deviceRequired = false;
    // Share of the weights loaded (0..1); return false to stop the load (ErrorKind::Cancelled; the model loaded
    // before stays).
    std::function<bool(double)> onProgress;
};

struct ModelSummary {
    std::string path;
    std::string family; // models::familyName
    std::string name;
    std::string sha256; // of the file (empty when not hashed, or a folder)
    bool inpainting = false; // a 9-channel inpainting model
    int nativeResolution = 512;
    bool upscaler = false; // an upscaling model: its only job is upscale
    std::vector<JobMode> jobs; // the jobs it does
    std::vector<std::string> warnings;
};

// A model path that names a bundled model: "bundled:default" (text-to-image etc.) or "bundled:default-sr".
std::string bundledModelPath(JobMode mode);

class Engine {
public:
    Engine();
    ~Engine();
    // Throws ls::Error with a message naming the file and the cause.
    ModelSummary load(const std::filesystem::path& path, const EngineLoadOptions& options = {},
        const std::function<void(const std::string&)>& onStatus = {});
    void unload();
    bool hasModel() const;
    const ModelSummary& summary() const;
    GenerationResult run(const GenerationRequest& request, const StepCallback& onStep, const StopToken& stop);
    std::vector<Problem> check(const GenerationRequest& request) const;

    // Folders searched for LoRA names before the default ones (pipeline/LoraFiles.h); kept across model loads.
    void setLoraFolders(std::vector<std::filesystem::path> folders);
    // Every folder searched with the model loaded now, in order.
    std::vector<std::filesystem::path> loraFolders() const;
    // The same for textual-inversion embeddings.
    void setEmbeddingFolders(std::vector<std::filesystem::path> folders);
    // TAESD decoder for the per-step previews (Generator::setPreviewDecoder); empty: the model's default. Kept across
    // loads.
    void setPreviewDecoder(std::filesystem::path taesdDecoder);
    // True when this libtorch build has CUDA and a GPU is visible.
    static bool cudaAvailable();

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace ls::pipeline

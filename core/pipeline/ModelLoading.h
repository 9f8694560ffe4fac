#pragma once
// Opening a model the way every front end does: the weights (any supported format), its configuration (a JSON or
// the original yaml-as-JSON given explicitly or found beside the checkpoint, else detected from the weights), the
// CLIP vocabulary from the usual places, the layout classes, and the name/hash for metadata.
#include "pipeline/Names.h"
#include "models/LatentModel.h"
#include "pipeline/Generator.h"
#include "text/ClipTokenizer.h"

#include <filesystem>
#include <functional>
#include <optional>

namespace ls::pipeline {

// The upscale job's method for a model of this family.
UpscaleMethod upscaleMethodFor(models::Family f);

struct ModelLoadOptions {
    std::filesystem::path configFile; // optional override
    std::optional<Prediction> prediction; // none: the file's own, or detection
    std::filesystem::path vocabulary; // optional: file or folder
    std::filesystem::path classesFile; // optional: layout2img classes.json
    std::filesystem::path vae; // optional: a stand-alone VAE in place of the model's own (models/VaeFile.h)
    bool vaeFallback = false; // a VAE that does not fit: keep the model's own, with a warning (else an error)
    at::ScalarType dtype = at::kFloat;
    bool hash = true; // compute the SHA-256 model hash for metadata
    bool tokenizer = true; // read the CLIP vocabulary (off: the caller has one, e.g. a refiner beside its base)
    std::function<void(const std::string&)> onStatus; // progress messages
    // Share of the weights copied so far (0..1, rising; 1 once the weights are in). Returning false stops the load:
    // loadModel throws ErrorKind::Cancelled and nothing is kept.
    std::function<bool(double)> onProgress;
};

struct LoadedModel {
    std::shared_ptr<models::LatentModel> model;
    std::shared_ptr<const text::ClipTokenizer> tokenizer; // null when the model needs none
    ModelInfo info;
    std::vector<std::string> layoutClasses;
    std::vector<std::string> warnings;
};

LoadedModel loadModel(const std::filesystem::path& path, const ModelLoadOptions& options = {});

// The resolution a model was trained at (pixels per side): 64 for the bundled model, 512 for SD, 768 for SD2-v,
// 256 for layout2img.
int nativeResolution(const models::ModelConfig& config);

// The bundled default model ("default" text-and-layout model, "default-sr" upscaler) next to the executable
// (build tree: resources/models, install: share/latent-studio/models); throws InvalidInput when absent.
std::filesystem::path findBundledModel(const std::string& which = "default");

// Where the CLIP vocabulary is looked for, in order (for messages and settings).
std::vector<std::filesystem::path> vocabularySearchPath(
    const std::filesystem::path& modelPath, const std::filesystem::path& configured);

} // namespace ls::pipeline

#pragma once
// One loaded latent diffusion model: UNet, first stage, conditioning encoder and noise schedule, built from a
// ModelConfig and filled strictly from a weight source.
#include "models/Loader.h"
#include "models/ModelConfig.h"
#include "sampling/Schedule.h"

namespace ls::models {

struct LatentModel {
    ModelConfig config;
    UNetModel unet { nullptr };
    Autoencoder firstStage { nullptr };
    ClipTextModel clip { nullptr };
    OpenClipTextModel openclip { nullptr };
    BertEmbedder bert { nullptr };
    sampling::BetaSchedule schedule;
    at::TensorOptions options;
    std::string path;
    std::vector<std::string> warnings;

    // Builds every part (on the meta device when options say so: shapes only, nothing allocated).
    static std::shared_ptr<LatentModel> build(const ModelConfig& config, const at::TensorOptions& options);
    // Builds and loads strictly; throws one Mismatch error listing every missing/unexpected/misshaped key.
    static std::shared_ptr<LatentModel> load(const io::WeightSource& weights, const ModelConfig& config,
        const at::TensorOptions& options = at::TensorOptions().dtype(at::kFloat));

    // Full key list with shapes in the original checkpoint layout (the manifest view).
    std::vector<std::pair<std::string, std::vector<int64_t>>> checkpointKeys();
    // Visits (key, tensor) of every part, prefixed as in a single-file checkpoint.
    void forEachTensor(const std::function<void(const std::string&, at::Tensor&)>& fn);

    // Scaled latent <-> image in [-1, 1].
    at::Tensor encodeImage(const at::Tensor& image, const at::Tensor& noise = {});
    at::Tensor decodeLatent(const at::Tensor& latent);
};

// True for keys a real checkpoint carries besides the modules (schedule buffers, EMA copies, training state).
bool isAuxiliaryKey(const std::string& key);

} // namespace ls::models

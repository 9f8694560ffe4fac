#pragma once
// One loaded latent diffusion model: UNet, first stage, conditioning encoder and noise schedule, built from a
// ModelConfig and filled strictly from a weight source.
#include "models/Accel.h"
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

    // The dtype activations have: options' dtype, except fp32 for fp16/bf16-stored weights on the CPU.
    at::ScalarType computeType() const;
    at::Device device() const { return options.device(); }
    // Moves every weight to `device` (a CUDA GPU) and makes it the model's device. The pipeline keeps its own tensors
    // (latents, masks, conditions between calls) on the CPU; every model call takes its inputs to the model's device
    // and the Generator brings the outputs back.
    // On CUDA also applies the accel settings: cuDNN benchmark mode, channels-last convolution weights.
    void moveTo(const at::Device& device);
    // The UNet's 4-D weights in channels-last (true) or contiguous order; drops the captured UNet graphs.
    void setChannelsLast(bool on);
    // One UNet call with inputs from anywhere (taken to the model's device and compute dtype); the output is on the
    // model's device. On CUDA it replays a captured graph per input shape (accel::GraphCache); a failed capture is
    // reported once on stderr (and in unetGraphs->error()) and the eager path used from then on.
    // control: ControlNet residuals (eager: no captured graph).
    at::Tensor denoise(const at::Tensor& x, const at::Tensor& t, const at::Tensor& context = {},
        const at::Tensor& y = {}, const std::vector<at::Tensor>* control = nullptr);
    std::shared_ptr<accel::GraphCache> unetGraphs = std::make_shared<accel::GraphCache>();
    // Scaled latent <-> image in [-1, 1], on the model's device (inputs from anywhere).
    at::Tensor encodeImage(const at::Tensor& image, const at::Tensor& noise = {});
    // tile: -1 = automatic (tiles of 64 latent pixels once a side exceeds 96, i.e. past 768 pixels for SD), 0 = whole,
    // N = tiles of N latent pixels. Tiles overlap by a quarter and are blended (tiledDecode).
    at::Tensor decodeLatent(const at::Tensor& latent, int64_t tile = -1);
};

// Tile origins along one side of `size`: 0, tile - overlap, ... and a last one flush with the end (one tile at 0 when
// the side fits). Shared by the tiled decode and the tiled upscaler.
std::vector<int64_t> tileStarts(int64_t size, int64_t tile, int64_t overlap);

// Tiled decoding: fn maps a latent tile [B, C, h, w] to pixels [B, 3, h*f, w*f]; tiles of `tile` latent pixels overlap
// by `overlap` and are blended with linear ramps across the overlap, so memory is bounded by the tile size whatever
// the image size. For a pointwise fn the result equals fn on the whole latent.
at::Tensor tiledDecode(const at::Tensor& latent, int64_t f, int64_t tile, int64_t overlap,
    const std::function<at::Tensor(const at::Tensor&)>& fn);

// True for keys a real checkpoint carries besides the modules (schedule buffers, EMA copies, training state).
bool isAuxiliaryKey(const std::string& key);

} // namespace ls::models

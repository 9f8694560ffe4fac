#pragma once
// What a training run is asked to do (train/Trainer.h has the rest); torch-free, so front ends can fill it in.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace ls::train {

struct TrainOptions {
    std::string stage; // autoencoder | decoder | diffusion | sr | bundle
    std::filesystem::path out; // work folder: <out>/<stage>/ holds checkpoints and progress
    int steps = 0; // 0 = the stage's default
    int batch = 0; // 0 = the stage's default
    double lr = 0; // 0 = the stage's default
    std::string device = "cpu";
    bool resume = false;
    uint64_t seed = 1;
    int saveEvery = 250;
    int dataset = 0; // diffusion/sr: training scenes encoded once and cached (0 = default 32768)
    int coordChannels = -1; // diffusion: UNet coordinate channels, 0 or 2 (-1 = the family's default, 2)
    int layoutChannels = -1; // diffusion: layout channels painted from the boxes, 0 or 7 (-1 = the family's default, 7)
    bool zeroTerminalSnr = false; // diffusion/sr: zero-terminal-SNR schedule with v-prediction (else SD's linear, eps)
    double latentNoise = 0.2; // decoder: latents perturbed by Gaussian noise of up to this many latent std
    std::filesystem::path init; // diffusion/sr: warm start from this checkpoint (a bundled model.safetensors)
    std::filesystem::path bundleTo; // bundle: resources/models
    std::function<void(const std::string&)> log; // progress lines (stderr by default)
};

int runTraining(const TrainOptions& options);

} // namespace ls::train

// latent-cli bench's options; the measuring is tools::runBench (core/tools/Bench.cpp).
#include "cli/Bench.h"

#include "pipeline/Names.h"

namespace ls::cli {

void addBenchOptions(CLI::App* cmd, tools::BenchOptions& o)
{
    cmd->add_option("--model", o.model, "Checkpoint to load");
    cmd->add_option("--config", o.config, "Config JSON for --model");
    cmd->add_option("--random", o.random,
           "Published configuration with random weights (e.g. sd1_v1_inference); a random checkpoint is written once "
           "to ~/.cache/latent-studio and loaded like a user file")
        ->check(CLI::IsMember(tools::knownModelConfigs()));
    cmd->add_option("--vocab", o.vocab, "CLIP vocabulary (else a synthetic prompt of token ids is encoded)");
    cmd->add_option("--size", o.size, "WxH in pixels");
    cmd->add_option("--steps", o.steps, "Guided steps to time");
    cmd->add_option("--batch", o.batch, "Images per step (the UNet sees 2x for guidance)");
    cmd->add_option("--device", o.device, "cpu or cuda")->check(CLI::IsMember(pipeline::deviceNames()));
    cmd->add_option("--dtype", o.dtype, "fp32, fp16 or bf16")->check(CLI::IsMember({ "fp32", "fp16", "bf16" }));
    cmd->add_option("--file-dtype", o.fileDtype, "Storage dtype of the --random checkpoint (default: --dtype)")
        ->check(CLI::IsMember({ "fp32", "fp16", "bf16" }));
    cmd->add_option("--threads", o.threads, "CPU threads (default: all cores)");
    cmd->add_flag("--no-decode", o.noDecode, "Skip the VAE decode");
    cmd->add_option("--profile", o.profile,
        "Write a chrome://tracing trace of the timed steps and the decode (every operator, its shapes and time) to "
        "this file");
    cmd->add_option("--vae-tile", o.vaeTile,
        "VAE decode tiles in latent pixels: -1 automatic, 0 whole image, N >= 16 (bounds memory)");
    cmd->add_option("--attention", o.attention, "Attention kernel: auto (SDPA on CUDA where built in), chunked or sdpa")
        ->check(CLI::IsMember({ "auto", "chunked", "sdpa" }));
    cmd->add_option(
           "--cuda-graphs", o.cudaGraphs, "Replay the UNet call as a captured CUDA graph: on or off (default on)")
        ->check(CLI::IsMember({ "on", "off" }));
    cmd->add_flag("--channels-last", o.channelsLast, "Convolution weights in channels-last order (CUDA)");
    cmd->add_flag("--variants", o.variants,
        "Also time one UNet call under every fast-path combination (attention kernel, CUDA graphs, channels-last, "
        "native group norm) with its largest deviation from the portable eager path");
    cmd->add_option("--taesd", o.taesd,
        "A TAESD decoder (taesd_decoder.safetensors/.pth): also time its decode of the same latent");
    cmd->add_flag("--json", o.json, "Print one JSON object");
}

} // namespace ls::cli

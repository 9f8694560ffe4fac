#pragma once
// The developer tools behind latent-cli's bench, golden, info, manifest, random-checkpoint, train and eval, seen
// without torch (like pipeline/Engine.h for the jobs): option structs in, a process exit code (or JSON) out, reports on
// stdout/stderr. They use the layers below the engine directly (models, sampling, io), so they live in core/.
#include "train/Evaluator.h"
#include "train/TrainOptions.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ls::tools {

// latent-cli bench: load, text encoding, seconds per guided step (median), decode, total, peak memory.
struct BenchOptions {
    std::string model, config, random, vocab;
    std::string size = "256x256";
    std::string device = "cpu";
    std::string dtype = "fp32";
    std::string fileDtype; // random checkpoint storage dtype (default: --dtype)
    std::string sampler = "Euler";
    int steps = 3;
    int batch = 1;
    int threads = 0;
    bool json = false;
    bool noDecode = false;
    int vaeTile = -1; // VAE decode tiles (latent pixels): -1 automatic, 0 whole
    std::string profile; // chrome://tracing trace of the timed steps and the decode (operators, with shapes)
    std::string attention; // auto|chunked|sdpa (default: accel settings / LS_ATTENTION)
    std::string cudaGraphs; // on|off (default: accel settings / LS_CUDA_GRAPHS)
    bool channelsLast = false;
    bool variants = false; // also time the UNet call under each fast-path combination, with its deviation
    std::string taesd; // a TAESD decoder file: also time its decode of the same latent (the preview it gives)
};
int runBench(const BenchOptions& o);
// The published configurations --random and random-checkpoint accept (models::knownConfigNames), and the models
// with a key manifest (models::manifestNames).
std::vector<std::string> knownModelConfigs();
std::vector<std::string> manifestNames();

// latent-cli golden: every case folder under `dirs` against its reference outputs.
struct GoldenOptions {
    std::vector<std::string> dirs;
    bool verbose = false; // every output's error
    std::string pendingFile; // cases of families not built yet (PENDING; fails once one passes)
    std::string device = "cpu"; // or "cuda" (fp32, TF32 off)
    std::string vocabulary; // CLIP vocabulary for the tokenizer cases (empty: the case's vocab_file)
};
int runGolden(const GoldenOptions& o);

// latent-cli info FILE (a checkpoint, diffusers folder or ControlNet): what it holds, as JSON on stdout.
int printModelInfo(const std::string& path, const std::string& prediction);
// latent-cli manifest NAME: the key layout of a published configuration (models::manifestJson), on stdout.
int printManifest(const std::string& name);
// latent-cli random-checkpoint NAME OUT: a published configuration with random weights (dtype fp32, fp16 or bf16).
int writeRandomCheckpoint(const std::string& name, const std::string& out, const std::string& dtype, uint64_t seed);

} // namespace ls::tools

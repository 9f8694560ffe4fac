#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace ls::cli {

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

void addBenchOptions(CLI::App* cmd, BenchOptions& o);
int runBench(const BenchOptions& o);

} // namespace ls::cli

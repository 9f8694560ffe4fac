#pragma once
#include "pipeline/GenerationRequest.h"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

namespace ls::cli {

struct JobOptions {
    pipeline::JobMode mode = pipeline::JobMode::Txt2Img;
    pipeline::GenerationRequest request;
    CLI::App* command = nullptr;
    std::string extend, settingsFrom, taesd, controlPreprocess;
    std::string model, config, prediction, vocab, vae, output, previewDir, init, mask, boxes, classes;
    std::string device = "cpu", dtype = "fp32";
    std::vector<std::string> loras, loraDirs, embeddingDirs, controls;
    int threads = 0;
    bool json = false;
    bool noHash = false;
    bool lanczos = false;
    bool guessMode = false;
};

void addJobOptions(CLI::App* cmd, JobOptions& options, pipeline::JobMode mode);
int runJob(JobOptions& options);
int showImageInfo(const std::filesystem::path& path);

} // namespace ls::cli

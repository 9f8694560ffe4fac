#include "cli/Commands.h"
#include "cli/Generate.h"

#include "io/DiffusersFolder.h"
#include "io/SafeTensors.h"
#include "models/KnownConfigs.h"
#include "models/LatentModel.h"
#include "models/Manifest.h"
#include "models/RandomWeights.h"
#include "cli/Bench.h"
#include "util/Error.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/grad_mode.h>

#include <cstdio>
#include <iostream>

namespace ls::cli {

using nlohmann::json;

namespace {

int cmdInfo(const std::string& path, const std::string& prediction)
{
    auto w = io::openWeights(path);
    models::ModelConfig cfg;
    if (auto* d = dynamic_cast<io::DiffusersFolder*>(w.get()))
        cfg = models::configFromLdmJson(d->ldmConfig(), d);
    else if (auto beside = models::findConfigBeside(path))
        cfg = models::configFromLdmJson(*beside, w.get());
    else
        cfg = models::detectConfig(*w, prediction);
    json out;
    out["file"] = path;
    out["tensors"] = w->keys().size();
    out["config"] = cfg.toJson();
    std::cout << out.dump(2) << std::endl;
    return 0;
}

int cmdManifest(const std::string& name)
{
    std::cout << models::manifestJson(name).dump() << std::endl;
    return 0;
}

int cmdRandomCheckpoint(const std::string& name, const std::string& out, const std::string& dtype, uint64_t seed)
{
    const at::ScalarType st = dtype == "fp16" ? at::kHalf : dtype == "bf16" ? at::kBFloat16 : at::kFloat;
    models::writeRandomCheckpoint(name, out, st, seed);
    std::fprintf(stderr, "wrote %s (%s, random weights)\n", out.c_str(), dtype.c_str());
    return 0;
}

} // namespace

int run(int argc, char** argv)
{
    CLI::App app { "latent-cli: latent diffusion image synthesis from the command line (Latent Studio " LS_VERSION ")" };
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("latent-cli ") + LS_VERSION);

    std::vector<std::string> goldenDirs;
    bool verbose = false;
    auto* golden = app.add_subcommand("golden", "Run golden reference cases (folders with case.json)");
    golden->add_option("dirs", goldenDirs, "Case folders or folders of cases")->required();
    golden->add_flag("-v,--verbose", verbose, "Print every output's error");

    std::string infoPath, prediction;
    auto* info = app.add_subcommand("info", "Print what a checkpoint is (family, configuration), or an image's generation metadata");
    info->add_option("path", infoPath, "Checkpoint file, diffusers folder, or image")->required();
    info->add_option("--prediction", prediction, "eps or v (SD2 768-v checkpoints need v)")->check(CLI::IsMember({ "eps", "v" }));

    JobOptions jobs[5];
    const std::pair<const char*, const char*> jobNames[5] = { { "generate", "Text-to-image" }, { "img2img", "Image-to-image" },
        { "inpaint", "Brush inpainting: repaint the white part of a mask" }, { "layout", "Layout-to-image from boxes" },
        { "upscale", "Upscale (LDM-SR 4x, SD x4 upscaler, tiled; or Lanczos)" } };
    const pipeline::JobMode modes[5] = { pipeline::JobMode::Txt2Img, pipeline::JobMode::Img2Img, pipeline::JobMode::Inpaint,
        pipeline::JobMode::Layout, pipeline::JobMode::Upscale };
    CLI::App* jobCmds[5];
    for (int i = 0; i < 5; ++i) {
        jobCmds[i] = app.add_subcommand(jobNames[i].first, jobNames[i].second);
        addJobOptions(jobCmds[i], jobs[i], modes[i]);
        jobs[i].request.mode = modes[i];
    }

    std::string manifestName;
    auto* manifest = app.add_subcommand("manifest", "Print a full-size model's checkpoint keys and shapes (no weights allocated)");
    manifest->add_option("name", manifestName, "Model name")->required()->check(CLI::IsMember(models::knownConfigNames()));

    std::string rcName, rcOut, rcDtype = "fp32";
    uint64_t rcSeed = 0;
    auto* rc = app.add_subcommand("make-random-checkpoint", "Write a full-size checkpoint with random weights in the original key layout");
    rc->add_option("name", rcName, "Model name")->required()->check(CLI::IsMember(models::knownConfigNames()));
    rc->add_option("out", rcOut, "Output .safetensors")->required();
    rc->add_option("--dtype", rcDtype, "fp32, fp16 or bf16")->check(CLI::IsMember({ "fp32", "fp16", "bf16" }));
    rc->add_option("--seed", rcSeed, "Random seed");

    BenchOptions bench;
    auto* benchCmd = app.add_subcommand("bench", "Measure load, text encoding, guided step, decode times and peak memory");
    addBenchOptions(benchCmd, bench);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (*golden)
        return runGolden(goldenDirs, verbose);
    if (*benchCmd)
        return runBench(bench);
    for (int i = 0; i < 5; ++i)
        if (*jobCmds[i])
            return runJob(jobs[i]);
    if (*info) {
        std::string ext = std::filesystem::path(infoPath).extension().string();
        for (auto& ch : ext)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".webp" || ext == ".tif" || ext == ".tiff" || ext == ".exr")
            return showImageInfo(infoPath);
        return cmdInfo(infoPath, prediction);
    }
    if (*manifest)
        return cmdManifest(manifestName);
    if (*rc)
        return cmdRandomCheckpoint(rcName, rcOut, rcDtype, rcSeed);
    return 0;
}

} // namespace ls::cli

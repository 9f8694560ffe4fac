#include "cli/Commands.h"
#include "cli/Bench.h"
#include "cli/Generate.h"
#include "cli/Serve.h"

#include "tools/DevTools.h"
#include "util/Threads.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace ls::cli {

using nlohmann::json;

int run(int argc, char** argv)
{
    CLI::App app { "latent-cli: latent diffusion image synthesis from the command line (Latent Studio " LS_VERSION
                   ")" };
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("latent-cli ") + LS_VERSION);
    app.option_defaults()->always_capture_default(); // --help shows every option's default

    std::vector<std::string> goldenDirs;
    bool verbose = false;
    auto* golden = app.add_subcommand("golden", "Run golden reference cases (folders with case.json)");
    golden->add_option("dirs", goldenDirs, "Case folders or folders of cases")->required();
    golden->add_flag("-v,--verbose", verbose, "Print every output's error");
    std::string goldenDevice = "cpu";
    std::string goldenPending, goldenVocab;
    golden
        ->add_option("--vocab", goldenVocab, "CLIP vocabulary for the tokenizer cases (default: the case's vocab_file)")
        ->check(CLI::ExistingPath);
    golden
        ->add_option("--pending", goldenPending,
            "File of case names not implemented yet (one per line, '#' comments): they are reported as PENDING instead "
            "of "
            "failing, and a listed case that passes fails (take it off the list)")
        ->check(CLI::ExistingFile);
    golden->add_option("--device", goldenDevice, "cpu or cuda (fp32, TF32 off)")
        ->check(CLI::IsMember({ "cpu", "cuda" }));

    std::string infoPath, prediction;
    auto* info = app.add_subcommand(
        "info", "Print what a checkpoint is (family, configuration), or an image's generation metadata");
    info->add_option("path", infoPath, "Checkpoint file, diffusers folder, or image")->required();
    info->add_option("--prediction", prediction, "eps or v (SD2 768-v checkpoints need v)")
        ->check(CLI::IsMember({ "eps", "v" }));

    JobOptions jobs[5];
    const std::pair<const char*, const char*> jobNames[5] = { { "generate", "Text-to-image" },
        { "img2img", "Image-to-image" }, { "inpaint", "Brush inpainting: repaint the white part of a mask" },
        { "layout", "Layout-to-image from boxes" },
        { "upscale", "Upscale (LDM-SR 4x, SD x4 upscaler, tiled; or Lanczos)" } };
    const pipeline::JobMode modes[5] = { pipeline::JobMode::Txt2Img, pipeline::JobMode::Img2Img,
        pipeline::JobMode::Inpaint, pipeline::JobMode::Layout, pipeline::JobMode::Upscale };
    CLI::App* jobCmds[5];
    for (int i = 0; i < 5; ++i) {
        jobCmds[i] = app.add_subcommand(jobNames[i].first, jobNames[i].second);
        addJobOptions(jobCmds[i], jobs[i], modes[i]);
        jobs[i].request.mode = modes[i];
    }

    std::string manifestName;
    auto* manifest
        = app.add_subcommand("manifest", "Print a full-size model's checkpoint keys and shapes (no weights allocated)");
    manifest->add_option("name", manifestName, "Model name")->required()->check(CLI::IsMember(tools::manifestNames()));

    std::string rcName, rcOut, rcDtype = "fp32";
    uint64_t rcSeed = 0;
    auto* rc = app.add_subcommand(
        "make-random-checkpoint", "Write a full-size checkpoint with random weights in the original key layout");
    rc->add_option("name", rcName, "Model name")->required()->check(CLI::IsMember(tools::knownModelConfigs()));
    rc->add_option("out", rcOut, "Output .safetensors")->required();
    rc->add_option("--dtype", rcDtype, "fp32, fp16 or bf16")->check(CLI::IsMember({ "fp32", "fp16", "bf16" }));
    rc->add_option("--seed", rcSeed, "Random seed");

    train::TrainOptions trainOpts;
    std::string trainOut, bundleTo;
    int trainThreads = 0;
    auto* trainCmd = app.add_subcommand(
        "train", "Train a stage of the bundled default model (autoencoder, decoder, diffusion, sr) or bundle it");
    trainCmd
        ->add_option("stage", trainOpts.stage,
            "autoencoder | decoder (fine-tune the autoencoder's decoder on its frozen encoder) | diffusion | sr | "
            "bundle")
        ->required()
        ->check(CLI::IsMember({ "autoencoder", "decoder", "diffusion", "sr", "bundle" }));
    trainCmd->add_option("--out", trainOut, "Work folder (stages share it)")->required();
    trainCmd->add_option("--steps", trainOpts.steps, "Optimisation steps (default per stage)");
    trainCmd->add_option("--batch", trainOpts.batch, "Batch size (default per stage)");
    trainCmd->add_option("--lr", trainOpts.lr, "Learning rate (default per stage)");
    trainCmd->add_option("--device", trainOpts.device, "cpu or cuda")->check(CLI::IsMember({ "cpu", "cuda" }));
    trainCmd->add_option("--seed", trainOpts.seed, "Seed");
    trainCmd->add_option("--save-every", trainOpts.saveEvery, "Checkpoint every N steps");
    trainCmd->add_flag("--zero-terminal-snr", trainOpts.zeroTerminalSnr,
        "diffusion/sr: zero-terminal-SNR schedule (rescaled betas) with v-prediction, fixed when the stage starts");
    trainCmd
        ->add_option("--coord-channels", trainOpts.coordChannels,
            "diffusion: coordinate channels of the UNet (0 or 2; default 2), fixed when the stage starts")
        ->check(CLI::IsMember({ 0, 2 }));
    trainCmd
        ->add_option("--layout-channels", trainOpts.layoutChannels,
            "diffusion: layout channels, the condition's boxes painted beside the latent (0 or 7; default 7), fixed "
            "when the stage starts")
        ->check(CLI::IsMember({ 0, 7 }));
    trainCmd->add_option("--latent-noise", trainOpts.latentNoise,
        "decoder: perturb the latents by Gaussian noise of up to this many latent standard deviations (default 0.2)");
    trainCmd
        ->add_option("--init", trainOpts.init,
            "diffusion/sr: warm start from this checkpoint (e.g. a bundled model.safetensors); grown tensors keep the "
            "old values and zeros in the new part")
        ->check(CLI::ExistingFile);
    trainCmd->add_option("--dataset", trainOpts.dataset,
        "diffusion/sr: training scenes, encoded once and cached in the work folder (default 32768)");
    trainCmd->add_option("--threads", trainThreads, "CPU threads");
    trainCmd->add_flag("--resume", trainOpts.resume, "Continue from the stage's last checkpoint");
    trainCmd->add_option("--bundle-to", bundleTo, "bundle: destination folder (resources/models)");

    train::EvalOptions evalOpts;
    std::string evalModel, evalDump;
    int evalThreads = 0;
    auto* evalCmd = app.add_subcommand(
        "eval", "Score the bundled model (or MODEL) on held-out scenes with the synthetic world's detector");
    evalCmd->add_option("model", evalModel, "Model (default: the bundled one)");
    evalCmd
        ->add_option(
            "--task", evalOpts.task, "txt2img | layout | inpaint | upscale | autoencoder (first-stage round trip)")
        ->required()
        ->check(CLI::IsMember({ "txt2img", "layout", "inpaint", "upscale", "autoencoder" }));
    evalCmd->add_option("--n", evalOpts.n, "Held-out samples");
    evalCmd
        ->add_option("--split", evalOpts.split,
            "txt2img: heldout (default) or train (the first N training scenes, scored per object)")
        ->check(CLI::IsMember({ "heldout", "train" }));
    evalCmd->add_option("--seed", evalOpts.seed, "Seed");
    evalCmd->add_option("--steps", evalOpts.steps, "Sampling steps");
    evalCmd->add_option("--sampler", evalOpts.sampler, "Sampler");
    evalCmd->add_option("--cfg", evalOpts.cfg, "Guidance scale (default: 2 for inpaint, 5 for the other tasks)");
    evalCmd
        ->add_option("--strength", evalOpts.strength,
            "upscale: strength of the re-noising of the bicubic start (1 = from the terminal state)")
        ->check(CLI::Range(0.05, 1.0));
    evalCmd->add_flag("--no-caption-layout", evalOpts.noCaptionLayout,
        "txt2img/inpaint: do not lay out the caption's phrases as boxes (the model's cross-attention alone places "
        "objects)");
    evalCmd->add_option("--dump", evalDump, "Write the generated images here");
    evalCmd->add_option("--threads", evalThreads, "CPU threads");

    tools::BenchOptions bench;
    auto* benchCmd
        = app.add_subcommand("bench", "Measure load, text encoding, guided step, decode times and peak memory");
    addBenchOptions(benchCmd, bench);

    CLI::App* serveCmd = nullptr;
    const auto serve = addServeCommand(app, &serveCmd);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (*golden)
        return tools::runGolden({ goldenDirs, verbose, goldenPending, goldenDevice, goldenVocab });
    if (*benchCmd)
        return tools::runBench(bench);
    if (*serveCmd)
        return runServe(*serve);
    if (*evalCmd) {
        configureThreads(evalThreads);
        evalOpts.model = evalModel;
        evalOpts.dumpDir = evalDump;
        evalOpts.onProgress = [](int d, int n) {
            std::fprintf(stderr, "\reval %d/%d", d, n);
            if (d == n)
                std::fprintf(stderr, "\n");
        };
        std::cout << train::runEvaluation(evalOpts).dump() << std::endl;
        return 0;
    }
    if (*trainCmd) {
        configureThreads(trainThreads);
        trainOpts.out = trainOut;
        trainOpts.bundleTo = bundleTo;
        return train::runTraining(trainOpts);
    }
    for (int i = 0; i < 5; ++i)
        if (*jobCmds[i])
            return runJob(jobs[i]);
    if (*info) {
        std::string ext = std::filesystem::path(infoPath).extension().string();
        for (auto& ch : ext)
            ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".webp" || ext == ".tif" || ext == ".tiff"
            || ext == ".exr")
            return showImageInfo(infoPath);
        return tools::printModelInfo(infoPath, prediction);
    }
    if (*manifest)
        return tools::printManifest(manifestName);
    if (*rc)
        return tools::writeRandomCheckpoint(rcName, rcOut, rcDtype, rcSeed);
    return 0;
}

} // namespace ls::cli

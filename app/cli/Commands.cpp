#include "cli/Commands.h"
#include "cli/Bench.h"
#include "cli/Generate.h"
#include "cli/Serve.h"

#include "pipeline/Names.h"
#include "tools/DevTools.h"
#include "util/Threads.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <iostream>

namespace ls::cli {

using nlohmann::json;

namespace {

// A subcommand: its CLI11 node and what runs when it is the one given (its options live in the closure).
struct Command {
    CLI::App* app = nullptr;
    std::function<int()> run;
};

Command addGolden(CLI::App& app)
{
    auto o = std::make_shared<tools::GoldenOptions>();
    auto* golden = app.add_subcommand("golden", "Run golden reference cases (folders with case.json)");
    golden->add_option("dirs", o->dirs, "Case folders or folders of cases")->required();
    golden->add_flag("-v,--verbose", o->verbose, "Print every output's error");
    golden
        ->add_option(
            "--vocab", o->vocabulary, "CLIP vocabulary for the tokenizer cases (default: the case's vocab_file)")
        ->check(CLI::ExistingPath);
    golden
        ->add_option("--pending", o->pendingFile,
            "File of case names not implemented yet (one per line, '#' comments): they are reported as PENDING instead "
            "of failing, and a listed case that passes fails (take it off the list)")
        ->check(CLI::ExistingFile);
    golden->add_option("--device", o->device, "cpu or cuda (fp32, TF32 off)")->check(CLI::IsMember({ "cpu", "cuda" }));
    return { golden, [o] { return tools::runGolden(*o); } };
}

Command addInfo(CLI::App& app)
{
    auto path = std::make_shared<std::string>();
    auto prediction = std::make_shared<std::string>();
    auto* info = app.add_subcommand(
        "info", "Print what a checkpoint is (family, configuration), or an image's generation metadata");
    info->add_option("path", *path, "Checkpoint file, diffusers folder, or image")->required();
    info->add_option("--prediction", *prediction, "eps or v (SD2 768-v checkpoints need v)")
        ->check(CLI::IsMember(pipeline::predictionNames()));
    return { info, [path, prediction] {
                std::string ext = std::filesystem::path(*path).extension().string();
                for (auto& ch : ext)
                    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".webp" || ext == ".tif"
                    || ext == ".tiff" || ext == ".exr")
                    return showImageInfo(*path);
                return tools::printModelInfo(*path, *prediction);
            } };
}

Command addModelFiles(CLI::App& app, Command* randomCheckpoint)
{
    auto name = std::make_shared<std::string>();
    auto* manifest
        = app.add_subcommand("manifest", "Print a full-size model's checkpoint keys and shapes (no weights allocated)");
    manifest->add_option("name", *name, "Model name")->required()->check(CLI::IsMember(tools::manifestNames()));

    struct Rc {
        std::string name, out, dtype = "fp32";
        uint64_t seed = 0;
    };
    auto r = std::make_shared<Rc>();
    auto* rc = app.add_subcommand(
        "make-random-checkpoint", "Write a full-size checkpoint with random weights in the original key layout");
    rc->add_option("name", r->name, "Model name")->required()->check(CLI::IsMember(tools::knownModelConfigs()));
    rc->add_option("out", r->out, "Output .safetensors")->required();
    rc->add_option("--dtype", r->dtype, "fp32, fp16 or bf16")->check(CLI::IsMember({ "fp32", "fp16", "bf16" }));
    rc->add_option("--seed", r->seed, "Random seed");
    *randomCheckpoint = { rc, [r] { return tools::writeRandomCheckpoint(r->name, r->out, r->dtype, r->seed); } };
    return { manifest, [name] { return tools::printManifest(*name); } };
}

Command addTrain(CLI::App& app)
{
    struct Train {
        train::TrainOptions opts;
        std::string out, bundleTo;
        int threads = 0;
    };
    auto t = std::make_shared<Train>();
    train::TrainOptions& trainOpts = t->opts;
    std::string& trainOut = t->out;
    std::string& bundleTo = t->bundleTo;
    int& trainThreads = t->threads;
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
    trainCmd->add_option("--device", trainOpts.device, "cpu or cuda")->check(CLI::IsMember(pipeline::deviceNames()));
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

    return { trainCmd, [t] {
                configureThreads(t->threads);
                t->opts.out = t->out;
                t->opts.bundleTo = t->bundleTo;
                return train::runTraining(t->opts);
            } };
}

Command addEval(CLI::App& app)
{
    struct Eval {
        train::EvalOptions opts;
        std::string model, dump;
        int threads = 0;
    };
    auto e = std::make_shared<Eval>();
    train::EvalOptions& evalOpts = e->opts;
    std::string& evalModel = e->model;
    std::string& evalDump = e->dump;
    int& evalThreads = e->threads;
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

    return { evalCmd, [e] {
                configureThreads(e->threads);
                e->opts.model = e->model;
                e->opts.dumpDir = e->dump;
                e->opts.onProgress = [](int d, int n) {
                    std::fprintf(stderr, "\reval %d/%d", d, n);
                    if (d == n)
                        std::fprintf(stderr, "\n");
                };
                std::cout << train::runEvaluation(e->opts).dump() << std::endl;
                return 0;
            } };
}

void addJobs(CLI::App& app, std::vector<Command>& commands)
{
    const std::pair<const char*, const char*> names[5] = { { "generate", "Text-to-image" },
        { "img2img", "Image-to-image" }, { "inpaint", "Brush inpainting: repaint the white part of a mask" },
        { "layout", "Layout-to-image from boxes" },
        { "upscale", "Upscale (LDM-SR 4x, SD x4 upscaler, tiled; or Lanczos)" } };
    const pipeline::JobMode modes[5] = { pipeline::JobMode::Txt2Img, pipeline::JobMode::Img2Img,
        pipeline::JobMode::Inpaint, pipeline::JobMode::Layout, pipeline::JobMode::Upscale };
    for (int i = 0; i < 5; ++i) {
        auto job = std::make_shared<JobOptions>();
        auto* cmd = app.add_subcommand(names[i].first, names[i].second);
        addJobOptions(cmd, *job, modes[i]);
        job->request.mode = modes[i];
        commands.push_back({ cmd, [job] { return runJob(*job); } });
    }
}

} // namespace

int run(int argc, char** argv)
{
    CLI::App app { "latent-cli: latent diffusion image synthesis from the command line (Latent Studio " LS_VERSION
                   ")" };
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("latent-cli ") + LS_VERSION);
    app.option_defaults()->always_capture_default(); // --help shows every option's default

    std::vector<Command> commands;
    commands.push_back(addGolden(app));
    commands.push_back(addInfo(app));
    addJobs(app, commands);
    Command randomCheckpoint;
    commands.push_back(addModelFiles(app, &randomCheckpoint));
    commands.push_back(randomCheckpoint);
    commands.push_back(addTrain(app));
    commands.push_back(addEval(app));
    auto bench = std::make_shared<tools::BenchOptions>();
    auto* benchCmd
        = app.add_subcommand("bench", "Measure load, text encoding, guided step, decode times and peak memory");
    addBenchOptions(benchCmd, *bench);
    commands.push_back({ benchCmd, [bench] { return tools::runBench(*bench); } });
    CLI::App* serveCmd = nullptr;
    const auto serve = addServeCommand(app, &serveCmd);
    commands.push_back({ serveCmd, [serve] { return runServe(*serve); } });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    for (const Command& c : commands)
        if (*c.app)
            return c.run();
    return 0;
}

} // namespace ls::cli

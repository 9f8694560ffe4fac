// latent-cli generate | img2img | inpaint | layout | upscale: one job from the command line.
#include "cli/Generate.h"

#include "io/ImageFile.h"
#include "pipeline/Engine.h"
#include "pipeline/Infotext.h"
#include "pipeline/SamplerNames.h"
#include "util/Error.h"
#include "util/Threads.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>
#include <thread>
#include <unistd.h>

namespace ls::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// SDXL's micro-conditioning and the refiner pass.
void addSdxlOptions(CLI::App* cmd, pipeline::GenerationRequest& r)
{
    auto pairOption = [&](const std::string& name, int& a, int& b, const std::string& help) {
        cmd->add_option_function<std::pair<int, int>>(
               name,
               [&a, &b](const std::pair<int, int>& v) {
                   a = v.first;
                   b = v.second;
               },
               help)
            ->type_name("INT INT");
    };
    pairOption("--sdxl-original-size", r.sdxlOriginalWidth, r.sdxlOriginalHeight,
        "SDXL: the WIDTH HEIGHT the picture should look cut from (0 0: the painted size)");
    pairOption("--sdxl-crop", r.sdxlCropLeft, r.sdxlCropTop, "SDXL: the LEFT TOP corner of that crop (0 0: uncropped)");
    pairOption("--sdxl-target-size", r.sdxlTargetWidth, r.sdxlTargetHeight,
        "SDXL: the target WIDTH HEIGHT (0 0: the painted size)");
    cmd->add_option("--refiner", r.refinerModel,
        "A second checkpoint (the SDXL refiner) that takes over sampling at --refiner-switch-at");
    cmd->add_option("--refiner-switch-at", r.refinerSwitchAt,
        "Share of the way (by timestep, as A1111) sampled by --model before the refiner takes over");
    cmd->add_option("--aesthetic-score", r.aestheticScore, "SDXL refiner: aesthetic score (0-10)");
    cmd->add_option("--negative-aesthetic-score", r.negativeAestheticScore,
        "SDXL refiner: aesthetic score of the negative branch (0-10)");
}

// --control MODEL[,key=value...] or key=value pairs: model, image, preprocessor (pre), strength (weight), start, end,
// guess, low, high. Errors name the option and the key.
pipeline::ControlUnit parseControl(const std::string& spec)
{
    pipeline::ControlUnit u;
    std::string image;
    if (spec.find('=') == std::string::npos && spec.find(',') == std::string::npos
        && spec.find(':') != std::string::npos) {
        // The short form MODEL:IMAGE[:STRENGTH[:START:END]].
        std::vector<std::string> f;
        std::stringstream cs(spec);
        for (std::string part; std::getline(cs, part, ':');)
            f.push_back(part);
        if (f.size() < 2 || f.size() == 4 || f.size() > 5)
            fail(ErrorKind::InvalidInput, "--control " + spec + ": expected MODEL:IMAGE[:STRENGTH[:START:END]]");
        std::string rebuilt = "model=" + f[0] + ",image=" + f[1];
        if (f.size() > 2)
            rebuilt += ",strength=" + f[2];
        if (f.size() == 5)
            rebuilt += ",start=" + f[3] + ",end=" + f[4];
        return parseControl(rebuilt);
    }
    std::stringstream ss(spec);
    bool first = true;
    for (std::string part; std::getline(ss, part, ',');) {
        const auto eq = part.find('=');
        if (eq == std::string::npos) {
            if (first)
                u.model = part;
            else if (part == "guess")
                u.guessMode = true;
            else
                fail(ErrorKind::InvalidInput, "--control " + spec + ": '" + part + "' is not KEY=VALUE");
            first = false;
            continue;
        }
        first = false;
        const std::string k = part.substr(0, eq), v = part.substr(eq + 1);
        auto number = [&] {
            try {
                size_t used = 0;
                const double d = std::stod(v, &used);
                if (used != v.size())
                    throw std::invalid_argument(v);
                return d;
            } catch (const std::exception&) {
                fail(ErrorKind::InvalidInput, "--control " + spec + ": " + k + " must be a number (got '" + v + "')");
            }
        };
        if (k == "model")
            u.model = v;
        else if (k == "image")
            image = v;
        else if (k == "pre" || k == "preprocessor")
            u.preprocessor = v;
        else if (k == "strength" || k == "weight")
            u.strength = number();
        else if (k == "start")
            u.start = number();
        else if (k == "end")
            u.end = number();
        else if (k == "low")
            u.cannyLow = number();
        else if (k == "high")
            u.cannyHigh = number();
        else if (k == "guess")
            u.guessMode = v == "1" || v == "true" || v == "on";
        else
            fail(ErrorKind::InvalidInput,
                "--control " + spec + ": unknown key '" + k
                    + "' (model, image, pre, strength, start, end, guess, low, high)");
    }
    if (!image.empty())
        u.image = io::readImage(image).image;
    return u;
}

// ControlNet units: --control (repeatable), and the preprocessor and guess mode for all of them.
void addControlOptions(CLI::App* cmd, JobOptions& o)
{
    cmd->add_option("--control", o.controls,
           "A ControlNet: FILE,image=PNG[,pre=none|canny|invert|inpaint|tile][,strength=1][,start=0][,end=1]"
           "[,guess][,low=100,high=200], or FILE:IMAGE[:STRENGTH[:START:END]]; repeat for several (their "
           "residuals add up)")
        ->type_name("SPEC");
    cmd->add_option("--control-preprocess", o.controlPreprocess,
           "Preprocessor of the --control units that name none: none, canny, invert, inpaint, tile")
        ->check(CLI::IsMember(pipeline::controlPreprocessors()));
    cmd->add_flag("--guess-mode", o.guessMode, "Every --control unit in the original's guess mode");
}

// The --control units, with --control-preprocess for those that name no preprocessor and --guess-mode for all.
void readControls(const JobOptions& o, pipeline::GenerationRequest& r)
{
    for (const auto& spec : o.controls) {
        r.controls.push_back(parseControl(spec));
        auto& u = r.controls.back();
        const bool named = spec.find("pre=") != std::string::npos || spec.find("preprocessor=") != std::string::npos;
        if (!named && !o.controlPreprocess.empty())
            u.preprocessor = o.controlPreprocess;
        u.guessMode = u.guessMode || o.guessMode;
    }
}

// inpaint's own options: the mask and how it is used, outpainting
void addInpaintOptions(CLI::App* cmd, JobOptions& o)
{
    cmd->add_option("--mask,-m", o.mask,
        "Mask image, same size as the input: white = repaint, black = keep (optional with --extend)");
    cmd->add_option("--extend", o.extend, "Outpaint: grow the canvas by L,T,R,B pixels and paint the new area");
    cmd->add_option("--mask-blur", o.request.maskBlur, "Feather the mask edge by this many pixels");
    cmd->add_option("--mask-grow", o.request.maskGrow, "Grow (or shrink, negative) the mask by this many pixels");
    cmd->add_flag("--only-masked", o.request.onlyMasked,
        "Work on the mask's bounding box at the model's resolution, then paste back");
    cmd->add_option("--padding", o.request.onlyMaskedPadding, "Context pixels around the mask for --only-masked");
    cmd->add_option("--masked-content", o.request.maskedContent,
           "What the masked area starts from: original, fill (surrounding colours blurred in), latent noise, "
           "latent nothing")
        ->check(CLI::IsMember(pipeline::maskedContentNames()));
    cmd->add_flag("--soft-inpainting", o.request.softInpainting,
        "The mask's grey levels are per-pixel strengths (differential diffusion): soft edges blend in");
}

} // namespace

void addJobOptions(CLI::App* cmd, JobOptions& o, pipeline::JobMode mode)
{
    o.mode = mode;
    o.command = cmd;
    cmd->add_option(
        "--model", o.model, "Checkpoint (.safetensors/.ckpt) or diffusers folder; default: the bundled model");
    cmd->add_option("--config", o.config, "Model config JSON (original LatentDiffusion params) overriding detection");
    cmd->add_option("--prediction", o.prediction, "eps or v (SD2 768-v models need v)")
        ->check(CLI::IsMember(pipeline::predictionNames()));
    cmd->add_option("--vocab", o.vocab, "CLIP vocabulary file or folder (bpe_simple_vocab_16e6.txt.gz)");
    cmd->add_option("--vae", o.vae,
        "A stand-alone VAE (.safetensors/.ckpt, original or diffusers layout, or a diffusers vae/ folder) in place of "
        "the model's own");
    cmd->add_option("--prompt,-p", o.request.prompt, "What to draw");
    cmd->add_option("--negative,-n", o.request.negativePrompt, "What to avoid");
    cmd->add_option(
           "--width,-W", o.request.width, "Width in pixels (rounded up to the model's multiple, then cropped back)")
        ->default_str("the model's size; img2img/inpaint: the input's");
    cmd->add_option("--height,-H", o.request.height, "Height in pixels")
        ->default_str("the model's size; img2img/inpaint: the input's");
    cmd->add_option("--steps", o.request.steps, "Sampling steps");
    if (mode == pipeline::JobMode::Txt2Img) {
        cmd->add_option("--hires-scale", o.request.hiresScale,
            "Hires pass: enlarge the picture this many times (Lanczos) and repaint it at that size (1 = off)");
        cmd->add_option("--hires-strength", o.request.hiresStrength, "Hires pass denoising strength (0, 1]");
        cmd->add_option("--hires-steps", o.request.hiresSteps, "Hires pass steps (0: the same as --steps)");
        cmd->add_option("--hires-width", o.request.hiresWidth,
            "Hires pass: paint at this width instead of --hires-scale (0: from --hires-height keeping the ratio)");
        cmd->add_option("--hires-height", o.request.hiresHeight,
            "Hires pass: paint at this height (both given: enlarge to cover, cut the middle)");
        cmd->add_option("--hires-sampler", o.request.hiresSampler, "Hires pass sampler")->default_str("--sampler's");
        cmd->add_option("--hires-prompt", o.request.hiresPrompt, "Hires pass prompt")->default_str("--prompt");
        cmd->add_option("--hires-negative", o.request.hiresNegativePrompt, "Hires pass negative prompt")
            ->default_str("--negative");
        cmd->add_option("--hires-cfg", o.request.hiresCfgScale, "Hires pass guidance scale (0: --cfg's)");
    }
    if (mode != pipeline::JobMode::Upscale)
        addSdxlOptions(cmd, o.request);
    addControlOptions(cmd, o); // upscale: with a text-to-image model (tiled image-to-image), e.g. the tile ControlNet
    cmd->add_flag("--caption-layout,!--no-caption-layout", o.request.captionLayout,
        "Bundled model: lay out the prompt's \"at the top left\"-style phrases as boxes (default on)");
    cmd->add_option("--vae-tile", o.request.vaeTile,
        "VAE decode tiles in latent pixels: -1 automatic, 0 whole image, N >= 16 (bounds memory)");
    cmd->add_option(
        "--sampler", o.request.sampler, "Sampler: " + [] {
            std::string s;
            for (auto& n : pipeline::samplerNames())
                s += (s.empty() ? "" : ", ") + n;
            return s;
        }() + " (AUTOMATIC1111's names and aliases too; \"DPM++ 2M Karras\" also sets the schedule)");
    cmd->add_option("--schedule", o.request.schedule, "Automatic, Uniform, Karras, Exponential, SGM Uniform");
    cmd->add_option("--cfg", o.request.cfgScale, "Classifier-free guidance scale");
    cmd->add_option("--seed", o.request.seed, "Seed (-1 = random); image i of a batch uses seed + i");
    cmd->add_option("--batch", o.request.batch, "Images to make");
    cmd->add_option("--eta", o.request.eta, "DDIM eta (A1111's \"Eta DDIM\")");
    cmd->add_option(
        "--eta-ancestral", o.request.etaAncestral, "Noise share of the ancestral and SDE samplers (A1111's \"Eta\")");
    cmd->add_option("--clip-skip", o.request.clipSkip, "CLIP layers to skip (A1111 semantics)");
    cmd->add_option("--lora", o.loras,
        "Apply a LoRA: NAME[:WEIGHT[:UNET_WEIGHT]] (a file in the LoRA folders, or a path); repeatable. Prompts may "
        "also say <lora:NAME:WEIGHT>");
    cmd->add_option("--lora-dir", o.loraDirs,
        "Folder of LoRA files (repeatable; default: loras/ beside the model, $LS_LORA_PATH, "
        "~/.local/share/latent-studio/loras)");
    cmd->add_option("--embedding-dir", o.embeddingDirs,
        "Folder of textual-inversion embeddings, used by their file name in a prompt (repeatable; default: embeddings/ "
        "beside the model, $LS_EMBEDDING_PATH, ~/.local/share/latent-studio/embeddings)");
    cmd->add_option("--threads", o.threads, "CPU threads (0: all cores)");
    cmd->add_option("--device", o.device, "cpu or cuda (the model's weights and every model call on the GPU)")
        ->check(CLI::IsMember(pipeline::deviceNames()));
    cmd->add_option(
           "--dtype", o.dtype, "Weights: fp32, fp16 or bf16 (the CPU computes in fp32 either way; a GPU in that type)")
        ->check(CLI::IsMember({ "fp32", "fp16", "bf16" }));
    cmd->add_option(
           "--output,-o", o.output, "Output image (PNG keeps the metadata); batch images get -1, -2 ... suffixes")
        ->required();
    cmd->add_option("--taesd", o.taesd,
        "TAESD decoder for the --preview-dir previews and --fast-decode (default for SD1/SD2: "
        "taesd_decoder.safetensors/.pth beside the "
        "model or in its vae_approx/, or $LS_TAESD_DECODER)");
    cmd->add_flag("--fast-decode", o.request.fastDecode,
        "Decode the final picture with the TAESD decoder (--taesd or found as above) instead of the VAE: about 20x "
        "cheaper, softer detail (A1111's 'VAE Decoder: TAESD')");
    cmd->add_option("--preview-dir", o.previewDir, "Write a preview PNG after every step into this folder");
    cmd->add_option("--preview-decode-every", o.request.decodeEvery,
        "Full VAE decode preview every N steps (0 = latent projection only)");
    cmd->add_flag("--json", o.json, "Print a machine-readable result on stdout");
    cmd->add_option("--settings-from", o.settingsFrom,
        "Start from the settings stored in a PNG (Latent Studio or AUTOMATIC1111: prompts, size, "
        "sampler, schedule, steps, CFG, seed, strength, clip skip, eta, inpaint area and padding, hires pass); every "
        "flag given overrides");
    cmd->add_flag("--no-hash", o.noHash, "Do not hash the model file for the metadata");
    if (mode == pipeline::JobMode::Img2Img || mode == pipeline::JobMode::Inpaint || mode == pipeline::JobMode::Upscale)
        cmd->add_option("--init,-i", o.init, "Input image")->required();
    if (mode == pipeline::JobMode::Img2Img || mode == pipeline::JobMode::Inpaint)
        cmd->add_option("--strength", o.request.strength, "Denoising strength (0, 1]");
    if (mode == pipeline::JobMode::Upscale)
        cmd->add_option("--strength", o.request.strength,
               "With a text-to-image model (Lanczos, then image-to-image tile by tile at its resolution): denoising "
               "strength of each tile")
            ->default_str("0.35");
    if (mode == pipeline::JobMode::Inpaint)
        addInpaintOptions(cmd, o);
    if (mode == pipeline::JobMode::Layout) {
        cmd->add_option(
               "--boxes", o.boxes, "JSON list of {\"x\",\"y\",\"w\",\"h\"} in pixels with \"prompt\" or \"label\"")
            ->required();
        cmd->add_option("--classes", o.classes, "classes.json of the layout2img model");
    }
    if (mode == pipeline::JobMode::Upscale) {
        cmd->add_option("--scale", o.request.upscaleFactor, "Upscale factor (4; 2 or 4 for Lanczos)");
        cmd->add_option("--tile", o.request.tileSize, "Tile size in input pixels");
        cmd->add_option("--overlap", o.request.tileOverlap, "Tile overlap in input pixels");
        cmd->add_option("--noise-level", o.request.noiseLevel, "SD x4 upscaler noise augmentation (0..350)");
        cmd->add_flag("--lanczos", o.lanczos, "Plain Lanczos resampling, no model");
    }
}

namespace {

fs::path indexedPath(const fs::path& out, int i, int n)
{
    if (n <= 1)
        return out;
    return out.parent_path() / (out.stem().string() + "-" + std::to_string(i + 1) + out.extension().string());
}

std::vector<pipeline::LayoutBox> readBoxes(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    if (!in)
        fail(ErrorKind::Io, p.string() + ": cannot open boxes file");
    std::stringstream ss;
    ss << in.rdbuf();
    return pipeline::parseLayoutBoxes(ss.str(), p.string());
}

} // namespace

// --settings-from: the PNG's request (Latent Studio JSON or AUTOMATIC1111 infotext) for this job, then every flag given
// on the command line over it (its CLI11 callback runs again), and one warning listing what was not used. Returns
// whether the file gave the size.
bool applySettingsFrom(JobOptions& o)
{
    pipeline::GenerationRequest& r = o.request;
    auto png = io::readImage(o.settingsFrom);
    pipeline::GenerationRequest from;
    from.mode = r.mode;
    std::vector<std::string> unused;
    bool sizeFromFile = true; // Latent Studio's settings always hold it
    if (png.metadata.count("latent_studio")) {
        const json j = json::parse(png.metadata["latent_studio"], nullptr, false);
        if (j.is_discarded())
            fail(ErrorKind::Format, o.settingsFrom + ": its 'latent_studio' settings are not valid JSON");
        from = pipeline::GenerationRequest::fromJson(j);
        from.mode = r.mode;
        pipeline::dropHiresPassForOtherJobs(from, &unused);
    } else if (png.metadata.count("parameters")) {
        const auto parsed = pipeline::parseInfotext(png.metadata["parameters"]);
        from = pipeline::requestFromInfotext(parsed, from, &unused);
        sizeFromFile = !parsed.get("Size").empty();
    } else {
        fail(ErrorKind::InvalidInput,
            o.settingsFrom + ": holds no generation settings (no 'parameters' or 'latent_studio' text)");
    }
    r = from;
    // Every flag given on the command line wins: its value is written again over the file's.
    for (auto* opt : o.command->get_options())
        if (opt->count() > 0 && opt->get_name() != "--settings-from")
            opt->run_callback();
    if (!unused.empty()) {
        std::string list;
        for (const auto& u : unused)
            list += (list.empty() ? "" : "; ") + u;
        std::fprintf(stderr, "warning: %s: settings not used: %s\n", o.settingsFrom.c_str(), list.c_str());
    }
    return sizeFromFile;
}

// Sampler names as A1111 writes them ("DPM++ 2M Karras", "k_euler_a"): ours, with the schedule the name carries; a
// --schedule that says otherwise is an error naming both.
void canonicalNames(JobOptions& o)
{
    pipeline::GenerationRequest& r = o.request;
    std::string named = r.schedule;
    const std::string sampler = pipeline::canonicalSampler(r.sampler, &named);
    if (named != r.schedule) {
        const bool scheduleGiven = o.command->get_option("--schedule")->count() > 0;
        if (scheduleGiven && pipeline::canonicalSchedule(r.schedule) != "Automatic"
            && pipeline::canonicalSchedule(r.schedule) != named)
            fail(ErrorKind::InvalidInput,
                "--sampler '" + r.sampler + "' names the schedule " + named + " but --schedule says " + r.schedule);
        r.schedule = named;
    }
    r.sampler = sampler;
    r.schedule = pipeline::canonicalSchedule(r.schedule);
    if (!r.hiresSampler.empty())
        r.hiresSampler = pipeline::canonicalSampler(r.hiresSampler);
}

namespace {
// How the engine loads the model for this job (the flags' names parsed into the engine's types).
pipeline::EngineLoadOptions loadOptions(const JobOptions& o)
{
    pipeline::EngineLoadOptions lo;
    lo.configFile = o.config;
    if (!o.prediction.empty())
        lo.prediction = pipeline::findPrediction(o.prediction);
    lo.vocabulary = o.vocab;
    lo.classesFile = o.classes;
    lo.vae = o.vae;
    lo.hash = !o.noHash;
    lo.dtype = o.dtype;
    lo.threads = o.threads;
    lo.device = pipeline::findDevice(o.device).value_or(pipeline::Device::Cpu);
    lo.deviceRequired = true; // a script that asks for the GPU fails rather than running for hours on the CPU
    return lo;
}
} // namespace

int runJob(JobOptions& o)
{
    configureThreads(o.threads);
    pipeline::GenerationRequest& r = o.request;
    const bool sizeFromFile = !o.settingsFrom.empty() && applySettingsFrom(o);
    canonicalNames(o);
    if (!o.extend.empty()) {
        int e[4] = { 0, 0, 0, 0 };
        if (std::sscanf(o.extend.c_str(), "%d,%d,%d,%d", &e[0], &e[1], &e[2], &e[3]) != 4)
            fail(ErrorKind::InvalidInput, "--extend must be four numbers L,T,R,B, got '" + o.extend + "'");
        r.extendLeft = e[0];
        r.extendTop = e[1];
        r.extendRight = e[2];
        r.extendBottom = e[3];
    }
    for (const auto& l : o.loras) { // NAME[:W[:W]] reads as the tag <lora:NAME:W>
        try {
            text::extractLoraTags("<lora:" + l + ">", &r.loras);
        } catch (const Error& e) {
            fail(ErrorKind::InvalidInput, "--lora " + l + ": " + e.what());
        }
    }
    if (!o.init.empty())
        r.initImage = io::readImage(o.init).image;
    if (!o.mask.empty())
        r.mask = io::readImage(o.mask).image;
    if (!o.boxes.empty())
        r.boxes = readBoxes(o.boxes);
    readControls(o, r);
    if (r.mode == pipeline::JobMode::Upscale && o.command->get_option("--sampler")->count() == 0
        && o.settingsFrom.empty())
        r.sampler = "DDIM"; // the upscalers' own sampler, unless one was asked for
    // Validate the request before the (slow) model load.
    if (auto problems = r.validate(); !problems.empty()) {
        std::string msg = "the request has " + std::to_string(problems.size()) + " problem(s):";
        for (const auto& p : problems)
            msg += "\n  " + p.field + ": " + p.message;
        fail(ErrorKind::InvalidInput, msg);
    }
    // The engine: LoRA, embedding and preview settings first (kept across loads), then the model, unless Lanczos alone.
    pipeline::Engine engine;
    engine.setLoraFolders(std::vector<fs::path>(o.loraDirs.begin(), o.loraDirs.end()));
    engine.setEmbeddingFolders(std::vector<fs::path>(o.embeddingDirs.begin(), o.embeddingDirs.end()));
    if (!o.taesd.empty())
        engine.setPreviewDecoder(o.taesd);
    if (!(r.mode == pipeline::JobMode::Upscale && o.lanczos)) {
        const auto summary = engine.load(o.model.empty() ? pipeline::bundledModelPath(r.mode) : o.model, loadOptions(o),
            [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); });
        for (const auto& w : summary.warnings)
            std::fprintf(stderr, "warning: %s\n", w.c_str());
        // Without --width/--height, generate at the model's own resolution (a PNG's settings keep their size).
        const bool ownSize
            = !sizeFromFile && r.mode != pipeline::JobMode::Img2Img && r.mode != pipeline::JobMode::Inpaint;
        if (ownSize && o.command->get_option("--width")->count() == 0)
            r.width = summary.nativeResolution;
        if (ownSize && o.command->get_option("--height")->count() == 0)
            r.height = summary.nativeResolution;
        // Upscaling with a text-to-image model: image-to-image per tile repaints detail, not the picture
        if (r.mode == pipeline::JobMode::Upscale && !summary.upscaler
            && o.command->get_option("--strength")->count() == 0 && o.settingsFrom.empty())
            r.strength = 0.35;
    }
    if (!o.previewDir.empty())
        fs::create_directories(o.previewDir);
    StopToken stop;
    const bool tty = ::isatty(2);
    auto onStep = [&](const pipeline::StepInfo& s) {
        const double rate = s.elapsedSeconds > 0 ? s.step / s.elapsedSeconds : 0;
        const double eta = rate > 0 ? (s.total - s.step) / rate : 0;
        std::string tile = s.tiles > 1 ? " tile " + std::to_string(s.tile) + "/" + std::to_string(s.tiles) : "";
        std::fprintf(stderr, "%sstep %d/%d%s | %.2f it/s | ETA %.1fs%s", tty ? "\r" : "", s.step, s.total, tile.c_str(),
            rate, eta, tty ? "   " : "\n");
        if (tty && s.step == s.total)
            std::fprintf(stderr, "\n");
        if (s.preview && !o.previewDir.empty()) {
            char name[64];
            std::snprintf(name, sizeof name, "step-%02d-%03d.png", s.tile, s.step);
            io::writeImage(fs::path(o.previewDir) / name, *s.preview);
        }
    };
    auto result = engine.run(r, onStep, stop);
    for (const auto& w : result.warnings)
        std::fprintf(stderr, "warning: %s\n", w.c_str());
    json loras = json::array();
    for (const auto& l : result.loras) {
        std::fprintf(stderr, "lora %s: %d UNet and %d text-encoder modules applied (weights %g/%g, %s)\n",
            l.name.c_str(), l.unetModules, l.textModules, l.unetWeight, l.textWeight, l.path.c_str());
        loras.push_back({ { "name", l.name }, { "path", l.path }, { "hash", l.hash }, { "unet_modules", l.unetModules },
            { "text_modules", l.textModules }, { "unet_weight", l.unetWeight }, { "te_weight", l.textWeight } });
    }
    json out;
    out["images"] = json::array();
    for (size_t i = 0; i < result.images.size(); ++i) {
        const fs::path p = indexedPath(o.output, static_cast<int>(i), static_cast<int>(result.images.size()));
        if (p.has_parent_path())
            fs::create_directories(p.parent_path());
        io::writeImage(p, result.images[i], result.metadata[i]);
        out["images"].push_back({ { "path", p.string() }, { "seed", result.seeds[i] },
            { "width", result.images[i].width }, { "height", result.images[i].height } });
        if (!o.json)
            std::fprintf(stderr, "wrote %s (seed %lld)\n", p.c_str(), static_cast<long long>(result.seeds[i]));
    }
    out["seconds"] = result.seconds;
    out["warnings"] = result.warnings;
    out["loras"] = loras;
    out["mode"] = pipeline::jobModeName(r.mode);
    if (o.json)
        std::cout << out.dump(2) << std::endl;
    return 0;
}

int showImageInfo(const fs::path& path)
{
    auto img = io::readImage(path);
    json out;
    out["file"] = path.string();
    out["width"] = img.image.width;
    out["height"] = img.image.height;
    out["channels"] = img.image.channels;
    if (img.metadata.count("parameters")) {
        auto p = pipeline::parseInfotext(img.metadata["parameters"]);
        out["parameters"] = img.metadata["parameters"];
        json params = json::object();
        for (const auto& [k, v] : p.params)
            params[k] = v;
        out["parsed"] = { { "prompt", p.prompt }, { "negative_prompt", p.negativePrompt }, { "settings", params } };
    }
    if (img.metadata.count("latent_studio")) {
        json j = json::parse(img.metadata["latent_studio"], nullptr, false);
        if (!j.is_discarded()) {
            for (const char* k : { "mask_png", "init_png" })
                if (j.contains(k) && j[k].is_string())
                    j[k] = "<" + std::to_string(j[k].get<std::string>().size()) + " bytes of base64 PNG>";
            out["latent_studio"] = j;
        }
    }
    std::cout << out.dump(2) << std::endl;
    return 0;
}

} // namespace ls::cli

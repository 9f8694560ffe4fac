#pragma once
// Everything one generation needs, checked up front: validate() lists every problem before any work starts.
#include "text/LoraTags.h"
#include "util/Image.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <utility>
#include <string>
#include <vector>

namespace ls::pipeline {

enum class JobMode { Txt2Img, Img2Img, Inpaint, Layout, Upscale };
const char* jobModeName(JobMode m);
JobMode jobModeFromName(const std::string& name); // throws InvalidInput

struct LayoutBox {
    double x = 0, y = 0, w = 0, h = 0; // pixels of the output image
    std::string prompt; // what goes in the box (text models)
    std::string label; // a class name (layout2img model)
};

// One ControlNet steering a job (lllyasviel/ControlNet): its file, the control image and how it becomes the hint.
struct ControlUnit {
    std::string model; // a ControlNet file (.safetensors/.pth, control_model.* or bare keys) or a diffusers folder
    Image image; // the control image, any size (resized to the picture's); empty with "inpaint": the job's input
    // none: the image is the hint (a sketch, a depth or pose map); canny: its edges (OpenCV, cannyLow/High);
    // invert: 1 - image (line art and scribbles drawn dark on light); inpaint: the job's input with masked pixels at
    // -1 (control_v11p_sd15_inpaint); tile: the input picture itself (control_v11f1e_sd15_tile)
    std::string preprocessor = "none";
    double strength = 1.0;
    double start = 0.0, end = 1.0; // the share of the way, by timestep, during which it acts
    bool guessMode = false; // the original's guess mode: the negative branch uncontrolled, scales 0.825^(12-i)
    double cannyLow = 100, cannyHigh = 200;
};
const std::vector<std::string>& controlPreprocessors();
// fill, original, latent noise, latent nothing: A1111's inpainting_fill 0..3
const std::vector<std::string>& maskedContentNames();

// Layout boxes from JSON text: a list of {"x", "y", "w", "h"} (pixels) with optional "prompt" and "label" strings,
// or an object with such a list under "boxes". Errors name `where`, the box and the field.
std::vector<LayoutBox> parseLayoutBoxes(const std::string& text, const std::string& where);

struct Problem {
    std::string field;
    std::string message;
};

struct GenerationRequest {
    JobMode mode = JobMode::Txt2Img;
    std::string prompt;
    std::string negativePrompt;
    std::vector<LayoutBox> boxes;
    Image initImage; // img2img, inpaint, upscale
    Image mask; // inpaint: white = repaint, black = keep
    int width = 512;
    int height = 512;
    std::string sampler = "Euler a";
    std::string schedule = "Automatic";
    int steps = 20;
    double cfgScale = 7.0;
    int64_t seed = -1; // -1: pick one at random (the result records it)
    int batch = 1;
    double strength = 0.75; // img2img / inpaint denoising strength
    double eta = 0.0; // DDIM eta (AUTOMATIC1111's "Eta DDIM")
    double etaAncestral = 1.0; // noise share of the ancestral and SDE samplers (A1111's "Eta"; 1 = the samplers' own)
    int clipSkip = 1;
    // inpainting
    int maskBlur = 4;
    int maskGrow = 0;
    bool onlyMasked = false;
    int onlyMaskedPadding = 32;
    // What the masked area starts from (AUTOMATIC1111's "Masked content"): "original" (the picture), "fill" (colours
    // of the surroundings blurred in), "latent noise" (the latent replaced by noise), "latent nothing" (zeros).
    std::string maskedContent = "original";
    // Soft inpainting: the mask's grey levels (a soft brush's edge, its opacity) are per-pixel strengths
    // (differential diffusion), so a feathered stroke blends in; pixels at 0 stay untouched, at 1 as a hard mask.
    bool softInpainting = false;
    // Fast decode: the final picture decoded by TAESD (the preview decoder) instead of the VAE, as A1111's
    // "VAE Decoder: TAESD" setting (sd_vae_decode_method); about 20x cheaper, softer detail. Live mode uses it.
    bool fastDecode = false;
    // outpainting: extend the canvas by this many pixels on each side and paint the new area (inpaint mode)
    int extendLeft = 0, extendTop = 0, extendRight = 0, extendBottom = 0;
    // text-to-image "hires fix" (AUTOMATIC1111): the picture made at width x height, enlarged hiresScale times
    // (Lanczos) and repainted by image-to-image at the larger size with hiresStrength, in hiresSteps (0: steps).
    // 1 = off. hiresWidth/hiresHeight (A1111's "Hires resize") give the enlarged size instead: one of them keeps the
    // aspect ratio, both enlarge to cover and crop the middle.
    double hiresScale = 1.0;
    int hiresSteps = 0;
    double hiresStrength = 0.5;
    int hiresWidth = 0, hiresHeight = 0;
    std::string hiresSampler; // empty: the first pass's
    std::string hiresPrompt; // empty: the first pass's prompts
    std::string hiresNegativePrompt;
    double hiresCfgScale = 0; // 0: the first pass's
    bool hiresEnabled() const { return hiresScale > 1.0 || hiresWidth > 0 || hiresHeight > 0; }
    // The size the hires pass paints at (width x height when the pass is off).
    std::pair<int, int> hiresSize() const;
    // SDXL micro-conditioning (sgm's size and crop embeddings): the size and top-left crop the picture is to look
    // like it was cut from, and the target size; 0 = the size being painted (crop 0, 0), as A1111 and the reference
    // demo do. The refiner: aesthetic scores of the positive and the negative branch (the demo's 6 and 2.5).
    int sdxlOriginalWidth = 0, sdxlOriginalHeight = 0;
    int sdxlCropLeft = 0, sdxlCropTop = 0;
    int sdxlTargetWidth = 0, sdxlTargetHeight = 0;
    double aestheticScore = 6.0, negativeAestheticScore = 2.5;
    // A second model that takes over sampling once refinerSwitchAt of the way is done (AUTOMATIC1111's "Refiner":
    // switched by timestep, (999 - t) / 1000 >= refinerSwitchAt; typically the SDXL refiner after the SDXL base).
    // A checkpoint path; empty = none.
    std::string refinerModel;
    double refinerSwitchAt = 0.8;
    std::vector<ControlUnit> controls; // ControlNets, their residuals summed
    // upscaling
    int upscaleFactor = 4;
    int tileSize = 128; // low-resolution pixels per tile side
    int tileOverlap = 16;
    int noiseLevel = 20; // SD x4 upscaler
    // VAE decode in tiles of this many latent pixels (quarter overlap, blended): -1 automatic (past 96 a side),
    // 0 whole image, N >= 16 always (bounds the decode's memory: 40 keeps SD at 512x512 under 4 GB with fp16 weights)
    int vaeTile = -1;
    // Models with a layout path (the bundled one): phrases of the prompt that say where an object goes ("a red circle
    // at the top left") are laid out as boxes when no boxes are given (text/WorldLayout.h). Off: the prompt's tokens
    // alone.
    bool captionLayout = true;
    // previews: a cheap latent->RGB projection every previewEvery steps, a full decode every decodeEvery steps (0 =
    // never)
    int previewEvery = 1;
    int decodeEvery = 0;
    // LoRAs to apply besides the <lora:NAME:W> tags of the prompts (text/LoraTags.h): a file stem found in the LoRA
    // folders, or a path.
    std::vector<text::LoraTag> loras;

    std::string modelName; // for metadata

    std::vector<Problem> validate() const;
    nlohmann::json toJson() const; // everything needed to reproduce (mask and boxes included)
    static GenerationRequest fromJson(const nlohmann::json& j);
};

// Sampler and schedule names users know (AUTOMATIC1111 spelling), from the name table of pipeline/SamplerNames.cpp.
std::vector<std::string> samplerNames();
std::vector<std::string> scheduleNames();

} // namespace ls::pipeline

#include "pipeline/GenerationRequest.h"

#include "io/ImageFile.h"
#include "util/Base64.h"
#include "util/Error.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace ls::pipeline {

using nlohmann::json;

std::vector<LayoutBox> parseLayoutBoxes(const std::string& text, const std::string& where)
{
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded())
        fail(ErrorKind::Format, where + ": not valid JSON");
    const json& list = j.is_object() && j.contains("boxes") ? j["boxes"] : j;
    if (!list.is_array())
        fail(ErrorKind::Format, where + ": expected a JSON list of boxes (or {\"boxes\": [...]})");
    std::vector<LayoutBox> out;
    for (size_t i = 0; i < list.size(); ++i) {
        const json& b = list[i];
        const std::string at = where + ": box " + std::to_string(i);
        if (!b.is_object())
            fail(ErrorKind::Format, at + " is not an object");
        double v[4];
        const char* keys[4] = { "x", "y", "w", "h" };
        for (int k = 0; k < 4; ++k) {
            if (!b.contains(keys[k]) || !b[keys[k]].is_number())
                fail(ErrorKind::Format, at + ": field '" + keys[k] + "' must be a number");
            v[k] = b[keys[k]].get<double>();
            if (!std::isfinite(v[k]))
                fail(ErrorKind::Format, at + ": field '" + keys[k] + "' must be finite");
        }
        std::string text[2];
        const char* names[2] = { "prompt", "label" };
        for (int k = 0; k < 2; ++k) {
            if (!b.contains(names[k]))
                continue;
            if (!b[names[k]].is_string())
                fail(ErrorKind::Format, at + ": field '" + names[k] + "' must be a string");
            text[k] = b[names[k]].get<std::string>();
        }
        out.push_back({ v[0], v[1], v[2], v[3], text[0], text[1] });
    }
    return out;
}

const char* jobModeName(JobMode m)
{
    switch (m) {
    case JobMode::Txt2Img:
        return "txt2img";
    case JobMode::Img2Img:
        return "img2img";
    case JobMode::Inpaint:
        return "inpaint";
    case JobMode::Layout:
        return "layout";
    case JobMode::Upscale:
        return "upscale";
    }
    return "?";
}

JobMode jobModeFromName(const std::string& n)
{
    for (JobMode m : { JobMode::Txt2Img, JobMode::Img2Img, JobMode::Inpaint, JobMode::Layout, JobMode::Upscale })
        if (n == jobModeName(m))
            return m;
    fail(ErrorKind::InvalidInput, "mode: unknown job '" + n + "' (txt2img, img2img, inpaint, layout, upscale)");
}

namespace {

template <class T> bool contains(const std::vector<T>& v, const T& x)
{
    return std::find(v.begin(), v.end(), x) != v.end();
}

std::string joinNames(const std::vector<std::string>& v)
{
    std::string s;
    for (const auto& n : v)
        s += (s.empty() ? "" : ", ") + n;
    return s;
}

} // namespace

std::pair<int, int> GenerationRequest::hiresSize() const
{
    if (!hiresEnabled() || width <= 0 || height <= 0)
        return { width, height };
    if (hiresWidth <= 0 && hiresHeight <= 0)
        return { static_cast<int>(std::lround(width * hiresScale)),
            static_cast<int>(std::lround(height * hiresScale)) };
    if (hiresHeight <= 0) // AUTOMATIC1111: one side given, the other keeps the ratio
        return { hiresWidth, hiresWidth * height / width };
    if (hiresWidth <= 0)
        return { hiresHeight * width / height, hiresHeight };
    return { hiresWidth, hiresHeight };
}

const std::vector<std::string>& maskedContentNames()
{
    static const std::vector<std::string> names { "fill", "original", "latent noise", "latent nothing" };
    return names;
}

const std::vector<std::string>& controlPreprocessors()
{
    static const std::vector<std::string> names { "none", "canny", "invert", "inpaint", "tile" };
    return names;
}

namespace {
// size, steps, guidance, sampler and schedule names, batch, strength, eta, clip skip, seed
void checkSampling(const GenerationRequest& r, std::vector<Problem>& p)
{
    if (r.mode != JobMode::Upscale) {
        if (r.width < 8 || r.width > 8192)
            p.push_back({ "width", "must be between 8 and 8192 pixels, got " + std::to_string(r.width) });
        if (r.height < 8 || r.height > 8192)
            p.push_back({ "height", "must be between 8 and 8192 pixels, got " + std::to_string(r.height) });
    }
    if (r.steps <= 0 || r.steps > 1000)
        p.push_back({ "steps", "must be between 1 and 1000, got " + std::to_string(r.steps) });
    if (!std::isfinite(r.cfgScale) || r.cfgScale < 0 || r.cfgScale > 100)
        p.push_back({ "cfg", "guidance scale must be a finite number between 0 and 100" });
    if (!contains(samplerNames(), r.sampler))
        p.push_back({ "sampler", "unknown sampler '" + r.sampler + "'; valid: " + joinNames(samplerNames()) });
    if (!contains(scheduleNames(), r.schedule))
        p.push_back({ "schedule", "unknown schedule '" + r.schedule + "'; valid: " + joinNames(scheduleNames()) });
    if (r.batch < 1 || r.batch > 64)
        p.push_back({ "batch", "must be between 1 and 64" });
    if (!std::isfinite(r.strength) || r.strength <= 0 || r.strength > 1)
        p.push_back({ "strength", "must be in (0, 1]" });
    if (!std::isfinite(r.eta) || r.eta < 0)
        p.push_back({ "eta", "must be >= 0" });
    if (r.clipSkip < 1 || r.clipSkip > 12)
        p.push_back({ "clip_skip", "must be between 1 and 12" });
    if (r.seed < -1)
        p.push_back({ "seed", "must be -1 (random) or a non-negative number" });
}

// LoRA tags in the prompts and the LoRA list
void checkPrompts(const GenerationRequest& r, std::vector<Problem>& p)
{
    {
        std::vector<std::pair<std::string, std::string>> texts { { "prompt", r.prompt },
            { "negative_prompt", r.negativePrompt } };
        for (size_t i = 0; i < r.boxes.size(); ++i)
            texts.push_back({ "boxes[" + std::to_string(i) + "].prompt", r.boxes[i].prompt });
        for (const auto& [field, text] : texts) {
            try {
                text::extractLoraTags(text, nullptr);
            } catch (const Error& e) {
                p.push_back({ field, e.what() });
            }
        }
        for (size_t i = 0; i < r.loras.size(); ++i) {
            const auto& l = r.loras[i];
            if (l.name.empty() || !std::isfinite(l.textWeight) || !std::isfinite(l.unetWeight))
                p.push_back({ "loras[" + std::to_string(i) + "]", "needs a name and finite weights" });
        }
    }
}

// the hires pass, SDXL's size conditions, the refiner
void checkPasses(const GenerationRequest& r, std::vector<Problem>& p)
{
    if (!std::isfinite(r.hiresScale) || r.hiresScale < 1 || r.hiresScale > 4)
        p.push_back({ "hires_scale", "must be between 1 (off) and 4" });
    else if (r.hiresEnabled() && r.mode != JobMode::Txt2Img)
        p.push_back({ "hires_scale",
            "the hires pass is for text-to-image; for " + std::string(jobModeName(r.mode)) + " set it to 1" });
    if (r.hiresWidth < 0 || r.hiresHeight < 0 || r.hiresWidth > 8192 || r.hiresHeight > 8192)
        p.push_back({ "hires_resize", "the hires width and height must be between 0 (unset) and 8192" });
    if (!r.hiresSampler.empty() && !contains(samplerNames(), r.hiresSampler))
        p.push_back(
            { "hires_sampler", "unknown sampler '" + r.hiresSampler + "'; valid: " + joinNames(samplerNames()) });
    if (!std::isfinite(r.hiresCfgScale) || r.hiresCfgScale < 0 || r.hiresCfgScale > 100)
        p.push_back({ "hires_cfg", "guidance scale must be 0 (the first pass's) or a finite number up to 100" });
    if (!std::isfinite(r.etaAncestral) || r.etaAncestral < 0)
        p.push_back({ "eta_ancestral", "must be >= 0" });
    for (const auto& [name, v] :
        { std::pair { "sdxl_original_size", std::min(r.sdxlOriginalWidth, r.sdxlOriginalHeight) },
            std::pair { "sdxl_crop", std::min(r.sdxlCropLeft, r.sdxlCropTop) },
            std::pair { "sdxl_target_size", std::min(r.sdxlTargetWidth, r.sdxlTargetHeight) } })
        if (v < 0)
            p.push_back({ name, "must be 0 (the painted size) or a positive number of pixels" });
    if (!r.refinerModel.empty()
        && (!std::isfinite(r.refinerSwitchAt) || r.refinerSwitchAt <= 0 || r.refinerSwitchAt >= 1))
        p.push_back(
            { "refiner_switch_at", "must be between 0 and 1 (the share of the way sampled by the first model)" });
}

// the ControlNet units
void checkControls(const GenerationRequest& r, std::vector<Problem>& p)
{
    for (size_t i = 0; i < r.controls.size(); ++i) {
        const auto& c = r.controls[i];
        const std::string f = "control " + std::to_string(i);
        if (c.model.empty())
            p.push_back({ f, "names no ControlNet file" });
        if (!contains(controlPreprocessors(), c.preprocessor))
            p.push_back(
                { f, "unknown preprocessor '" + c.preprocessor + "'; valid: " + joinNames(controlPreprocessors()) });
        if (c.image.empty() && c.preprocessor != "inpaint" && c.preprocessor != "tile")
            p.push_back({ f, "needs a control image" });
        if ((c.preprocessor == "inpaint" || c.preprocessor == "tile") && c.image.empty() && r.initImage.empty())
            p.push_back(
                { f, "the " + c.preprocessor + " preprocessor reads the job's input image, and there is none" });
        if (c.preprocessor == "inpaint" && r.mode != JobMode::Inpaint)
            p.push_back({ f, "the inpaint preprocessor is for the inpaint job (it reads the mask)" });
        if (!std::isfinite(c.strength) || c.strength < 0 || c.strength > 2)
            p.push_back({ f, "strength must be between 0 and 2" });
        if (!(c.start >= 0 && c.start < c.end && c.end <= 1))
            p.push_back({ f, "start and end must satisfy 0 <= start < end <= 1" });
        if (!(c.cannyLow >= 0 && c.cannyLow <= c.cannyHigh && c.cannyHigh <= 1000))
            p.push_back({ f, "canny thresholds must satisfy 0 <= low <= high <= 1000" });
    }
}

// the refiner and aesthetic scores, the hires pass's size, the input image, outpainting, the mask
void checkInputs(const GenerationRequest& r, std::vector<Problem>& p)
{
    const bool usesInit = r.mode == JobMode::Img2Img || r.mode == JobMode::Inpaint || r.mode == JobMode::Upscale;
    if (!r.refinerModel.empty() && r.mode == JobMode::Upscale)
        p.push_back({ "refiner", "the upscale job takes no refiner" });
    if (!std::isfinite(r.aestheticScore) || !std::isfinite(r.negativeAestheticScore) || r.aestheticScore < 0
        || r.aestheticScore > 10 || r.negativeAestheticScore < 0 || r.negativeAestheticScore > 10)
        p.push_back({ "aesthetic_score", "aesthetic scores are between 0 and 10" });
    if (!std::isfinite(r.hiresStrength) || r.hiresStrength <= 0 || r.hiresStrength > 1)
        p.push_back({ "hires_strength", "must be in (0, 1]" });
    if (r.hiresSteps < 0 || r.hiresSteps > 1000)
        p.push_back({ "hires_steps", "must be between 0 (the same as steps) and 1000" });
    if (r.hiresEnabled() && r.mode == JobMode::Txt2Img && r.width >= 8 && r.height >= 8
        && (r.hiresSize().first > 8192 || r.hiresSize().second > 8192))
        p.push_back({ "hires_scale", "the enlarged picture would pass 8192 pixels a side" });
    if (usesInit && r.initImage.empty())
        p.push_back({ "init", std::string(jobModeName(r.mode)) + " needs an input image" });
    const bool extending = r.extendLeft > 0 || r.extendTop > 0 || r.extendRight > 0 || r.extendBottom > 0;
    if (r.extendLeft < 0 || r.extendTop < 0 || r.extendRight < 0 || r.extendBottom < 0 || r.extendLeft > 4096
        || r.extendTop > 4096 || r.extendRight > 4096 || r.extendBottom > 4096)
        p.push_back({ "extend", "outpainting extents must be between 0 and 4096 pixels" });
    if (r.mode == JobMode::Inpaint && extending && !r.mask.empty() && !r.initImage.empty()
        && (r.mask.width != r.initImage.width || r.mask.height != r.initImage.height))
        p.push_back({ "mask", "mask and image must be the same size" });
    if (r.mode == JobMode::Inpaint && !extending) {
        if (r.mask.empty()) {
            p.push_back({ "mask", "inpainting needs a mask (white = repaint, black = keep)" });
        } else if (!r.initImage.empty() && (r.mask.width != r.initImage.width || r.mask.height != r.initImage.height)) {
            p.push_back({ "mask",
                "mask is " + std::to_string(r.mask.width) + "x" + std::to_string(r.mask.height) + " but the image is "
                    + std::to_string(r.initImage.width) + "x" + std::to_string(r.initImage.height)
                    + "; they must be the same size" });
        } else {
            bool any = false;
            for (size_t i = 0; i < r.mask.pixels.size() && !any; i += r.mask.channels)
                any = r.mask.pixels[i] >= 128;
            if (!any)
                p.push_back({ "mask", "the mask is empty: paint (white) where the image should change" });
        }
    }
    if (r.mode == JobMode::Inpaint) {
        if (r.maskBlur < 0 || r.maskBlur > 256)
            p.push_back({ "mask_blur", "must be between 0 and 256 pixels" });
        if (r.maskGrow < -256 || r.maskGrow > 256)
            p.push_back({ "mask_grow", "must be between -256 and 256 pixels" });
        if (r.onlyMaskedPadding < 0)
            p.push_back({ "padding", "must be >= 0" });
        if (!contains(maskedContentNames(), r.maskedContent))
            p.push_back({ "masked_content",
                "unknown masked content '" + r.maskedContent + "'; valid: " + joinNames(maskedContentNames()) });
    }
}

// layout boxes, VAE tiles, upscaling, previews
void checkLayout(const GenerationRequest& r, std::vector<Problem>& p)
{
    if (r.mode == JobMode::Layout) {
        if (r.boxes.empty())
            p.push_back({ "boxes", "layout-to-image needs at least one box" });
        for (size_t i = 0; i < r.boxes.size(); ++i) {
            const auto& b = r.boxes[i];
            const std::string f = "boxes[" + std::to_string(i) + "]";
            if (!(b.w >= 1 && b.h >= 1) || !std::isfinite(b.x) || !std::isfinite(b.y))
                p.push_back({ f, "degenerate box (width and height must be at least 1 pixel)" });
            else if (b.x >= r.width || b.y >= r.height || b.x + b.w <= 0 || b.y + b.h <= 0)
                p.push_back({ f,
                    "box lies entirely outside the " + std::to_string(r.width) + "x" + std::to_string(r.height)
                        + " image" });
            if (b.prompt.empty() && b.label.empty())
                p.push_back({ f, "box needs a prompt or a label" });
        }
    }
    if (r.vaeTile != -1 && r.vaeTile != 0 && r.vaeTile < 16)
        p.push_back({ "vae_tile", "must be -1 (automatic), 0 (whole image) or at least 16 latent pixels" });
    if (r.mode == JobMode::Upscale) {
        if (r.upscaleFactor != 2 && r.upscaleFactor != 4)
            p.push_back({ "scale", "upscale factor must be 2 or 4" });
        if (r.tileSize < 16 || r.tileOverlap < 0 || r.tileOverlap * 2 >= r.tileSize)
            p.push_back({ "tile", "tile must be >= 16 pixels and overlap less than half a tile" });
        if (r.noiseLevel < 0 || r.noiseLevel > 350)
            p.push_back({ "noise_level", "must be between 0 and 350" });
    }
    if (r.previewEvery < 0 || r.decodeEvery < 0)
        p.push_back({ "preview", "preview intervals must be >= 0" });
}
} // namespace

std::vector<Problem> GenerationRequest::validate() const
{
    std::vector<Problem> p;
    checkSampling(*this, p);
    checkPrompts(*this, p);
    checkPasses(*this, p);
    checkControls(*this, p);
    checkInputs(*this, p);
    checkLayout(*this, p);
    return p;
}

namespace {
json imageToJson(const Image& img)
{
    if (img.empty())
        return nullptr;
    return base64Encode(io::encodePng(img, {}));
}
Image imageFromJson(const json& j)
{
    if (!j.is_string())
        return {};
    return io::decodePng(base64Decode(j.get<std::string>()), "embedded image").image;
}
} // namespace

json GenerationRequest::toJson() const
{
    json j;
    j["mode"] = jobModeName(mode);
    j["prompt"] = prompt;
    j["negative_prompt"] = negativePrompt;
    json bj = json::array();
    for (const auto& b : boxes)
        bj.push_back(
            { { "x", b.x }, { "y", b.y }, { "w", b.w }, { "h", b.h }, { "prompt", b.prompt }, { "label", b.label } });
    j["boxes"] = bj;
    j["width"] = width;
    j["height"] = height;
    j["sampler"] = sampler;
    j["schedule"] = schedule;
    j["steps"] = steps;
    j["cfg_scale"] = cfgScale;
    j["seed"] = seed;
    j["batch"] = batch;
    j["strength"] = strength;
    j["eta"] = eta;
    j["eta_ancestral"] = etaAncestral;
    j["clip_skip"] = clipSkip;
    j["mask_blur"] = maskBlur;
    j["mask_grow"] = maskGrow;
    j["only_masked"] = onlyMasked;
    j["only_masked_padding"] = onlyMaskedPadding;
    j["masked_content"] = maskedContent;
    j["soft_inpainting"] = softInpainting;
    j["fast_decode"] = fastDecode;
    j["extend"] = { extendLeft, extendTop, extendRight, extendBottom };
    j["hires_scale"] = hiresScale;
    j["hires_steps"] = hiresSteps;
    j["hires_strength"] = hiresStrength;
    j["hires_width"] = hiresWidth;
    j["hires_height"] = hiresHeight;
    j["hires_sampler"] = hiresSampler;
    j["hires_prompt"] = hiresPrompt;
    j["hires_negative_prompt"] = hiresNegativePrompt;
    j["hires_cfg_scale"] = hiresCfgScale;
    j["sdxl_original_size"] = { sdxlOriginalWidth, sdxlOriginalHeight };
    j["sdxl_crop"] = { sdxlCropLeft, sdxlCropTop };
    j["sdxl_target_size"] = { sdxlTargetWidth, sdxlTargetHeight };
    if (!refinerModel.empty()) {
        j["refiner"] = refinerModel;
        j["refiner_switch_at"] = refinerSwitchAt;
    }
    j["aesthetic_score"] = aestheticScore;
    j["negative_aesthetic_score"] = negativeAestheticScore;
    j["upscale_factor"] = upscaleFactor;
    j["tile_size"] = tileSize;
    j["tile_overlap"] = tileOverlap;
    j["noise_level"] = noiseLevel;
    j["vae_tile"] = vaeTile;
    j["caption_layout"] = captionLayout;
    json lj = json::array();
    for (const auto& l : loras)
        lj.push_back({ { "name", l.name }, { "te", l.textWeight }, { "unet", l.unetWeight } });
    j["loras"] = lj;
    j["model"] = modelName;
    if (!controls.empty()) {
        json cs = json::array();
        for (const auto& c : controls)
            cs.push_back({ { "model", c.model }, { "image_png", imageToJson(c.image) },
                { "preprocessor", c.preprocessor }, { "strength", c.strength }, { "start", c.start }, { "end", c.end },
                { "guess_mode", c.guessMode }, { "canny_low", c.cannyLow }, { "canny_high", c.cannyHigh } });
        j["controls"] = cs;
    }
    j["mask_png"] = imageToJson(mask);
    j["init_png"] = imageToJson(initImage);
    return j;
}

GenerationRequest GenerationRequest::fromJson(const json& j)
{
    GenerationRequest r;
    try {
        r.mode = jobModeFromName(j.value("mode", std::string("txt2img")));
        r.prompt = j.value("prompt", r.prompt);
        r.negativePrompt = j.value("negative_prompt", r.negativePrompt);
        if (j.contains("boxes") && j["boxes"].is_array())
            for (const auto& b : j["boxes"])
                r.boxes.push_back({ b.value("x", 0.0), b.value("y", 0.0), b.value("w", 0.0), b.value("h", 0.0),
                    b.value("prompt", std::string()), b.value("label", std::string()) });
        r.width = j.value("width", r.width);
        r.height = j.value("height", r.height);
        r.sampler = j.value("sampler", r.sampler);
        r.schedule = j.value("schedule", r.schedule);
        r.steps = j.value("steps", r.steps);
        r.cfgScale = j.value("cfg_scale", r.cfgScale);
        r.seed = j.value("seed", r.seed);
        r.batch = j.value("batch", r.batch);
        r.strength = j.value("strength", r.strength);
        r.eta = j.value("eta", r.eta);
        r.etaAncestral = j.value("eta_ancestral", r.etaAncestral);
        r.clipSkip = j.value("clip_skip", r.clipSkip);
        r.maskBlur = j.value("mask_blur", r.maskBlur);
        r.maskGrow = j.value("mask_grow", r.maskGrow);
        r.onlyMasked = j.value("only_masked", r.onlyMasked);
        r.onlyMaskedPadding = j.value("only_masked_padding", r.onlyMaskedPadding);
        r.maskedContent = j.value("masked_content", r.maskedContent);
        r.softInpainting = j.value("soft_inpainting", r.softInpainting);
        r.fastDecode = j.value("fast_decode", r.fastDecode);
        if (j.contains("extend") && j["extend"].is_array() && j["extend"].size() == 4) {
            r.extendLeft = j["extend"][0];
            r.extendTop = j["extend"][1];
            r.extendRight = j["extend"][2];
            r.extendBottom = j["extend"][3];
        }
        r.hiresScale = j.value("hires_scale", r.hiresScale);
        r.hiresSteps = j.value("hires_steps", r.hiresSteps);
        r.hiresStrength = j.value("hires_strength", r.hiresStrength);
        r.hiresWidth = j.value("hires_width", r.hiresWidth);
        r.hiresHeight = j.value("hires_height", r.hiresHeight);
        r.hiresSampler = j.value("hires_sampler", r.hiresSampler);
        r.hiresPrompt = j.value("hires_prompt", r.hiresPrompt);
        r.hiresNegativePrompt = j.value("hires_negative_prompt", r.hiresNegativePrompt);
        r.hiresCfgScale = j.value("hires_cfg_scale", r.hiresCfgScale);
        auto pair = [&](const char* key, int& a, int& b) {
            if (j.contains(key) && j[key].is_array() && j[key].size() == 2) {
                a = j[key][0].get<int>();
                b = j[key][1].get<int>();
            }
        };
        pair("sdxl_original_size", r.sdxlOriginalWidth, r.sdxlOriginalHeight);
        pair("sdxl_crop", r.sdxlCropLeft, r.sdxlCropTop);
        pair("sdxl_target_size", r.sdxlTargetWidth, r.sdxlTargetHeight);
        r.aestheticScore = j.value("aesthetic_score", r.aestheticScore);
        r.refinerModel = j.value("refiner", r.refinerModel);
        r.refinerSwitchAt = j.value("refiner_switch_at", r.refinerSwitchAt);
        r.negativeAestheticScore = j.value("negative_aesthetic_score", r.negativeAestheticScore);
        r.upscaleFactor = j.value("upscale_factor", r.upscaleFactor);
        r.tileSize = j.value("tile_size", r.tileSize);
        r.tileOverlap = j.value("tile_overlap", r.tileOverlap);
        r.noiseLevel = j.value("noise_level", r.noiseLevel);
        r.vaeTile = j.value("vae_tile", r.vaeTile);
        r.captionLayout = j.value("caption_layout", r.captionLayout);
        if (j.contains("loras") && j["loras"].is_array())
            for (const auto& l : j["loras"])
                r.loras.push_back(
                    { l.value("name", std::string()), l.value("te", 1.0), l.value("unet", l.value("te", 1.0)) });
        r.modelName = j.value("model", r.modelName);
        if (j.contains("mask_png"))
            r.mask = imageFromJson(j["mask_png"]);
        if (j.contains("controls") && j["controls"].is_array())
            for (const auto& c : j["controls"]) {
                ControlUnit u;
                u.model = c.value("model", u.model);
                if (c.contains("image_png"))
                    u.image = imageFromJson(c["image_png"]);
                u.preprocessor = c.value("preprocessor", u.preprocessor);
                u.strength = c.value("strength", u.strength);
                u.start = c.value("start", u.start);
                u.end = c.value("end", u.end);
                u.guessMode = c.value("guess_mode", u.guessMode);
                u.cannyLow = c.value("canny_low", u.cannyLow);
                u.cannyHigh = c.value("canny_high", u.cannyHigh);
                r.controls.push_back(std::move(u));
            }
        if (j.contains("init_png"))
            r.initImage = imageFromJson(j["init_png"]);
    } catch (const json::exception& e) {
        fail(ErrorKind::InvalidInput, std::string("generation settings: a field has the wrong type: ") + e.what());
    }
    return r;
}

} // namespace ls::pipeline

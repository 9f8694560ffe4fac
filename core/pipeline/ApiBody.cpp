#include "pipeline/ApiBody.h"

#include "io/ImageFile.h"
#include "pipeline/SamplerNames.h"
#include "util/Base64.h"
#include "util/Error.h"

#include <filesystem>
#include <sstream>

namespace ls::pipeline {

using nlohmann::json;

namespace {

std::string png64(const Image& img) { return base64Encode(io::encodePng(img, {})); }

std::string withLoraTags(std::string prompt, const std::vector<text::LoraTag>& loras)
{
    for (const auto& l : loras) {
        std::ostringstream tag;
        tag << " <lora:" << l.name << ":" << l.textWeight;
        if (l.unetWeight != l.textWeight)
            tag << ":" << l.unetWeight;
        tag << ">";
        prompt += tag.str();
    }
    return prompt;
}

} // namespace

ApiCall toApiCall(const GenerationRequest& r, const std::string& checkpoint)
{
    if (r.mode == JobMode::Upscale)
        fail(ErrorKind::Unsupported, "upscaling runs on this machine only (a remote server's upscalers differ)");
    const bool inpaint = r.mode == JobMode::Inpaint;
    if (inpaint && (r.extendLeft || r.extendTop || r.extendRight || r.extendBottom))
        fail(ErrorKind::Unsupported, "outpainting runs on this machine only: the A1111 API has no canvas extension");
    if (inpaint && r.maskGrow != 0)
        fail(ErrorKind::Unsupported, "a grown or shrunk mask cannot be sent to a server: set mask grow to 0");
    if (!r.refinerModel.empty())
        fail(ErrorKind::Unsupported, "a refiner is a file on this machine: choose none for a remote model");
    const bool img2img = r.mode == JobMode::Img2Img || r.mode == JobMode::Inpaint;
    json b;
    b["prompt"] = withLoraTags(r.prompt, r.loras);
    b["negative_prompt"] = r.negativePrompt;
    b["seed"] = r.seed;
    b["sampler_name"] = r.sampler;
    b["scheduler"] = r.schedule;
    b["batch_size"] = r.batch;
    b["n_iter"] = 1;
    b["steps"] = r.steps;
    b["cfg_scale"] = r.cfgScale;
    b["width"] = img2img && !r.initImage.empty() ? r.initImage.width : r.width;
    b["height"] = img2img && !r.initImage.empty() ? r.initImage.height : r.height;
    if (r.sampler == "DDIM")
        b["eta"] = r.eta;
    else if (samplerUsesAncestralEta(r.sampler))
        b["eta"] = r.etaAncestral;
    json overrides = { { "CLIP_stop_at_last_layers", r.clipSkip } };
    if (!checkpoint.empty())
        overrides["sd_model_checkpoint"] = checkpoint;
    if (r.fastDecode)
        overrides["sd_vae_decode_method"] = "TAESD";
    b["override_settings"] = overrides;
    b["send_images"] = true;
    b["save_images"] = false;
    json scripts = json::object();
    if (!r.boxes.empty()) {
        json boxes = json::array();
        for (const auto& x : r.boxes)
            boxes.push_back({ { "x", x.x }, { "y", x.y }, { "w", x.w }, { "h", x.h }, { "prompt", x.prompt },
                { "label", x.label } });
        scripts["latent studio layout"] = { { "args", json::array({ { { "boxes", boxes } } }) } };
    }
    if (!r.controls.empty()) {
        static const std::map<std::string, std::string> modules { { "none", "none" }, { "canny", "canny" },
            { "invert", "invert" }, { "inpaint", "inpaint_only" }, { "tile", "tile_resample" } };
        json units = json::array();
        for (const auto& c : r.controls) {
            json u = { { "enabled", true }, { "module", modules.at(c.preprocessor) },
                { "model", std::filesystem::path(c.model).stem().string() }, { "weight", c.strength },
                { "guidance_start", c.start }, { "guidance_end", c.end }, { "threshold_a", c.cannyLow },
                { "threshold_b", c.cannyHigh }, { "control_mode", 0 } };
            if (c.guessMode)
                u["guess_mode"] = true;
            if (!c.image.empty())
                u["image"] = png64(c.image);
            units.push_back(u);
        }
        scripts["controlnet"] = { { "args", units } };
    }
    if (r.mode == JobMode::Inpaint && r.softInpainting) // A1111's script, its defaults after "enabled"
        scripts["soft inpainting"] = { { "args", json::array({ true, 1, 0.5, 4, 0, 0.5, 2 }) } };
    b["alwayson_scripts"] = scripts;
    if (!img2img) {
        if (r.hiresEnabled()) {
            b["enable_hr"] = true;
            b["hr_upscaler"] = "Lanczos";
            b["hr_scale"] = r.hiresScale;
            b["hr_resize_x"] = r.hiresWidth;
            b["hr_resize_y"] = r.hiresHeight;
            b["hr_second_pass_steps"] = r.hiresSteps;
            b["denoising_strength"] = r.hiresStrength;
            b["hr_prompt"] = r.hiresPrompt;
            b["hr_negative_prompt"] = r.hiresNegativePrompt;
            if (!r.hiresSampler.empty())
                b["hr_sampler_name"] = r.hiresSampler;
            if (r.hiresCfgScale > 0)
                b["hr_cfg"] = r.hiresCfgScale;
        }
        return { "/sdapi/v1/txt2img", b };
    }
    b["init_images"] = json::array({ png64(r.initImage) });
    b["resize_mode"] = 0;
    b["denoising_strength"] = r.strength;
    b["include_init_images"] = false;
    if (r.mode == JobMode::Inpaint) {
        b["mask"] = png64(r.mask);
        b["mask_blur"] = r.maskBlur;
        const auto& names = maskedContentNames(); // in A1111's inpainting_fill order
        b["inpainting_fill"] = std::find(names.begin(), names.end(), r.maskedContent) - names.begin();
        b["inpaint_full_res"] = r.onlyMasked;
        b["inpaint_full_res_padding"] = r.onlyMaskedPadding;
        b["inpainting_mask_invert"] = 0;
    }
    return { "/sdapi/v1/img2img", b };
}

} // namespace ls::pipeline

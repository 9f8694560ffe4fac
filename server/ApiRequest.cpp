#include "server/ApiRequest.h"

#include "io/ImageFile.h"
#include "pipeline/ImageOps.h"
#include "pipeline/SamplerNames.h"
#include "util/Base64.h"
#include "util/Error.h"

#include <cmath>
#include <limits>
#include <random>

namespace ls::server {

using nlohmann::json;
using pipeline::GenerationRequest;
using pipeline::JobMode;

InvalidRequest::InvalidRequest(std::vector<FieldProblem> problems)
    : std::runtime_error(problems.empty() ? "invalid request" : problems.front().msg)
    , m_problems(std::move(problems))
{
}

json problemsDetail(const std::vector<FieldProblem>& problems)
{
    json detail = json::array();
    for (const auto& p : problems)
        detail.push_back({ { "loc", p.loc }, { "msg", p.msg }, { "type", p.type } });
    return { { "detail", detail } };
}

json errorBody(const std::string& kind, const std::string& what)
{
    return { { "error", kind }, { "detail", what }, { "body", "" }, { "errors", what } };
}

std::vector<FieldProblem> fieldProblems(const std::vector<pipeline::Problem>& problems)
{
    std::vector<FieldProblem> out;
    for (const auto& p : problems)
        out.push_back({ { "body", apiFieldName(p.field) }, p.message });
    return out;
}

std::string apiFieldName(const std::string& f)
{
    static const std::map<std::string, std::string> names { { "cfg", "cfg_scale" }, { "batch", "batch_size" },
        { "strength", "denoising_strength" }, { "sampler", "sampler_name" }, { "schedule", "scheduler" },
        { "clip_skip", "override_settings.CLIP_stop_at_last_layers" }, { "hires_scale", "hr_scale" },
        { "hires_steps", "hr_second_pass_steps" }, { "hires_strength", "denoising_strength" },
        { "hires_resize", "hr_resize_x" }, { "hires_sampler", "hr_sampler_name" }, { "hires_cfg", "hr_cfg" },
        { "padding", "inpaint_full_res_padding" }, { "refiner", "refiner_checkpoint" }, { "mask", "mask" },
        { "eta_ancestral", "eta" }, { "init", "init_images" }, { "model", "override_settings.sd_model_checkpoint" } };
    const auto it = names.find(f);
    if (it != names.end())
        return it->second;
    if (f.rfind("control ", 0) == 0)
        return "alwayson_scripts.controlnet.args." + f.substr(8);
    return f;
}

namespace {

// Reads fields of one JSON object with pydantic's coercions, collecting problems under `loc`.
class Fields {
public:
    Fields(const json& object, std::vector<std::string> loc, std::vector<FieldProblem>& problems)
        : m_j(object)
        , m_loc(std::move(loc))
        , m_problems(problems)
    {
    }

    bool has(const char* name) const { return m_j.contains(name) && !m_j[name].is_null(); }
    const json& raw(const char* name) const { return m_j[name]; }

    void problem(const std::string& name, const std::string& msg, const std::string& type = "value_error")
    {
        auto loc = m_loc;
        for (auto& part : locOf(name))
            loc.push_back(std::move(part));
        m_problems.push_back({ loc, msg, type });
    }

    // A base64 image of this object (`name`: the field, or a dotted path below it); a bad one becomes a problem
    // and an empty image.
    Image image(const std::string& base64, const std::string& name, int64_t maxPixels)
    {
        std::string field;
        for (const auto& part : m_loc)
            field += part + ".";
        try {
            return decodeApiImage(base64, field + name, maxPixels);
        } catch (const InvalidRequest& e) {
            m_problems.insert(m_problems.end(), e.problems().begin(), e.problems().end());
            return {};
        }
    }

    int64_t integer(const char* name, int64_t def)
    {
        if (!has(name))
            return def;
        const json& v = m_j[name];
        if (v.is_number_integer())
            return v.get<int64_t>();
        if (v.is_number_float()) {
            const double d = v.get<double>();
            if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
                return static_cast<int64_t>(d);
        } else if (v.is_string()) {
            try {
                size_t used = 0;
                const std::string s = v.get<std::string>();
                const long long n = std::stoll(s, &used);
                if (used == s.size())
                    return n;
            } catch (const std::exception&) {
            }
        }
        problem(name, "value is not a valid integer", "type_error.integer");
        return def;
    }

    int small(const char* name, int def)
    {
        const int64_t v = integer(name, def);
        if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
            problem(name, "value is out of range", "value_error.number");
            return def;
        }
        return static_cast<int>(v);
    }

    double number(const char* name, double def)
    {
        if (!has(name))
            return def;
        const json& v = m_j[name];
        if (v.is_number())
            return v.get<double>();
        if (v.is_string()) {
            try {
                size_t used = 0;
                const std::string s = v.get<std::string>();
                const double d = std::stod(s, &used);
                if (used == s.size())
                    return d;
            } catch (const std::exception&) {
            }
        }
        problem(name, "value is not a valid float", "type_error.float");
        return def;
    }

    bool boolean(const char* name, bool def)
    {
        if (!has(name))
            return def;
        const json& v = m_j[name];
        if (v.is_boolean())
            return v.get<bool>();
        if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1))
            return v.get<int64_t>() == 1;
        if (v.is_string()) {
            std::string s = v.get<std::string>();
            for (auto& c : s)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (s == "true" || s == "1" || s == "yes" || s == "on" || s == "t" || s == "y")
                return true;
            if (s == "false" || s == "0" || s == "no" || s == "off" || s == "f" || s == "n")
                return false;
        }
        problem(name, "value could not be parsed to a boolean", "type_error.bool");
        return def;
    }

    std::string text(const char* name, const std::string& def = {})
    {
        if (!has(name))
            return def;
        const json& v = m_j[name];
        if (v.is_string())
            return v.get<std::string>();
        if (v.is_number())
            return v.dump();
        problem(name, "str type expected", "type_error.str");
        return def;
    }

    // A field we know but cannot carry out: fine at its default, refused otherwise.
    template <typename T> void refuseUnless(const char* name, T value, T def, const std::string& why)
    {
        if (value != def)
            problem(name, why, "value_error.unsupported");
    }

private:
    const json& m_j;
    std::vector<std::string> m_loc;
    std::vector<FieldProblem>& m_problems;
};

int64_t randomSeed()
{
    static std::mt19937_64 rng { std::random_device {}() };
    return static_cast<int64_t>(rng() % 4294967294ULL); // A1111: int(random.randrange(4294967294))
}

void readOverrides(Fields& f, ApiJob& job, std::vector<FieldProblem>& problems)
{
    if (!f.has("override_settings"))
        return;
    if (!f.raw("override_settings").is_object()) {
        f.problem("override_settings", "value is not a valid dict", "type_error.dict");
        return;
    }
    Fields o(f.raw("override_settings"), { "body", "override_settings" }, problems);
    job.checkpoint = o.text("sd_model_checkpoint");
    job.vae = o.text("sd_vae");
    job.request.clipSkip = o.small("CLIP_stop_at_last_layers", job.request.clipSkip);
    if (o.has("eta_ddim"))
        job.request.eta = o.number("eta_ddim", job.request.eta);
    if (o.has("eta_ancestral"))
        job.request.etaAncestral = o.number("eta_ancestral", job.request.etaAncestral);
    if (o.has("sd_vae_decode_method")) { // A1111's "Full" or "TAESD"
        const std::string method = o.text("sd_vae_decode_method");
        if (method != "Full" && method != "TAESD")
            o.problem("sd_vae_decode_method", "unexpected value; permitted: 'Full', 'TAESD'", "value_error.const");
        job.request.fastDecode = method == "TAESD";
    }
    o.refuseUnless<int64_t>("eta_noise_seed_delta", o.integer("eta_noise_seed_delta", 0), 0,
        "ENSD (a seed delta for the sampler's noise) is not supported: leave it 0");
}

// sd-webui-controlnet's unit ("module", "model", "weight", "image", "guidance_start", ...) as one of our ControlUnits.
void readControlUnit(const json& unit, size_t i, int64_t maxPixels, ApiJob& job, std::vector<FieldProblem>& problems)
{
    const std::string idx = std::to_string(i);
    if (!unit.is_object()) {
        problems.push_back({ { "body", "alwayson_scripts", "controlnet", "args", idx }, "value is not a valid dict",
            "type_error.dict" });
        return;
    }
    Fields u(unit, { "body", "alwayson_scripts", "controlnet", "args", idx }, problems);
    if (!u.boolean("enabled", true))
        return;
    pipeline::ControlUnit c;
    const std::string module = u.text("module", "none");
    static const std::map<std::string, std::string> modules { { "none", "none" }, { "canny", "canny" },
        { "invert", "invert" }, { "invert (from white bg & black line)", "invert" }, { "inpaint", "inpaint" },
        { "inpaint_only", "inpaint" }, { "tile_resample", "tile" }, { "tile", "tile" } };
    const auto m = modules.find(module);
    if (m == modules.end())
        u.problem("module",
            "preprocessor '" + module
                + "' is not built in (built in: none, canny, invert, inpaint_only, tile_resample); send the processed "
                  "control image with module \"none\"");
    else
        c.preprocessor = m->second;
    const std::string model = u.text("model");
    if (model.empty() || model == "None")
        u.problem("model", "names no ControlNet model (see GET /controlnet/model_list)");
    c.strength = u.number("weight", 1.0);
    c.start = u.number("guidance_start", 0.0);
    c.end = u.number("guidance_end", 1.0);
    c.cannyLow = u.number("threshold_a", 100);
    c.cannyHigh = u.number("threshold_b", 200);
    c.guessMode = u.boolean("guess_mode", false);
    if (u.has("control_mode")) {
        const json& cm = u.raw("control_mode");
        const bool balanced = (cm.is_number_integer() && cm.get<int>() == 0) || (cm.is_string() && cm == "Balanced");
        if (!balanced)
            u.problem("control_mode",
                "only \"Balanced\" (0) is supported; the original ControlNet's guess mode is \"guess_mode\": true");
    }
    for (const char* key : { "image", "input_image" })
        if (u.has(key) && c.image.empty()) {
            const json& img = u.raw(key);
            // sd-webui-controlnet also takes {"image": b64, "mask": b64}
            const std::string b64 = img.is_object() && img.contains("image") && img["image"].is_string()
                ? img["image"].get<std::string>()
                : img.is_string() ? img.get<std::string>()
                                  : std::string();
            if (b64.empty())
                u.problem(key, "expected a base64 image");
            else
                c.image = u.image(b64, key, maxPixels);
        }
    job.controlModels.push_back(model);
    c.model = model;
    job.request.controls.push_back(std::move(c));
}

void readScripts(Fields& f, ApiJob& job, int64_t maxPixels, std::vector<FieldProblem>& problems)
{
    if (f.has("script_name") && !f.text("script_name").empty())
        f.problem("script_name", "scripts are not supported (this server has none)");
    if (!f.has("alwayson_scripts"))
        return;
    const json& scripts = f.raw("alwayson_scripts");
    if (!scripts.is_object()) {
        f.problem("alwayson_scripts", "value is not a valid dict", "type_error.dict");
        return;
    }
    for (const auto& [name, value] : scripts.items()) {
        const json args = value.is_object() && value.contains("args") ? value["args"] : json::array();
        if (!args.is_array()) {
            problems.push_back(
                { { "body", "alwayson_scripts", name, "args" }, "value is not a valid list", "type_error.list" });
            continue;
        }
        std::string lower = name;
        for (auto& c : lower)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower == "controlnet") {
            for (size_t i = 0; i < args.size(); ++i)
                readControlUnit(args[i], i, maxPixels, job, problems);
        } else if (lower == "soft inpainting") {
            // A1111's Soft Inpainting script: its first argument turns it on (its other settings belong to its own
            // blending; ours is differential diffusion)
            job.request.softInpainting = !args.empty() && args[0].is_boolean() && args[0].get<bool>();
        } else if (lower == "latent studio layout" || lower == "latent_studio_layout") {
            // Our own: {"args": [{"boxes": [{"x", "y", "w", "h", "prompt", "label"}, ...]}]} or {"args": [[...]]}
            for (const auto& a : args)
                try {
                    auto boxes = pipeline::parseLayoutBoxes(a.dump(), "alwayson_scripts.latent_studio_layout");
                    job.request.boxes.insert(job.request.boxes.end(), boxes.begin(), boxes.end());
                } catch (const Error& e) {
                    problems.push_back({ { "body", "alwayson_scripts", name, "args" }, e.what() });
                }
        } else {
            // A1111: HTTPException(422, "always on script X not found")
            problems.push_back({ { "body", "alwayson_scripts", name }, "always on script " + name + " not found" });
        }
    }
}

// What txt2img and img2img share (StableDiffusionProcessing's fields).
void readCommon(Fields& f, ApiJob& job, int64_t maxPixels, std::vector<FieldProblem>& problems)
{
    auto& r = job.request;
    r.prompt = f.text("prompt");
    r.negativePrompt = f.text("negative_prompt");
    if (f.has("styles") && !(f.raw("styles").is_array() && f.raw("styles").empty()))
        f.problem("styles", "styles are not supported: write their text into the prompt");
    r.seed = f.integer("seed", -1);
    job.subseed = f.integer("subseed", -1);
    f.refuseUnless("subseed_strength", f.number("subseed_strength", 0.0), 0.0,
        "variation seeds are not supported: leave subseed_strength at 0");
    for (const char* k : { "seed_resize_from_w", "seed_resize_from_h" })
        if (f.integer(k, -1) > 0)
            f.problem(k, "resizing the seed is not supported: leave it at -1 or 0");
    std::string sampler = f.text("sampler_name");
    if (sampler.empty())
        sampler = f.text("sampler_index", "Euler");
    std::string schedule = f.text("scheduler");
    std::string split;
    r.sampler = pipeline::canonicalSampler(sampler, &split);
    if (!split.empty() && (schedule.empty() || pipeline::canonicalSchedule(schedule) == "Automatic"))
        schedule = split;
    r.schedule = schedule.empty() ? "Automatic" : pipeline::canonicalSchedule(schedule);
    r.batch = f.small("batch_size", 1);
    job.iterations = f.small("n_iter", 1);
    if (job.iterations < 1 || job.iterations > 100)
        f.problem("n_iter", "must be between 1 and 100");
    r.steps = f.small("steps", 50);
    r.cfgScale = f.number("cfg_scale", 7.0);
    r.width = f.small("width", 512);
    r.height = f.small("height", 512);
    if (static_cast<int64_t>(r.width) * r.height > maxPixels)
        f.problem("width", "width x height is over this server's limit of " + std::to_string(maxPixels) + " pixels");
    f.refuseUnless("restore_faces", f.boolean("restore_faces", false), false, "face restoration is not available");
    f.refuseUnless("tiling", f.boolean("tiling", false), false, "tiling (seamless textures) is not supported");
    if (f.has("eta")) {
        // A1111 uses p.eta for whichever sampler runs: DDIM's eta, or the ancestral samplers' noise share
        const double eta = f.number("eta", 0.0);
        if (r.sampler == "DDIM")
            r.eta = eta;
        else if (pipeline::samplerUsesAncestralEta(r.sampler))
            r.etaAncestral = eta;
    }
    f.refuseUnless("s_churn", f.number("s_churn", 0.0), 0.0, "s_churn is not supported: leave it at 0");
    f.refuseUnless("s_noise", f.number("s_noise", 1.0), 1.0, "s_noise is not supported: leave it at 1");
    job.sendImages = f.boolean("send_images", true);
    f.boolean("save_images", false);
    r.refinerModel = f.text("refiner_checkpoint");
    if (r.refinerModel == "None")
        r.refinerModel.clear();
    r.refinerSwitchAt = f.number("refiner_switch_at", 0.8);
    readOverrides(f, job, problems);
    readScripts(f, job, maxPixels, problems);
    if (r.seed == -1)
        r.seed = randomSeed();
    if (job.subseed == -1)
        job.subseed = randomSeed();
}

void finish(const ApiJob& job, std::vector<FieldProblem>& problems)
{
    for (auto& p : fieldProblems(job.request.validate()))
        problems.push_back(std::move(p));
    if (!problems.empty())
        throw InvalidRequest(std::move(problems));
}

json echoed(const json& body)
{
    json p = body.is_object() ? body : json::object();
    return p;
}

} // namespace

ApiJob parseTxt2Img(const json& body, int64_t maxPixels)
{
    std::vector<FieldProblem> problems;
    if (!body.is_object())
        throw InvalidRequest({ { { "body" }, "value is not a valid dict", "type_error.dict" } });
    ApiJob job;
    job.request.mode = JobMode::Txt2Img;
    Fields f(body, { "body" }, problems);
    readCommon(f, job, maxPixels, problems);
    auto& r = job.request;
    if (!r.boxes.empty())
        r.mode = JobMode::Layout;
    if (f.boolean("enable_hr", false)) {
        const std::string up = f.text("hr_upscaler", "Lanczos");
        if (up != "Lanczos" && up != "None" && !up.empty())
            f.problem("hr_upscaler", "the hires pass enlarges with Lanczos only, not '" + up + "'");
        r.hiresScale = f.number("hr_scale", 2.0);
        r.hiresWidth = f.small("hr_resize_x", 0);
        r.hiresHeight = f.small("hr_resize_y", 0);
        r.hiresSteps = f.small("hr_second_pass_steps", 0);
        r.hiresStrength = f.number("denoising_strength", 0.7);
        r.hiresPrompt = f.text("hr_prompt");
        r.hiresNegativePrompt = f.text("hr_negative_prompt");
        r.hiresCfgScale = f.number("hr_cfg", 0);
        const std::string hs = f.text("hr_sampler_name");
        if (!hs.empty() && hs != "Use same sampler")
            r.hiresSampler = pipeline::canonicalSampler(hs);
        if (r.hiresWidth > 0 || r.hiresHeight > 0)
            r.hiresScale = 1.0;
        const std::string hc = f.text("hr_checkpoint_name");
        if (!hc.empty() && hc != "Use same checkpoint")
            f.problem("hr_checkpoint_name", "a second checkpoint for the hires pass is not supported");
    }
    job.parameters = echoed(body);
    finish(job, problems);
    return job;
}

ApiJob parseImg2Img(const json& body, int64_t maxPixels)
{
    std::vector<FieldProblem> problems;
    if (!body.is_object())
        throw InvalidRequest({ { { "body" }, "value is not a valid dict", "type_error.dict" } });
    ApiJob job;
    auto& r = job.request;
    r.mode = JobMode::Img2Img;
    Fields f(body, { "body" }, problems);
    readCommon(f, job, maxPixels, problems);
    r.strength = f.number("denoising_strength", 0.75);
    const int resizeMode = f.small("resize_mode", 0);
    if (resizeMode < 0 || resizeMode > 2)
        f.problem("resize_mode",
            resizeMode == 3 ? "\"just resize (latent upscale)\" is not supported: use 0, 1 or 2" : "must be 0, 1 or 2");
    Image init;
    if (!f.has("init_images") || !f.raw("init_images").is_array() || f.raw("init_images").empty()
        || !f.raw("init_images")[0].is_string())
        f.problem("init_images", "needs one base64 image");
    else
        init = f.image(f.raw("init_images")[0].get<std::string>(), "init_images.0", maxPixels);
    const Image mask = f.has("mask") ? f.image(f.text("mask"), "mask", maxPixels) : Image();
    const int blur = f.small("mask_blur", f.small("mask_blur_x", 4));
    r.maskBlur = blur;
    const int fill = f.small("inpainting_fill", 0);
    if (fill < 0 || fill > 3)
        f.problem("inpainting_fill", "must be 0 (fill), 1 (original), 2 (latent noise) or 3 (latent nothing)");
    else
        r.maskedContent = pipeline::maskedContentNames()[fill]; // in A1111's order
    r.onlyMasked = f.boolean("inpaint_full_res", true);
    r.onlyMaskedPadding = f.small("inpaint_full_res_padding", 0);
    const bool invert = f.integer("inpainting_mask_invert", 0) != 0;
    job.includeInitImages = f.boolean("include_init_images", false);
    const double noiseMult = f.number("initial_noise_multiplier", 1.0);
    f.refuseUnless("initial_noise_multiplier", noiseMult, 1.0, "only 1 is supported");
    if (f.has("image_cfg_scale") && f.number("image_cfg_scale", 1.5) != 1.5)
        f.problem("image_cfg_scale", "instruct-pix2pix models are not supported");
    if (!init.empty() && r.width > 0 && r.height > 0 && problems.empty()) {
        r.initImage = resizeForApi(pipeline::toRgb(init), resizeMode, r.width, r.height);
        if (!mask.empty()) {
            Image m = binaryMask(mask);
            if (invert)
                for (auto& v : m.pixels)
                    v = static_cast<uint8_t>(255 - v);
            r.mask = resizeForApi(m, resizeMode, r.width, r.height);
            r.mode = JobMode::Inpaint;
        }
    }
    if (!r.boxes.empty() && r.mode == JobMode::Img2Img)
        f.problem("alwayson_scripts", "layout boxes are for txt2img");
    job.parameters = echoed(body);
    if (!job.includeInitImages) {
        job.parameters["init_images"] = nullptr;
        job.parameters["mask"] = nullptr;
    }
    finish(job, problems);
    return job;
}

ExtrasJob parseExtrasSingle(const json& body, int64_t maxPixels)
{
    std::vector<FieldProblem> problems;
    if (!body.is_object())
        throw InvalidRequest({ { { "body" }, "value is not a valid dict", "type_error.dict" } });
    Fields f(body, { "body" }, problems);
    ExtrasJob e;
    if (!f.has("image"))
        f.problem("image", "field required", "value_error.missing");
    else if (const Image img = f.image(f.text("image"), "image", maxPixels); !img.empty())
        e.image = pipeline::toRgb(img);
    e.resizeMode = f.small("resize_mode", 0);
    e.resize = f.number("upscaling_resize", 2);
    e.width = f.small("upscaling_resize_w", 512);
    e.height = f.small("upscaling_resize_h", 512);
    e.crop = f.boolean("upscaling_crop", true);
    e.upscaler = f.text("upscaler_1", "None");
    f.refuseUnless(
        "upscaler_2", f.text("upscaler_2", "None"), std::string("None"), "a second upscaler is not supported");
    f.refuseUnless("gfpgan_visibility", f.number("gfpgan_visibility", 0), 0.0, "face restoration is not available");
    f.refuseUnless(
        "codeformer_visibility", f.number("codeformer_visibility", 0), 0.0, "face restoration is not available");
    if (e.resizeMode != 0 && e.resizeMode != 1)
        f.problem("resize_mode", "must be 0 (by factor) or 1 (to a size)");
    if (!(e.resize >= 1 && e.resize <= 8))
        f.problem("upscaling_resize", "must be between 1 and 8");
    if (e.resizeMode == 1 && (e.width < 8 || e.height < 8))
        f.problem("upscaling_resize_w", "the target size must be at least 8x8");
    if (!problems.empty())
        throw InvalidRequest(std::move(problems));
    return e;
}

} // namespace ls::server

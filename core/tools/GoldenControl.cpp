// The ControlNet golden cases (computed by lllyasviel/ControlNet and ControlNet-v1-1-nightly): the ControlNet's
// residuals, the UNet that takes them, the stand-alone control file, and the gradio scripts' DDIM sampling (normal and
// guess mode, strength, eta 1) on the tiny SD1 model with canny hints.
#include "tools/GoldenContext.h"
#include "tools/GoldenControl.h"

#include "io/DiffusersFolder.h"
#include "models/controlnet/ControlNetFile.h"
#include "pipeline/Preprocess.h"

namespace ls::tools::golden {

namespace {

// The case's ControlNet weights: the override (a diffusers folder), weights_by_prefix["control_model."], or weights.
std::shared_ptr<io::WeightSource> controlWeights(Ctx& c)
{
    if (c.override)
        return c.override;
    if (c.cj.contains("weights_by_prefix") && c.cj["weights_by_prefix"].contains("control_model."))
        return std::make_shared<io::SafeTensorsFile>(
            c.resolve(c.cj["weights_by_prefix"]["control_model."].get<std::string>()));
    return c.weights();
}

void caseControlNet(Ctx& c)
{
    const json& cfg = c.cj["config"];
    auto w = controlWeights(c);
    auto net = loadControlNet(*w, UNetConfig::fromJson(cfg), f32());
    at::Tensor guided;
    auto outs = net->residuals(c.in("x"), c.in("hint"), c.in("timesteps"), c.in("context"), {}, &guided);
    for (size_t i = 0; i < outs.size(); ++i)
        c.checkOut("control." + std::to_string(i), outs[i]);
    c.checkOut("guided_hint", guided);
}

void caseUnetControlled(Ctx& c)
{
    auto w = c.weights();
    auto unet = loadPart(UNetModel(UNetConfig::fromJson(c.cj["config"]), f32()), *w,
        c.cj.value("weights_prefix", "model.diffusion_model."));
    const auto scales = c.cj["inputs"]["control_scales"].get<std::vector<double>>();
    std::vector<at::Tensor> unit, scaled;
    for (size_t i = 0; i < scales.size(); ++i) {
        unit.push_back(c.in("control." + std::to_string(i)));
        scaled.push_back(unit.back() * scales[i]);
    }
    auto x = c.in("x"), t = c.in("timesteps"), ctx = c.in("context");
    c.checkOut("eps", unet->forward(x, t, ctx, at::Tensor(), &scaled));
    c.checkOut("eps_unit_scales", unet->forward(x, t, ctx, at::Tensor(), &unit));
    c.checkOut("eps_only_mid_control", unet->forward(x, t, ctx, at::Tensor(), &scaled, true));
    c.checkOut("eps_no_control", unet(x, t, ctx));
}

// A tiny ControlLDM checkpoint: the control file loads strictly for the config's control stage.
void caseControlCheckpoint(Ctx& c)
{
    const json& p = c.cj["config"]["params"];
    auto w = c.weights();
    auto info = inspectControlNet(*w);
    auto net = loadControlNet(*w, UNetConfig::fromJson(p["control_stage_config"]["params"]), f32());
    const auto residuals = net->inputChannels.size() + 1;
    c.r.details.push_back("prefix '" + info.prefix + "', " + std::to_string(residuals) + " residuals");
    if (c.cj.contains("n_control_residuals") && c.cj["n_control_residuals"].get<size_t>() != residuals) {
        c.r.ok = false;
        c.r.message = "wrong number of residuals";
    }
}

// [1, 3, H, W] in [0, 1] from an HWC uint8 tensor (HWC3 of a one-channel map).
at::Tensor hintFrom(const at::Tensor& hwc)
{
    auto t = hwc.dim() == 2 ? hwc.unsqueeze(-1).expand({ -1, -1, 3 }) : hwc;
    return t.permute({ 2, 0, 1 }).unsqueeze(0).to(at::kFloat) / 255.0;
}

void caseSampleControl(Ctx& c)
{
    const json& in = c.cj["inputs"];
    // The base model from every prefix but the control's, the ControlNet from its own file.
    auto merged = std::make_shared<io::MergedSource>();
    addWeightsByPrefix(*merged, c, "control_model.");
    std::ifstream cfgIn(c.resolve(c.cj["model_config"].get<std::string>()));
    const json modelCase = json::parse(cfgIn);
    auto m = LatentModel::load(*merged, configFromLdmJson(modelCase["config"], merged.get()), f32());
    auto net = loadControlNet(*controlWeights(c),
        UNetConfig::fromJson(modelCase["config"]["params"]["control_stage_config"]["params"]), f32());

    // The hint: canny of the input image (exactly OpenCV's), as the scripts' detected_map / 255.
    const auto image = c.in("input_image");
    at::Tensor detected;
    if (pipeline::hasCanny()) {
        detected
            = pipeline::canny(image.to(at::kByte), in.value("low_threshold", 100), in.value("high_threshold", 200));
        c.checkOut("detected_map", detected.dim() == 2 ? detected.unsqueeze(-1).expand({ -1, -1, 3 }) : detected);
    } else {
        detected = c.expected("detected_map");
        c.r.details.push_back("detected_map: taken from the case (this build has no OpenCV imgproc)");
    }
    const auto hint = hintFrom(detected);

    const bool guess = in.value("guess_mode", false);
    const double scale = in.value("scale", 9.0), eta = in.value("eta", 0.0);
    const auto scales = controlScales(net->inputChannels.size() + 1, in.value("strength", 1.0), guess);
    auto cond = m->clip->forward(c.in("cond_ids")), uncond = m->clip->forward(c.in("uncond_ids"));
    auto control = [&](const at::Tensor& x, const at::Tensor& t, const at::Tensor& ctx) {
        auto r = net->residuals(x, hint.expand({ x.size(0), -1, -1, -1 }), t, ctx);
        r.resize(scales.size()); // zip(control, control_scales)
        for (size_t i = 0; i < r.size(); ++i)
            r[i] = r[i] * scales[i];
        return r;
    };
    bool first = true;
    sampling::EpsFn eps = [&](const at::Tensor& x, const at::Tensor& t, double) {
        // cldm/ddim_hacked.py: two model calls, cond then uncond; guess mode leaves the uncond branch uncontrolled.
        auto cc = control(x, t, cond);
        auto eC = m->unet->forward(x, t, cond, at::Tensor(), &cc);
        at::Tensor eU;
        if (guess) {
            eU = m->unet(x, t, uncond);
        } else {
            auto cu = control(x, t, uncond);
            eU = m->unet->forward(x, t, uncond, at::Tensor(), &cu);
        }
        if (first) {
            c.checkOut("first_step_eps_cond", eC);
            c.checkOut("first_step_eps_uncond", eU);
            first = false;
        }
        return eU + static_cast<float>(scale) * (eC - eU);
    };
    auto p = sampling::ddimParams(m->schedule, sampling::ddimTimesteps(in.value("ddim_steps", 10)), eta);
    at::Tensor stepNoise;
    if (in.contains("step_noise"))
        stepNoise = c.in("step_noise");
    auto final = checkedDdim(c, eps, p, eta, stepNoise);
    c.checkOut("final_latent", final);
    auto img = m->decodeLatent(final, 0);
    c.checkOut("image", img);
    auto u8 = (img.permute({ 0, 2, 3, 1 }) * 127.5 + 127.5).clamp(0, 255).to(at::kByte);
    c.checkOut("image_uint8", u8);
}

void caseCanny(Ctx& c)
{
    if (!pipeline::hasCanny())
        fail(ErrorKind::Unsupported, "canny: this build has no OpenCV imgproc");
    const auto thresholds = c.cj["inputs"]["thresholds"].get<std::vector<std::vector<double>>>();
    for (size_t i = 0; i < thresholds.size(); ++i) {
        const std::string n = std::to_string(i);
        auto edges = pipeline::canny(c.in("image." + n).to(at::kByte), thresholds[i][0], thresholds[i][1]);
        c.checkOut("edges." + n, edges);
        if (c.cj["outputs"].contains("control." + n))
            c.checkOut("control." + n, hintFrom(edges));
    }
}

void caseHintInpaint(Ctx& c)
{
    const auto image = c.in("input_image").to(at::kByte);
    const auto mask = c.in("input_mask").to(at::kByte).select(2, 0); // the sketch tool's mask: channel 0
    auto h = pipeline::inpaintHint(image, mask, c.cj["inputs"].value("mask_blur", 5.0));
    c.checkOut("mask_pixel", h.maskPixel);
    c.checkOut("mask_latent", h.maskLatent);
    c.checkOut("control", h.hint);
    c.checkOut("mask", h.keep);
    c.checkOut("x0_image", image.to(at::kFloat).permute({ 2, 0, 1 }).unsqueeze(0) / 127.0 - 1.0);
}

// A diffusers ControlNetModel folder: pure renaming of the control file, and the forward case from it.
void caseDiffusersControl(Ctx& c)
{
    auto folder = std::make_shared<io::DiffusersFolder>(c.dir / c.cj.value("model", std::string("model")));
    io::SafeTensorsFile ref(c.resolve(c.cj["equivalent_checkpoint"].get<std::string>()));
    int bad = 0;
    for (const auto& key : ref.keys()) {
        if (!folder->contains(key) || !at::equal(folder->load(key), ref.load(key))) {
            ++bad;
            c.r.details.push_back("differs or missing: " + key);
        }
    }
    if (folder->keys().size() != ref.keys().size()) {
        ++bad;
        c.r.details.push_back("the folder has " + std::to_string(folder->keys().size()) + " tensors, the file "
            + std::to_string(ref.keys().size()));
    }
    if (bad) {
        c.r.ok = false;
        c.r.message = std::to_string(bad) + " tensor(s) do not match after key translation";
    }
    for (const auto& rel : c.cj["reuse_cases"]) {
        const fs::path d = fs::weakly_canonical(c.dir / rel.get<std::string>());
        std::ifstream in(d / "case.json");
        GoldenResult rr = runGoldenCase(d, json::parse(in), folder);
        c.r.details.push_back(
            std::string(rr.ok ? "PASS " : "FAIL ") + d.filename().string() + " via the diffusers folder");
        if (!rr.ok) {
            c.r.ok = false;
            if (c.r.message.empty())
                c.r.message = "reuse case " + d.filename().string() + ": " + rr.message;
        }
    }
}

} // namespace

bool runControlCase(Ctx& c, const std::string& kind)
{
    if (kind == "diffusers_controlnet") {
        caseDiffusersControl(c);
        return true;
    }
    if (kind == "canny") {
        caseCanny(c);
        return true;
    }
    if (kind == "hint_inpaint") {
        caseHintInpaint(c);
        return true;
    }
    if (kind == "controlnet")
        caseControlNet(c);
    else if (kind == "unet_controlled")
        caseUnetControlled(c);
    else if (kind == "sample_controlnet_ddim")
        caseSampleControl(c);
    else if (kind == "checkpoint" && c.cj.contains("config")
        && c.cj["config"].value("target", "").find("ControlLDM") != std::string::npos)
        caseControlCheckpoint(c);
    else
        return false;
    return true;
}

} // namespace ls::tools::golden

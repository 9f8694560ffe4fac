// The SDXL golden cases (computed by Stability-AI/generative-models, sgm): the UNet with its vector condition, the
// bigG text tower, the conditioner, sgm's discretization and denoiser, and whole trajectories (txt2img, img2img).
#include "tools/GoldenContext.h"
#include "tools/GoldenSdxl.h"

#include "models/sdxl/SdxlConditioning.h"

namespace ls::tools::golden {

namespace {

json unetParams(const json& cfg) { return cfg.contains("network_config") ? cfg["network_config"] : cfg; }

void caseUnetSdxl(Ctx& c)
{
    auto w = c.weights();
    const json& cfg = c.cj["config"];
    auto unet = loadPart(UNetModel(UNetConfig::fromSgmJson(unetParams(cfg)), f32()), *w,
        c.cj.value("weights_prefix", "model.diffusion_model."));
    at::Tensor y;
    if (c.cj["inputs"].contains("y")) {
        y = c.in("y");
    } else {
        // The refiner: y built from pooled, original size, crop and the aesthetic scores.
        auto pooled = c.in("pooled");
        y = sdxl::vectorCondition(
            pooled, c.in("original_size_as_tuple"), c.in("crop_coords_top_left"), c.in("aesthetic_score"));
        c.checkOut("y", y);
        c.checkOut("y_uc",
            sdxl::vectorCondition(pooled, c.in("original_size_as_tuple"), c.in("crop_coords_top_left"),
                c.in("negative_aesthetic_score")));
    }
    c.checkOut("eps", unet(c.in("x"), c.in("timesteps"), c.in("context"), y));
}

void caseClipG(Ctx& c)
{
    auto w = c.weights();
    const json& oc = c.cj["config"]["open_clip_config"];
    const json& t = oc["text_cfg"];
    OpenClipTextConfig cfg;
    cfg.width = t.value("width", cfg.width);
    cfg.heads = t.value("heads", cfg.heads);
    cfg.layers = t.value("layers", cfg.layers);
    cfg.contextLength = t.value("context_length", cfg.contextLength);
    cfg.vocabSize = t.value("vocab_size", cfg.vocabSize);
    cfg.mlp = static_cast<int64_t>(t.value("mlp_ratio", 4.0) * static_cast<double>(cfg.width));
    cfg.embedDim = oc.value("embed_dim", cfg.width);
    auto model
        = loadPart(OpenClipTextModel(cfg, f32()), *w, c.cj.value("weights_prefix", "conditioner.embedders.1.model."));
    auto ids = c.in("input_ids");
    std::vector<at::Tensor> all;
    auto out = model->forwardPooled(ids, &all);
    c.checkOut("penultimate_hidden_state", out.penultimate);
    c.checkOut("last_hidden_state", out.last);
    c.checkOut("last_hidden_state_normed", model->ln_final(out.last));
    c.checkOut("pooled", out.pooled);
    c.checkOut("eot_index", ids.argmax(-1));
    for (size_t i = 0; i < all.size(); ++i)
        c.checkOut("hidden_states." + std::to_string(i), all[i]);
}

std::shared_ptr<LatentModel> sdxlModel(Ctx& c)
{
    const std::string rel = c.cj["weights"].get<std::string>();
    return tinyModel(c, rel, checkpointConfigFor(c.resolve(rel)));
}

struct SdxlCondition {
    at::Tensor context, vector;
};

// The conditioner as sgm runs it; zero: force_uc_zero_embeddings=["txt"] (what Latent Studio does for an empty
// negative prompt, as AUTOMATIC1111 does).
SdxlCondition condition(
    Ctx& c, LatentModel& m, const std::string& prefix, bool zero, sdxl::TextEmbedding* text = nullptr)
{
    auto t = sdxl::encodeText(m, c.in(prefix + "clip_l_input_ids"), c.in(prefix + "clip_g_input_ids"));
    if (text)
        *text = t;
    if (zero) {
        t.context = at::zeros_like(t.context);
        t.pooled = at::zeros_like(t.pooled);
    }
    auto v = sdxl::vectorCondition(
        t.pooled, c.in("original_size_as_tuple"), c.in("crop_coords_top_left"), c.in("target_size_as_tuple"));
    return { t.context, v };
}

void caseConditioner(Ctx& c)
{
    auto m = sdxlModel(c);
    sdxl::TextEmbedding text;
    auto cond = condition(c, *m, "", false, &text);
    c.checkOut("crossattn", cond.context);
    c.checkOut("vector", cond.vector);
    auto zero = condition(c, *m, "neg_", true);
    c.checkOut("uc_zero_crossattn", zero.context);
    c.checkOut("uc_zero_vector", zero.vector);
    auto neg = condition(c, *m, "neg_", false);
    c.checkOut("uc_neg_crossattn", neg.context);
    c.checkOut("uc_neg_vector", neg.vector);
    const int64_t wl = m->config.clip.hiddenSize;
    c.checkOut("clip_l_hidden", text.context.narrow(2, 0, wl));
    c.checkOut("clip_g_penultimate", text.context.narrow(2, wl, text.context.size(2) - wl));
    c.checkOut("clip_g_pooled", text.pooled);
    c.checkOut("emb_original_size", sdxl::sizeEmbedding(c.in("original_size_as_tuple")));
    c.checkOut("emb_crop_coords", sdxl::sizeEmbedding(c.in("crop_coords_top_left")));
    c.checkOut("emb_target_size", sdxl::sizeEmbedding(c.in("target_size_as_tuple")));
}

void caseScheduleSdxl(Ctx& c)
{
    const json& cfg = c.cj["config"];
    auto s = sampling::BetaSchedule::linear(
        cfg["linear_start"].get<double>(), cfg["linear_end"].get<double>(), cfg.value("num_timesteps", 1000));
    sampling::SgmDiscreteSchedule d(s);
    auto exact = [&](const std::string& name, const at::Tensor& t) {
        const double a = c.atol, r = c.rtol;
        c.atol = 1e-12;
        c.rtol = 0;
        c.checkOut(name, t);
        c.atol = a;
        c.rtol = r;
    };
    exact("alphas_cumprod_float64", s.alphasCumprod64);
    c.checkOut("denoiser_sigmas", d.sigmas());
    for (int n : cfg["steps"].get<std::vector<int>>()) {
        const std::string sn = std::to_string(n);
        exact("legacy_timesteps_n" + sn, at::tensor(d.legacyTimesteps(n)));
        c.checkOut("legacy_sigmas_n" + sn, d.legacySigmas(n));
    }
    for (const auto& pair : cfg["img2img"]) {
        const int n = pair[0].get<int>();
        const double strength = pair[1].get<double>();
        const std::string name = "img2img_sigmas_n" + std::to_string(n) + "_s"
            + std::to_string(static_cast<int>(std::lround(strength * 100)));
        c.checkOut(name, sampling::img2imgSigmas(d.legacySigmas(n), strength));
    }
    const json& edm = cfg["edm"];
    c.checkOut("edm_sigmas_n10",
        sampling::karrasSigmas(
            10, edm["sigma_min"].get<double>(), edm["sigma_max"].get<double>(), edm["rho"].get<double>()));
    auto probe = c.in("probe_sigma").to(at::kDouble);
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < probe.numel(); ++i)
        idx.push_back(d.quantize(probe[i].item<double>()));
    auto idxT = at::tensor(idx);
    auto q = d.sigmas().index_select(0, idxT);
    exact("probe_idx", idxT);
    c.checkOut("probe_sigma_quantized", q);
    c.checkOut("probe_c_in", 1.0 / (q * q + 1.0).sqrt());
    c.checkOut("probe_c_out", -q);
    c.checkOut("probe_c_skip", at::ones_like(q));
    exact("probe_c_noise", idxT);
}

// CFG over [uc, c] with the vector condition, as sgm's VanillaCFG; records the integer timesteps the UNet saw.
sampling::EpsFn guided(
    LatentModel& m, const SdxlCondition& cond, const SdxlCondition& uncond, double scale, std::vector<int64_t>* visited)
{
    return [&m, cond, uncond, scale, visited](const at::Tensor& x, const at::Tensor& t, double) {
        if (visited)
            visited->push_back(static_cast<int64_t>(t[0].item<double>()));
        auto out = m.unet(at::cat({ x, x }), at::cat({ t, t }), at::cat({ uncond.context, cond.context }),
            at::cat({ uncond.vector, cond.vector }));
        auto parts = out.chunk(2);
        return parts[0] + static_cast<float>(scale) * (parts[1] - parts[0]);
    };
}

void checkVisited(Ctx& c, const std::vector<int64_t>& visited)
{
    if (!c.cj.contains("timesteps_visited"))
        return;
    std::vector<int64_t> expected;
    for (const auto& step : c.cj["timesteps_visited"])
        expected.push_back(step[0].get<int64_t>());
    if (visited != expected) {
        c.r.ok = false;
        c.r.message = "the UNet was called at other timesteps than the reference's";
    }
    c.r.details.push_back("timesteps_visited: " + std::to_string(visited.size()) + " steps"
        + (visited == expected ? ", equal" : ", DIFFERENT"));
}

void caseSampleSdxl(Ctx& c, const std::string& kind)
{
    auto m = sdxlModel(c);
    const json& in = c.cj["inputs"];
    const bool negative = in.value("use_negative_prompt", false);
    auto cond = condition(c, *m, "", false);
    auto uncond = condition(c, *m, "neg_", !negative);
    c.check("cond_crossattn", cond.context, c.in("cond_crossattn"));
    c.check("uncond_crossattn", uncond.context, c.in("uncond_crossattn"));
    c.check("uncond_vector", uncond.vector, c.in("uncond_vector"));
    sampling::SgmDiscreteSchedule d(m->schedule);
    auto sigmas = d.legacySigmas(in.value("steps", 8));
    c.checkOut("sigmas", sigmas);
    std::vector<int64_t> visited;
    sampling::SigmaSchedule ks(m->schedule.alphasCumprod);
    sampling::KDenoiser den(guided(*m, cond, uncond, in.value("guidance_scale", 5.0), &visited), ks, &d);
    Trajectory tr;
    sampling::KOptions o;
    at::Tensor stepNoise;
    if (in.contains("step_noise"))
        stepNoise = c.in("step_noise");
    o.noise = [&](int64_t i, const at::Tensor&) { return stepNoise[i]; };
    o.onStep = record(tr);
    const auto which = kind == "sample_sdxl_dpmpp_2m" ? sampling::KSampler::Dpmpp2M
        : kind == "sample_sdxl_euler_ancestral"       ? sampling::KSampler::EulerAncestral
                                                      : sampling::KSampler::Euler;
    const double s0 = sigmas[0].item<double>();
    auto x = c.in("x_T") * static_cast<float>(std::sqrt(1.0 + s0 * s0)); // sgm's prepare_sampling_loop
    auto final = sampling::sampleK(which, den, x, sigmas, o);
    c.checkOut("latents", at::stack(tr.latents));
    c.checkOut("denoised", at::stack(tr.x0));
    c.checkOut("final_latent", final);
    c.checkOut("image", m->decodeLatent(final, 0));
    checkVisited(c, visited);
}

void caseImg2ImgSdxl(Ctx& c)
{
    auto m = sdxlModel(c);
    const json& in = c.cj["inputs"];
    auto cond = condition(c, *m, "", false);
    SdxlCondition uncond { c.in("uncond_crossattn"), c.in("uncond_vector") };
    c.check("uncond_crossattn", at::zeros_like(cond.context), uncond.context);
    auto init = m->encodeImage(c.in("init_image"), c.in("posterior_noise"));
    c.checkOut("init_latent", init);
    sampling::SgmDiscreteSchedule d(m->schedule);
    auto sigmas = sampling::img2imgSigmas(d.legacySigmas(in.value("steps", 10)), in.value("strength", 0.75));
    c.checkOut("sigmas", sigmas);
    const double s0 = sigmas[0].item<double>();
    const auto k = static_cast<float>(std::sqrt(1.0 + s0 * s0));
    auto noised = (init + c.in("noise") * static_cast<float>(s0)) / k;
    c.checkOut("noised_z", noised);
    std::vector<int64_t> visited;
    sampling::SigmaSchedule ks(m->schedule.alphasCumprod);
    sampling::KDenoiser den(guided(*m, cond, uncond, in.value("guidance_scale", 5.0), &visited), ks, &d);
    Trajectory tr;
    sampling::KOptions o;
    o.onStep = record(tr);
    auto final = sampling::sampleK(sampling::KSampler::Euler, den, noised * k, sigmas, o);
    c.checkOut("latents", at::stack(tr.latents));
    c.checkOut("denoised", at::stack(tr.x0));
    c.checkOut("final_latent", final);
    c.checkOut("image", m->decodeLatent(final, 0));
    checkVisited(c, visited);
}

} // namespace

bool runSdxlCase(Ctx& c, const std::string& kind)
{
    if (kind == "unet_sdxl")
        caseUnetSdxl(c);
    else if (kind == "clip_g_text")
        caseClipG(c);
    else if (kind == "sdxl_conditioner")
        caseConditioner(c);
    else if (kind == "schedule_sdxl")
        caseScheduleSdxl(c);
    else if (kind == "sample_sdxl_euler" || kind == "sample_sdxl_dpmpp_2m" || kind == "sample_sdxl_euler_ancestral")
        caseSampleSdxl(c, kind);
    else if (kind == "img2img_sdxl")
        caseImg2ImgSdxl(c);
    else
        return false;
    return true;
}

} // namespace ls::tools::golden

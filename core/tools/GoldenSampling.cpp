// Golden cases of the noise schedules and the samplers: DDIM/PLMS/k-diffusion trajectories, img2img, masked and
// 9-channel inpainting, LDM super-resolution.
#include "tools/GoldenContext.h"
#include "tools/GoldenSampling.h"

#include "io/DiffusersFolder.h"
#include "io/SafeTensors.h"
#include "models/LatentModel.h"
#include "models/taesd/Taesd.h"
#include "sampling/Samplers.h"
#include "text/ClipTokenizer.h"
#include "text/LayoutTokens.h"
#include "util/Error.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>

namespace ls::tools::golden {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ls::models;

namespace {

void caseSchedule(Ctx& c)
{
    const json& cfg = c.cj["config"];
    auto s = sampling::BetaSchedule::linear(
        cfg["linear_start"].get<double>(), cfg["linear_end"].get<double>(), cfg.value("timesteps", 1000));
    auto check64 = [&](const std::string& name, const at::Tensor& t) {
        const double saveA = c.atol, saveR = c.rtol;
        c.atol = 1e-12;
        c.checkOut(name, t);
        c.atol = saveA;
        c.rtol = saveR;
    };
    c.checkOut("betas", s.betas);
    c.checkOut("alphas_cumprod", s.alphasCumprod);
    c.checkOut("alphas_cumprod_prev", s.alphasCumprodPrev);
    check64("betas_float64", s.betas64);
    check64("alphas_cumprod_float64", s.alphasCumprod64);
    for (int S : cfg["ddim_S"].get<std::vector<int>>()) {
        for (double eta : cfg["ddim_eta"].get<std::vector<double>>()) {
            const std::string p = "ddim_S" + std::to_string(S) + "_eta" + std::to_string(static_cast<int>(eta)) + ".";
            auto d = sampling::ddimParams(s, sampling::ddimTimesteps(S), eta);
            auto vec
                = [](const std::vector<double>& v) { return at::tensor(v, at::TensorOptions().dtype(at::kDouble)); };
            c.checkOut(p + "timesteps", at::tensor(d.timesteps));
            c.checkOut(p + "ddim_alphas", vec(d.alphas));
            c.checkOut(p + "ddim_alphas_prev", vec(d.alphasPrev));
            c.checkOut(p + "ddim_sigmas", vec(d.sigmas));
            c.checkOut(p + "ddim_sqrt_one_minus_alphas", vec(d.sqrtOneMinusAlphas));
        }
    }
    sampling::SigmaSchedule k(s.alphasCumprod);
    c.checkOut("k.sigmas", k.sigmas());
    for (int n : cfg["k_n"].get<std::vector<int>>()) {
        const std::string sn = std::to_string(n);
        auto u = k.uniform(n);
        auto kk = sampling::karrasSigmas(n, k.sigmaMin(), k.sigmaMax(), cfg.value("karras_rho", 7.0));
        c.checkOut("k.get_sigmas_n" + sn, u);
        c.checkOut("k.karras_n" + sn, kk);
        const auto expT = c.expected("k.sigma_to_t_n" + sn);
        c.check("k.sigma_to_t_n" + sn, k.sigmaToT(u.narrow(0, 0, expT.size(0))), expT);
        const auto expKT = c.expected("k.karras_sigma_to_t_n" + sn);
        c.check("k.karras_sigma_to_t_n" + sn, k.sigmaToT(kk.narrow(0, 0, expKT.size(0))), expKT);
    }
}

// ---------------------------------------------------------------- sampler cases

void caseSample(Ctx& c, const std::string& kind)
{
    auto m = tinyModel(
        c, c.cj["weights"].get<std::string>(), checkpointConfigFor(c.resolve(c.cj["weights"].get<std::string>())));
    const json& cfg = c.cj["config"];
    const double scale = cfg.value("guidance_scale", 7.5);
    const int64_t steps = cfg.value("steps", 10);
    auto cond = m->clip->forward(c.in("cond_ids"));
    auto uncond = m->clip->forward(c.in("uncond_ids"));
    auto eps = cfgEps(*m, cond, uncond, scale);
    auto xT = c.in("x_T");
    Trajectory tr;
    at::Tensor stepNoise;
    if (c.cj["inputs"].contains("step_noise"))
        stepNoise = c.in("step_noise");
    auto noise = [&](int64_t i, const at::Tensor&) { return stepNoise[i]; };
    at::Tensor final;
    if (kind == "sample_ddim" || kind == "sample_plms") {
        auto p = sampling::ddimParams(m->schedule, sampling::ddimTimesteps(steps), cfg.value("eta", 0.0));
        sampling::DdimOptions o;
        o.eta = cfg.value("eta", 0.0);
        o.noise = noise;
        o.onStep = record(tr);
        final = kind == "sample_ddim" ? sampling::sampleDdim(eps, xT, p, o) : sampling::samplePlms(eps, xT, p, o);
        c.checkOut("pred_x0", at::stack(tr.x0));
    } else {
        sampling::SigmaSchedule ks(m->schedule.alphasCumprod);
        at::Tensor sigmas = kind == "sample_dpmpp_2m_karras"
            ? sampling::karrasSigmas(steps, ks.sigmaMin(), ks.sigmaMax())
            : ks.uniform(steps);
        c.checkOut("sigmas", sigmas);
        sampling::KDenoiser den(eps, ks);
        sampling::KOptions o;
        o.noise = noise;
        o.onStep = record(tr);
        sampling::KSampler which = kind == "sample_euler" ? sampling::KSampler::Euler
            : kind == "sample_euler_ancestral"            ? sampling::KSampler::EulerAncestral
            : kind == "sample_heun"                       ? sampling::KSampler::Heun
                                                          : sampling::KSampler::Dpmpp2M;
        final = sampling::sampleK(which, den, xT * sigmas[0].item<float>(), sigmas, o);
        c.checkOut("denoised", at::stack(tr.x0));
    }
    c.checkOut("latents", at::stack(tr.latents));
    c.checkOut("final_latent", final);
    c.checkOut("image", m->decodeLatent(final));
}

void caseImg2Img(Ctx& c)
{
    auto m = tinyModel(
        c, c.cj["weights"].get<std::string>(), checkpointConfigFor(c.resolve(c.cj["weights"].get<std::string>())));
    const json& cfg = c.cj["config"];
    const int64_t steps = cfg.value("steps", 10);
    const int64_t tEnc = static_cast<int64_t>(cfg.value("strength", 0.6) * static_cast<double>(steps));
    auto eps = cfgEps(
        *m, m->clip->forward(c.in("cond_ids")), m->clip->forward(c.in("uncond_ids")), cfg.value("guidance_scale", 7.5));
    auto init = m->encodeImage(c.in("init_image"), c.in("posterior_noise"));
    c.checkOut("init_latent", init);
    auto p = sampling::ddimParams(m->schedule, sampling::ddimTimesteps(steps), 0.0);
    const float a = static_cast<float>(p.alphas[tEnc]);
    auto zEnc = std::sqrt(a) * init + static_cast<float>(p.sqrtOneMinusAlphas[tEnc]) * c.in("encode_noise");
    c.checkOut("z_enc", zEnc);
    sampling::DdimParams sub = p;
    sub.timesteps.resize(tEnc);
    sub.alphas.resize(tEnc);
    sub.alphasPrev.resize(tEnc);
    sub.sigmas.resize(tEnc);
    sub.sqrtOneMinusAlphas.resize(tEnc);
    Trajectory tr;
    sampling::DdimOptions o;
    o.onStep = record(tr);
    auto final = sampling::sampleDdim(eps, zEnc, sub, o);
    c.checkOut("latents", at::stack(tr.latents));
    c.checkOut("final_latent", final);
    c.checkOut("image", m->decodeLatent(final));
}

void caseInpaintMasked(Ctx& c)
{
    auto m = tinyModel(
        c, c.cj["weights"].get<std::string>(), checkpointConfigFor(c.resolve(c.cj["weights"].get<std::string>())));
    const json& cfg = c.cj["config"];
    auto eps = cfgEps(
        *m, m->clip->forward(c.in("cond_ids")), m->clip->forward(c.in("uncond_ids")), cfg.value("guidance_scale", 7.5));
    auto x0 = c.in("x0"), mask = c.in("mask"), qn = c.in("q_sample_noise");
    auto acp = m->schedule.alphasCumprod;
    auto p = sampling::ddimParams(m->schedule, sampling::ddimTimesteps(cfg.value("steps", 10)), 0.0);
    Trajectory tr;
    sampling::DdimOptions o;
    o.onStep = record(tr);
    o.preStep = [&](int64_t i, int64_t t, const at::Tensor& x) {
        const float a = acp[t].item<float>();
        auto q = std::sqrt(a) * x0 + std::sqrt(1.0f - a) * qn[i];
        return q * mask + (1 - mask) * x;
    };
    auto final = sampling::sampleDdim(eps, c.in("x_T"), p, o);
    c.checkOut("latents", at::stack(tr.latents));
    c.checkOut("final_latent", final);
    c.checkOut("image", m->decodeLatent(final));
}

void caseInpaint9(Ctx& c)
{
    const json& cfg = c.cj["config"];
    auto merged = std::make_shared<io::MergedSource>();
    merged->add(
        std::make_shared<io::SafeTensorsFile>(c.resolve(c.cj["weights"].get<std::string>())), "model.diffusion_model.");
    addWeightsByPrefix(*merged, c);
    // CLIP heads are not visible in weights: take the text encoder's config from the checkpoint it comes from.
    json ldm = cfg["ld_config"];
    const fs::path clipFile = c.resolve(c.cj["weights_by_prefix"]["cond_stage_model."].get<std::string>());
    ldm["params"]["clip_config"] = checkpointConfigFor(clipFile)["params"]["clip_config"];
    auto model = LatentModel::load(*merged, configFromLdmJson(ldm, merged.get()), f32());
    auto image = c.in("image"), mask = c.in("mask");
    auto masked = image * (mask < 0.5);
    c.checkOut("masked_image", masked);
    auto maskedLatent = model->encodeImage(masked, c.in("posterior_noise"));
    auto x = c.in("x_T");
    auto maskLatent = at::upsample_nearest2d(mask, { x.size(2), x.size(3) });
    auto concat = at::cat({ maskLatent, maskedLatent }, 1);
    c.checkOut("mask_latent", maskLatent);
    c.checkOut("masked_image_latent", maskedLatent);
    c.checkOut("c_concat", concat);
    auto eps = cfgEps(*model, model->clip->forward(c.in("cond_ids")), model->clip->forward(c.in("uncond_ids")),
        cfg.value("guidance_scale", 7.5), concat);
    auto p
        = sampling::ddimParams(model->schedule, sampling::ddimTimesteps(cfg.value("steps", 10)), cfg.value("eta", 0.0));
    Trajectory tr;
    sampling::DdimOptions o;
    o.onStep = record(tr);
    auto final = sampling::sampleDdim(eps, x, p, o);
    c.checkOut("latents", at::stack(tr.latents));
    c.checkOut("pred_x0", at::stack(tr.x0));
    c.checkOut("final_latent", final);
    c.checkOut("image", model->decodeLatent(final));
}

void caseLdmSr(Ctx& c)
{
    const json& cfg = c.cj["config"];
    auto m = tinyModel(c, c.cj["weights"].get<std::string>(), cfg["ld_config"]);
    auto lr = c.in("lr_image");
    auto stepNoise = c.in("step_noise");
    sampling::EpsFn eps = [&](const at::Tensor& x, const at::Tensor& t, double) {
        return m->unet(at::cat({ x, lr }, 1), t);
    };
    auto p = sampling::ddimParams(m->schedule, sampling::ddimTimesteps(cfg.value("steps", 5)), cfg.value("eta", 1.0));
    auto final = checkedDdim(c, eps, p, cfg.value("eta", 1.0), stepNoise);
    c.checkOut("final_latent", final);
    c.checkOut("final_indices", m->firstStage->quantize(final / m->config.scaleFactor).second.flatten());
    c.checkOut("image", m->decodeLatent(final));
    c.checkOut("image_noquant", m->firstStage->decode(final / m->config.scaleFactor, true));
}

} // namespace

bool runSamplingCase(Ctx& c, const std::string& kind)
{
    if (kind == "schedule")
        caseSchedule(c);
    else if (kind == "sample_ddim" || kind == "sample_plms" || kind == "sample_euler"
        || kind == "sample_euler_ancestral" || kind == "sample_heun" || kind == "sample_dpmpp_2m"
        || kind == "sample_dpmpp_2m_karras")
        caseSample(c, kind);
    else if (kind == "img2img")
        caseImg2Img(c);
    else if (kind == "inpaint_masked_ddim")
        caseInpaintMasked(c);
    else if (kind == "sample_inpaint9_ddim")
        caseInpaint9(c);
    else if (kind == "sample_ldm_sr")
        caseLdmSr(c);
    else
        return false;
    return true;
}

} // namespace ls::tools::golden

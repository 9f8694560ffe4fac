#include "models/LatentModel.h"

#include <cstdio>

#include "util/Error.h"

namespace ls::models {

namespace {

const char* const kScheduleBuffers[] = { "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1",
    "posterior_mean_coef2", "lvlb_weights", "logvar" };

std::vector<std::pair<std::string, torch::nn::Module*>> parts(LatentModel& m)
{
    std::vector<std::pair<std::string, torch::nn::Module*>> p;
    p.emplace_back("model.diffusion_model.", m.unet.get());
    p.emplace_back("first_stage_model.", m.firstStage.get());
    if (m.config.cond == CondStage::SdxlBase) {
        p.emplace_back("conditioner.embedders.0.transformer.text_model.", m.clip.get());
        p.emplace_back("conditioner.embedders.1.model.", m.openclip.get());
        return p;
    }
    if (m.config.cond == CondStage::SdxlRefiner) {
        p.emplace_back("conditioner.embedders.0.model.", m.openclip.get());
        return p;
    }
    if (m.clip)
        p.emplace_back("cond_stage_model.transformer.text_model.", m.clip.get());
    if (m.openclip)
        p.emplace_back("cond_stage_model.model.", m.openclip.get());
    if (m.bert)
        p.emplace_back("cond_stage_model.transformer.", m.bert.get());
    return p;
}

} // namespace

bool isAuxiliaryKey(const std::string& key)
{
    for (const char* b : kScheduleBuffers)
        if (key == b)
            return true;
    return key.rfind("model_ema.", 0) == 0 || key.rfind("low_scale_model.", 0) == 0
        || key.rfind("cond_stage_model.model.visual.", 0) == 0 || key == "cond_stage_model.model.attn_mask"
        || key.rfind("loss.", 0) == 0 || key.rfind("first_stage_model.loss.", 0) == 0
        || key == "denoiser.sigmas" // sgm's DiscreteDenoiser buffer (recomputed from the schedule)
        || (key.rfind("conditioner.embedders.", 0) == 0
            && (key.find(".model.visual.") != std::string::npos || key.ends_with(".model.attn_mask")));
}

std::shared_ptr<LatentModel> LatentModel::build(const ModelConfig& c, const at::TensorOptions& o)
{
    auto m = std::make_shared<LatentModel>();
    m->config = c;
    m->options = o;
    m->unet = UNetModel(c.unet, o);
    m->firstStage = Autoencoder(c.firstStage, o);
    switch (c.cond) {
    case CondStage::Clip:
        m->clip = ClipTextModel(c.clip, o);
        break;
    case CondStage::OpenClip:
        m->openclip = OpenClipTextModel(c.openclip, o);
        break;
    case CondStage::Bert:
        m->bert = BertEmbedder(c.bert, o);
        break;
    case CondStage::SdxlBase:
        m->clip = ClipTextModel(c.clip, o);
        m->openclip = OpenClipTextModel(c.openclip, o);
        break;
    case CondStage::SdxlRefiner:
        m->openclip = OpenClipTextModel(c.openclip, o);
        break;
    case CondStage::None:
        break;
    }
    m->schedule = sampling::BetaSchedule::linear(c.linearStart, c.linearEnd, c.timesteps);
    if (c.zeroTerminalSnr)
        m->schedule = sampling::BetaSchedule::rescaledZeroTerminalSnr(m->schedule);
    return m;
}

std::shared_ptr<LatentModel> LatentModel::load(
    const io::WeightSource& w, const ModelConfig& c, const at::TensorOptions& o)
{
    auto m = build(c, o);
    m->path = w.path();
    LoadReport report;
    LoadOptions lo;
    lo.optional = { "embeddings.position_ids", "logit_scale" }; // logit_scale: unused, absent from diffusers files
    for (auto& [prefix, mod] : parts(*m))
        loadModule(*mod, w, prefix, report, lo);
    // Keys outside every part: schedule buffers and training state are fine, anything else is unexpected.
    for (const auto& key : w.keys()) {
        bool inPart = false;
        for (auto& [prefix, mod] : parts(*m))
            inPart = inPart || key.rfind(prefix, 0) == 0;
        if (!inPart && !isAuxiliaryKey(key))
            report.unexpected.push_back(key);
    }
    // Keys inside a part's prefix that the part does not know were reported by loadModule; drop auxiliary ones.
    std::erase_if(report.unexpected, [](const std::string& k) { return isAuxiliaryKey(k); });
    if (!report.ok())
        fail(ErrorKind::Mismatch, report.describe(w.path()) + "\n  (detected family: " + familyName(c.family) + ")");
    for (const auto& k : report.nonFinite)
        m->warnings.push_back(w.path() + ": tensor '" + k + "' holds NaN or Inf values");
    // The checkpoint's own schedule wins when present (real checkpoints store it).
    if (w.contains("alphas_cumprod") && w.info("alphas_cumprod").shape == std::vector<int64_t> { c.timesteps })
        m->schedule = sampling::BetaSchedule::fromAlphasCumprod(w.load("alphas_cumprod").to(at::kFloat));
    return m;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> LatentModel::checkpointKeys()
{
    std::vector<std::pair<std::string, std::vector<int64_t>>> out;
    for (auto& [prefix, mod] : parts(*this))
        for (auto& [k, s] : moduleKeys(*mod))
            out.emplace_back(prefix + k, s);
    return out;
}

void LatentModel::forEachTensor(const std::function<void(const std::string&, at::Tensor&)>& fn)
{
    for (auto& [prefix, mod] : parts(*this)) {
        for (auto& item : mod->named_parameters(true))
            fn(prefix + item.key(), item.value());
        for (auto& item : mod->named_buffers(true))
            fn(prefix + item.key(), item.value());
    }
}

at::ScalarType LatentModel::computeType() const { return nn::computeType(options); }

void LatentModel::moveTo(const at::Device& device)
{
    torch::NoGradGuard ng;
    unetGraphs->clear();
    forEachTensor([&](const std::string&, at::Tensor& t) { t.set_data(t.to(device)); });
    options = options.device(device);
    accel::prepareDevice(device);
    if (device.is_cuda() && accel::settings().channelsLast)
        setChannelsLast(true);
}

void LatentModel::setChannelsLast(bool on)
{
    torch::NoGradGuard ng;
    unetGraphs->clear();
    const auto format = on ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    for (auto& p : unet->parameters())
        if (p.dim() == 4)
            p.set_data(p.contiguous(format));
}

at::Tensor LatentModel::denoise(const at::Tensor& x, const at::Tensor& t, const at::Tensor& context,
    const at::Tensor& y, const std::vector<at::Tensor>* control)
{
    const auto dev = device();
    std::vector<at::Tensor> in { x.to(dev, computeType()), t.to(dev), context.defined() ? context.to(dev) : context,
        y.defined() ? y.to(dev) : y };
    if (control) {
        std::vector<at::Tensor> c;
        for (const auto& r : *control)
            c.push_back(r.to(dev));
        return unet->forward(in[0], in[1], in[2], in[3], &c);
    }
    if (!dev.is_cuda())
        return unet(in[0], in[1], in[2], in[3]);
    const bool hadError = !unetGraphs->error().empty();
    auto out = unetGraphs->run([this](const std::vector<at::Tensor>& a) { return unet(a[0], a[1], a[2], a[3]); }, in);
    if (!hadError && !unetGraphs->error().empty())
        std::fprintf(stderr, "warning: %s\n", unetGraphs->error().c_str()); // once: later calls run eagerly
    return out;
}

at::Tensor LatentModel::encodeImage(const at::Tensor& image, const at::Tensor& noise)
{
    return firstStage->encode(image.to(device(), computeType()), noise.defined() ? noise.to(device()) : noise)
        * config.scaleFactor;
}

at::Tensor LatentModel::decodeLatent(const at::Tensor& latent, int64_t tile)
{
    // SDXL's VAE overflows in fp16 (NaN pictures): it decodes in fp32 (the fp16 weights cast per layer), as A1111's
    // --no-half-vae.
    const auto dtype = isSdxl(config.family) && computeType() == at::kHalf ? at::kFloat : computeType();
    auto z = latent.to(device(), dtype) / config.scaleFactor;
    const int64_t side = std::max(z.size(2), z.size(3));
    if (tile < 0)
        tile = side > 96 ? 64 : 0;
    if (tile == 0 || side <= tile)
        return firstStage->decode(z);
    return tiledDecode(z, config.firstStage.downFactor(), tile, tile / 4,
        [this](const at::Tensor& t) { return firstStage->decode(t); });
}

std::vector<int64_t> tileStarts(int64_t size, int64_t tile, int64_t overlap)
{
    if (size <= tile)
        return { 0 };
    std::vector<int64_t> s;
    const int64_t stride = std::max<int64_t>(1, tile - overlap);
    for (int64_t p = 0;; p += stride) {
        if (p + tile >= size) {
            s.push_back(size - tile);
            break;
        }
        s.push_back(p);
    }
    return s;
}

namespace {

// Blend weights along one side of a tile: linear ramps over the overlaps with the neighbours before and after.
at::Tensor sideWeights(int64_t length, int64_t before, int64_t after)
{
    auto w = at::ones({ length }, at::TensorOptions().dtype(at::kFloat));
    auto up = [](int64_t n) {
        return (at::arange(n, at::TensorOptions().dtype(at::kFloat)) + 1) / static_cast<double>(n + 1);
    };
    if (before > 0)
        w.narrow(0, 0, before).copy_(up(before));
    if (after > 0)
        w.narrow(0, length - after, after).mul_(up(after).flip(0));
    return w;
}

} // namespace

at::Tensor tiledDecode(const at::Tensor& latent, int64_t f, int64_t tile, int64_t overlap,
    const std::function<at::Tensor(const at::Tensor&)>& fn)
{
    const int64_t h = latent.size(2), w = latent.size(3);
    const auto ys = tileStarts(h, tile, overlap), xs = tileStarts(w, tile, overlap);
    at::Tensor out, weight;
    for (size_t iy = 0; iy < ys.size(); ++iy) {
        for (size_t ix = 0; ix < xs.size(); ++ix) {
            const int64_t th = std::min(tile, h), tw = std::min(tile, w);
            auto px = fn(latent.narrow(2, ys[iy], th).narrow(3, xs[ix], tw)).to(at::kFloat);
            if (!out.defined()) {
                out = at::zeros({ px.size(0), px.size(1), h * f, w * f }, px.options());
                weight = at::zeros({ 1, 1, h * f, w * f }, px.options());
            }
            // Ramps span the whole overlap with the neighbour (which can be wider than `overlap` for the last tile).
            const int64_t ovY0 = iy > 0 ? (ys[iy - 1] + th - ys[iy]) * f : 0,
                          ovY1 = iy + 1 < ys.size() ? (ys[iy] + th - ys[iy + 1]) * f : 0;
            const int64_t ovX0 = ix > 0 ? (xs[ix - 1] + tw - xs[ix]) * f : 0,
                          ovX1 = ix + 1 < xs.size() ? (xs[ix] + tw - xs[ix + 1]) * f : 0;
            auto wy = sideWeights(th * f, ovY0, ovY1), wx = sideWeights(tw * f, ovX0, ovX1);
            auto wt = (wy.view({ -1, 1 }) * wx.view({ 1, -1 })).view({ 1, 1, th * f, tw * f }).to(px.device());
            out.narrow(2, ys[iy] * f, th * f).narrow(3, xs[ix] * f, tw * f).add_(px * wt);
            weight.narrow(2, ys[iy] * f, th * f).narrow(3, xs[ix] * f, tw * f).add_(wt);
        }
    }
    return out / weight;
}

} // namespace ls::models

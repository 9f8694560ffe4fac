#include "models/LatentModel.h"

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
        || key.rfind("loss.", 0) == 0 || key.rfind("first_stage_model.loss.", 0) == 0;
}

std::shared_ptr<LatentModel> LatentModel::build(const ModelConfig& c, const at::TensorOptions& o)
{
    auto m = std::make_shared<LatentModel>();
    m->config = c;
    m->options = o;
    m->unet = UNetModel(c.unet, o);
    m->firstStage = Autoencoder(c.firstStage, o);
    switch (c.cond) {
    case CondStage::Clip: m->clip = ClipTextModel(c.clip, o); break;
    case CondStage::OpenClip: m->openclip = OpenClipTextModel(c.openclip, o); break;
    case CondStage::Bert: m->bert = BertEmbedder(c.bert, o); break;
    case CondStage::None: break;
    }
    m->schedule = sampling::BetaSchedule::linear(c.linearStart, c.linearEnd, c.timesteps);
    if (c.zeroTerminalSnr)
        m->schedule = sampling::BetaSchedule::rescaledZeroTerminalSnr(m->schedule);
    return m;
}

std::shared_ptr<LatentModel> LatentModel::load(const io::WeightSource& w, const ModelConfig& c, const at::TensorOptions& o)
{
    auto m = build(c, o);
    m->path = w.path();
    LoadReport report;
    LoadOptions lo;
    lo.optional = { "embeddings.position_ids" };
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

at::Tensor LatentModel::encodeImage(const at::Tensor& image, const at::Tensor& noise)
{
    return firstStage->encode(image.to(options.dtype().toScalarType()), noise) * config.scaleFactor;
}

at::Tensor LatentModel::decodeLatent(const at::Tensor& latent)
{
    return firstStage->decode(latent.to(options.dtype().toScalarType()) / config.scaleFactor);
}

} // namespace ls::models

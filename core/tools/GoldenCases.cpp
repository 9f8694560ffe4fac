#include "tools/GoldenCases.h"
#include "tools/GoldenContext.h"
#include "tools/GoldenControl.h"
#include "tools/GoldenSampling.h"
#include "tools/GoldenSdxl.h"

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

namespace ls::tools {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ls::models;

namespace {

using namespace golden;

// ---------------------------------------------------------------- module cases

void caseUnet(Ctx& c)
{
    auto w = c.weights();
    auto unet = loadPart(UNetModel(UNetConfig::fromJson(c.cj["config"]), f32()), *w,
        c.cj.value("weights_prefix", "model.diffusion_model."));
    c.checkOut("eps", unet(c.in("x"), c.in("timesteps"), c.in("context")));
}

void caseUnetSr(Ctx& c)
{
    auto w = c.weights();
    auto unet = loadPart(UNetModel(UNetConfig::fromJson(c.cj["config"]), f32()), *w, "model.diffusion_model.");
    c.checkOut("eps", unet(c.in("x"), c.in("timesteps")));
}

void caseX4(Ctx& c)
{
    auto w = c.weights();
    const json& cfg = c.cj["config"];
    auto unet = loadPart(UNetModel(UNetConfig::fromJson(cfg["unet_config"]), f32()), *w, "model.diffusion_model.");
    const json ns = cfg["low_scale_config"]["params"]["noise_schedule_config"];
    auto low = sampling::BetaSchedule::linear(ns["linear_start"].get<double>(), ns["linear_end"].get<double>(), 1000);
    auto sqrtAcp = low.alphasCumprod64.sqrt().to(at::kFloat);
    auto sqrtOneMinus = (1.0 - low.alphasCumprod64).sqrt().to(at::kFloat);
    auto level = c.in("noise_level");
    auto lr = c.in("lr_image");
    auto xAug = sqrtAcp.index_select(0, level).view({ -1, 1, 1, 1 }) * lr
        + sqrtOneMinus.index_select(0, level).view({ -1, 1, 1, 1 }) * c.in("aug_noise");
    auto x = at::cat({ c.in("x_noisy"), xAug }, 1);
    c.checkOut("low_scale_sqrt_alphas_cumprod", sqrtAcp);
    c.checkOut("low_scale_sqrt_one_minus_alphas_cumprod", sqrtOneMinus);
    c.checkOut("x_aug", xAug);
    c.checkOut("x", x);
    c.checkOut("out", unet(x, c.in("timesteps"), c.in("context"), level));
}

void caseVae(Ctx& c, bool encode)
{
    auto w = c.weights();
    auto ae = loadPart(Autoencoder(AutoencoderConfig::fromJson(c.cj["config"]), f32()), *w, "first_stage_model.");
    if (encode) {
        auto moments = ae->encodeMoments(c.in("image"));
        auto parts = moments.chunk(2, 1);
        c.checkOut("moments", moments);
        c.checkOut("mean", parts[0]);
        c.checkOut("logvar", parts[1].clamp(-30.0, 20.0));
        c.checkOut("sample", ae->encode(c.in("image"), c.in("noise")));
    } else {
        c.checkOut("image", ae->decode(c.in("z")));
    }
}

void caseTaesd(Ctx& c, bool decode)
{
    auto w = c.weights();
    using Kind = models::TinyAutoencoderHalf::Kind;
    auto half = models::TinyAutoencoderHalf::load(*w, decode ? Kind::Decoder : Kind::Encoder);
    half.to(at::TensorOptions().dtype(at::kFloat).device(g_device));
    if (decode)
        c.checkOut("image", half.forward(c.in("latent")));
    else
        c.checkOut("latent", half.forward(c.in("image")));
}

void caseVq(Ctx& c, bool encode)
{
    auto w = c.weights();
    auto ae = loadPart(Autoencoder(AutoencoderConfig::fromJson(c.cj["config"]), f32()), *w, "first_stage_model.");
    at::Tensor h = encode ? ae->encodeMoments(c.in("image")) : c.in("h");
    auto [quant, indices] = ae->quantize(h);
    if (encode)
        c.checkOut("h", h);
    c.checkOut("quant", quant);
    c.checkOut("indices", indices.flatten());
    if (!encode) {
        c.checkOut("image", ae->decode(h));
        c.checkOut("image_noquant", ae->decode(h, true));
    }
}

void caseClip(Ctx& c)
{
    auto w = c.weights();
    auto clip = loadPart(ClipTextModel(ClipTextConfig::fromJson(c.cj["config"]), f32()), *w,
        c.cj.value("weights_prefix", "cond_stage_model.transformer.text_model."));
    auto ids = c.in("input_ids");
    auto out = clip->forwardAll(ids);
    c.checkOut("last_hidden_state", out.lastHidden);
    const size_t n = out.hiddenStates.size();
    c.checkOut("penultimate_hidden_state", out.hiddenStates[n - 2]);
    c.checkOut("penultimate_hidden_state_normed", clip->forward(ids, 2));
    for (size_t i = 0; i < n; ++i)
        c.check("hidden_states." + std::to_string(i), out.hiddenStates[i],
            c.expected("hidden_states." + std::to_string(i)));
}

void caseBert(Ctx& c)
{
    auto w = c.weights();
    const json& p = c.cj["config"];
    BertConfig bc { p.value("n_embed", int64_t(512)), p.value("n_layer", int64_t(16)),
        p.value("vocab_size", int64_t(8192)), p.value("max_seq_len", int64_t(92)) };
    auto bert = loadPart(BertEmbedder(bc, f32()), *w, "cond_stage_model.transformer.");
    auto emb = bert(c.in("tokens"));
    c.checkOut("embeddings", emb);
    c.checkOut("input_embeddings", bert->taps[0]);
    for (int64_t i = 0; i < bc.nLayer; ++i)
        c.checkOut("attn_layer_input." + std::to_string(i), bert->taps[1 + i]);
}

void caseLayoutEps(Ctx& c)
{
    auto w = c.weights();
    const json& cfg = c.cj["config"];
    const json& p = cfg["cond_stage_config"]["params"];
    BertConfig bc { p.value("n_embed", int64_t(512)), p.value("n_layer", int64_t(16)),
        p.value("vocab_size", int64_t(8192)), p.value("max_seq_len", int64_t(92)) };
    auto bert = loadPart(BertEmbedder(bc, f32()), *w, "cond_stage_model.transformer.");
    auto unet = loadPart(UNetModel(UNetConfig::fromJson(cfg["unet_config"]), f32()), *w, "model.diffusion_model.");
    auto ctx = bert(c.in("tokens"));
    c.checkOut("context", ctx);
    c.checkOut("eps", unet(c.in("x"), c.in("timesteps"), ctx));
    auto s = sampling::BetaSchedule::linear(
        cfg["linear_start"].get<double>(), cfg["linear_end"].get<double>(), cfg.value("timesteps", 1000));
    c.checkOut("betas", s.betas);
    c.checkOut("alphas_cumprod", s.alphasCumprod);
}

void caseCheckpoint(Ctx& c)
{
    auto w = c.weights();
    const json& cfg = c.cj["config"];
    ModelConfig fromJson = configFromLdmJson(cfg, nullptr);
    LatentModel::load(*w, fromJson, f32()); // strict: every key fits
    ModelConfig det = detectConfig(*w);
    // Heads are invisible in weights; compare everything the weights do reveal.
    UNetConfig a = det.unet, b = fromJson.unet;
    a.numHeads = b.numHeads;
    a.numHeadChannels = b.numHeadChannels;
    a.legacy = b.legacy;
    std::sort(a.attentionResolutions.begin(), a.attentionResolutions.end());
    std::sort(b.attentionResolutions.begin(), b.attentionResolutions.end());
    std::vector<std::string> diffs;
    if (!(a == b))
        diffs.push_back("unet: detected " + a.toJson().dump() + " vs config " + b.toJson().dump());
    AutoencoderConfig fa = det.firstStage, fb = fromJson.firstStage;
    fa.resolution = fb.resolution;
    if (!(fa == fb))
        diffs.push_back("first stage: detected " + fa.toJson().dump() + " vs config " + fb.toJson().dump());
    if (det.cond != fromJson.cond)
        diffs.push_back("conditioning stage differs");
    if (det.family != fromJson.family)
        diffs.push_back(
            std::string("family: detected ") + familyName(det.family) + " vs " + familyName(fromJson.family));
    if (det.cond == CondStage::Clip || det.cond == CondStage::SdxlBase) {
        ClipTextConfig ca = det.clip, cb = fromJson.clip;
        ca.numHeads = cb.numHeads;
        if (!(ca == cb))
            diffs.push_back("clip: detected " + ca.toJson().dump() + " vs " + cb.toJson().dump());
    }
    if (det.cond == CondStage::SdxlBase || det.cond == CondStage::SdxlRefiner) {
        OpenClipTextConfig oa = det.openclip, ob = fromJson.openclip;
        oa.heads = ob.heads;
        if (!(oa == ob))
            diffs.push_back("openclip: detected " + oa.toJson().dump() + " vs " + ob.toJson().dump());
        if (det.scaleFactor != fromJson.scaleFactor)
            diffs.push_back("scale factor: detected " + std::to_string(det.scaleFactor) + " vs "
                + std::to_string(fromJson.scaleFactor));
    }
    c.r.details.push_back(std::string("detected family ") + familyName(det.family));
    for (auto& d : diffs)
        c.r.details.push_back(d);
    if (!diffs.empty()) {
        c.r.ok = false;
        c.r.message = diffs.front();
    }
}

// --vocab when given; else the case's vocab_file ("shared/data/clip/..."), tried from the case folder and each folder
// above it; else $LS_CLIP_VOCAB.
fs::path tokenizerVocabulary(const Ctx& c)
{
    if (!g_vocabulary.empty())
        return g_vocabulary;
    const json& cfg = c.cj.contains("config") ? c.cj["config"] : c.cj;
    const std::string named = cfg.value("vocab_file", c.cj.value("vocab_file", std::string()));
    if (!named.empty()) {
        const fs::path rel = named;
        for (fs::path d = fs::absolute(c.dir); !d.empty(); d = d.parent_path()) {
            std::error_code ec;
            if (fs::is_regular_file(d / rel, ec))
                return d / rel;
            if (d == d.root_path())
                break;
        }
    }
    if (const char* env = std::getenv("LS_CLIP_VOCAB"))
        return env;
    fail(ErrorKind::Io,
        (c.dir / "case.json").string() + ": vocab_file '" + named
            + "' not found from the case folder or above it, and no --vocab or $LS_CLIP_VOCAB");
}

void caseTokenizer(Ctx& c)
{
    text::ClipTokenizer tok = text::ClipTokenizer::fromFile(tokenizerVocabulary(c));
    int bad = 0, n = 0;
    for (const auto& tc : c.cj["cases"]) {
        const std::string textIn = tc["text"].get<std::string>();
        ++n;
        auto ids = tok.encode(textIn, text::ClipTokenizer::Cleaning::OpenAI);
        auto hf = tok.encode(textIn, text::ClipTokenizer::Cleaning::HuggingFace);
        auto padded = tok.padded(hf, 77);
        std::vector<std::string> which;
        if (ids != tc["ids"].get<std::vector<int>>())
            which.push_back("ids");
        if (hf != tc["hf_ids"].get<std::vector<int>>())
            which.push_back("hf_ids");
        if (padded != tc["padded77"].get<std::vector<int>>())
            which.push_back("padded77");
        if (!which.empty()) {
            ++bad;
            std::string w;
            for (auto& s : which)
                w += s + " ";
            c.r.details.push_back("mismatch (" + w + ") for " + json(textIn).dump());
        }
    }
    c.r.maxErr = bad;
    if (bad) {
        c.r.ok = false;
        c.r.message = std::to_string(bad) + " of " + std::to_string(n) + " prompts tokenised differently";
    }
}

void caseLayoutTokens(Ctx& c)
{
    int bad = 0, n = 0;
    for (const auto& tc : c.cj["cases"]) {
        ++n;
        try {
            auto builder = text::LayoutTokenBuilder::fromJson(tc.value("builder", json::object()));
            std::vector<text::LayoutObject> objs;
            for (const auto& o : tc["annotations"])
                objs.push_back(text::LayoutObject::fromJson(o));
            std::optional<std::array<double, 4>> crop;
            if (tc.contains("crop_coordinates") && tc["crop_coordinates"].is_array())
                crop = tc["crop_coordinates"].get<std::array<double, 4>>();
            const bool flip = tc.value("horizontal_flip", false);
            auto got = builder.build(objs, crop, flip);
            if (got != tc["tokens"].get<std::vector<int64_t>>()) {
                ++bad;
                c.r.details.push_back("mismatch in case " + tc.value("name", std::to_string(n)));
            }
            if (tc.contains("shuffle_permutation")) {
                auto perm = tc["shuffle_permutation"].get<std::vector<int>>();
                auto got2 = builder.build(objs, crop, flip, perm);
                if (got2 != tc["tokens_shuffled"].get<std::vector<int64_t>>()) {
                    ++bad;
                    c.r.details.push_back("shuffled mismatch in case " + tc.value("name", std::to_string(n)));
                }
            }
        } catch (const std::exception& e) {
            ++bad;
            c.r.details.push_back(std::string("case ") + std::to_string(n) + ": " + e.what());
        }
    }
    c.r.maxErr = bad;
    if (bad) {
        c.r.ok = false;
        c.r.message = std::to_string(bad) + " of " + std::to_string(n) + " layouts tokenised differently";
    }
}

void caseDiffusers(Ctx& c)
{
    auto folder = std::make_shared<io::DiffusersFolder>(c.dir / c.cj.value("model", std::string("model")));
    io::SafeTensorsFile ref(c.resolve(c.cj["equivalent_checkpoint"].get<std::string>()));
    // Pure renaming: every translated tensor equals the checkpoint tensor bitwise.
    int mismatched = 0;
    for (const auto& key : folder->keys()) {
        if (!ref.contains(key)) {
            ++mismatched;
            c.r.details.push_back("no checkpoint key for " + key);
            continue;
        }
        auto a = folder->load(key);
        auto b = ref.load(key);
        if (a.sizes() != b.sizes() || !at::equal(a, b)) {
            ++mismatched;
            c.r.details.push_back("differs: " + key + " (" + folder->diffusersName(key) + ")");
        }
    }
    const auto dropped = c.cj.value("dropped_original_keys", std::vector<std::string> {});
    for (const auto& key : ref.keys())
        if (!folder->contains(key) && std::find(dropped.begin(), dropped.end(), key) == dropped.end()) {
            ++mismatched;
            c.r.details.push_back("not reachable from the folder: " + key);
        }
    if (mismatched) {
        c.r.ok = false;
        c.r.message = std::to_string(mismatched) + " tensor(s) do not match after key translation";
    }
    // The folder's own config must build the same model, and every reuse case must pass from it.
    auto cfg = configFromLdmJson(folder->ldmConfig(), folder.get());
    LatentModel::load(*folder, cfg, f32());
    for (const auto& rel : c.cj["reuse_cases"]) {
        const fs::path d = fs::weakly_canonical(c.dir / rel.get<std::string>());
        std::ifstream in(d / "case.json");
        json rj = json::parse(in);
        GoldenResult rr = runGoldenCase(d, rj, folder);
        c.r.details.push_back(std::string(rr.ok ? "PASS " : "FAIL ") + d.filename().string()
            + " via diffusers folder, max_err=" + std::to_string(rr.maxErr));
        c.r.maxErr = std::max(c.r.maxErr, rr.maxErr);
        if (!rr.ok) {
            c.r.ok = false;
            if (c.r.message.empty())
                c.r.message = "reuse case " + d.filename().string() + ": " + rr.message;
        }
    }
}

} // namespace

void setGoldenVocabulary(const fs::path& path) { golden::g_vocabulary = path; }

void setGoldenDevice(const std::string& device)
{
    if (device == "cpu") {
        g_device = at::kCPU;
        return;
    }
    if (device != "cuda")
        fail(ErrorKind::InvalidInput, "golden --device: '" + device + "' is not cpu or cuda");
    if (!at::hasCUDA())
        fail(ErrorKind::Unsupported, "golden --device cuda: this libtorch build has no CUDA (or no GPU is visible)");
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
    golden::g_device = at::kCUDA;
}

GoldenResult runGoldenCase(const fs::path& dir, const json& cj, std::shared_ptr<io::WeightSource> weights)
{
    torch::NoGradGuard noGrad;
    Ctx c;
    c.dir = dir;
    c.cj = cj;
    c.override = std::move(weights);
    const json& tol = cj.contains("tolerance") ? cj["tolerance"] : json();
    if (tol.is_object()) {
        c.atol = tol.value("atol", 0.0);
        c.rtol = tol.value("rtol", 0.0);
    }
    char buf[96];
    std::snprintf(buf, sizeof buf, "atol=%.3g,rtol=%.3g", c.atol, c.rtol);
    c.r.tol = buf;
    if (fs::exists(dir / "io.safetensors"))
        c.io = std::make_unique<io::SafeTensorsFile>(dir / "io.safetensors");
    const std::string kind = cj.value("kind", std::string());
    if (golden::runControlCase(c, kind))
        return c.r;
    if (kind == "unet")
        caseUnet(c);
    else if (kind == "unet_sr")
        caseUnetSr(c);
    else if (kind == "unet_x4_upscaler")
        caseX4(c);
    else if (kind == "vae_encode")
        caseVae(c, true);
    else if (kind == "vae_decode")
        caseVae(c, false);
    else if (kind == "taesd_decode" || kind == "taesd_encode")
        caseTaesd(c, kind == "taesd_decode");
    else if (kind == "vq_encode")
        caseVq(c, true);
    else if (kind == "vq_decode")
        caseVq(c, false);
    else if (kind == "clip_text")
        caseClip(c);
    else if (kind == "bert_embedder")
        caseBert(c);
    else if (kind == "layout_eps")
        caseLayoutEps(c);
    else if (golden::runSamplingCase(c, kind))
        ;
    else if (kind == "checkpoint")
        caseCheckpoint(c);
    else if (kind == "tokenizer")
        caseTokenizer(c);
    else if (kind == "layout_tokens")
        caseLayoutTokens(c);
    else if (kind == "diffusers_folder")
        caseDiffusers(c);
    else if (golden::runSdxlCase(c, kind))
        ;
    else {
        c.r.ok = false;
        c.r.message = "unsupported case kind '" + kind + "'";
    }
    return c.r;
}

} // namespace ls::tools

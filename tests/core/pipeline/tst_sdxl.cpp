// SDXL through the engine on the tiny golden checkpoint (../shared/golden/tiny_sdxl, sgm's key layout): detection
// from the weights, the pipeline's prompt encoding against the reference conditioner, every job end to end, and the
// LoRA and textual-inversion names on the full-size SDXL tensor table.
#include "TestUtil.h"

#include "io/DiffusersFolder.h"
#include "io/SafeTensors.h"
#include "models/KnownConfigs.h"
#include "models/LatentModel.h"
#include "models/Lora.h"
#include "models/sdxl/SdxlConditioning.h"
#include "pipeline/Conditioning.h"
#include "pipeline/Generator.h"
#include "pipeline/ModelLoading.h"
#include "util/Error.h"

#include <QtTest/QtTest>

#include <cstring>
#include <fstream>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

using namespace ls;
using namespace ls::pipeline;
namespace fs = std::filesystem;

namespace {

fs::path tinySdxlWeights() { return test::goldenDir() / "tiny_sdxl" / "weights.safetensors"; }

LoadedModel& tinySdxl()
{
    static LoadedModel m = [] {
        ModelLoadOptions o;
        o.configFile = test::goldenDir() / "tiny_sdxl" / "case.json";
        o.vocabulary = test::sharedDir() / "data" / "clip";
        o.hash = false;
        return loadModel(tinySdxlWeights(), o);
    }();
    return m;
}

using test::gradient;

GenerationRequest request()
{
    GenerationRequest r;
    r.prompt = "a red cube on a blue sphere, studio lighting";
    r.width = 96;
    r.height = 64;
    r.steps = 4;
    r.seed = 77;
    r.cfgScale = 5.0;
    r.sampler = "Euler";
    return r;
}

GenerationResult run(const GenerationRequest& r)
{
    auto& lm = tinySdxl();
    Generator g(lm.model, lm.tokenizer, lm.info);
    StopToken stop;
    return g.run(r, nullptr, stop);
}

bool samePixels(const Image& a, const Image& b)
{
    return a.width == b.width && a.height == b.height && a.pixels == b.pixels;
}

at::Tensor golden(const std::string& caseName, const std::string& tensor)
{
    io::SafeTensorsFile f(test::goldenDir() / caseName / "io.safetensors");
    return f.load(tensor);
}

// A tiny SDXL refiner checkpoint in sd_xl_refiner_1.0's layout: the refiner UNet of the golden case, tiny_sdxl's
// autoencoder and its bigG text tower under conditioner.embedders.0, with the sgm config beside it.
fs::path tinyRefiner(const fs::path& dir)
{
    const fs::path file = dir / "tiny_refiner.safetensors";
    if (fs::exists(file))
        return file;
    io::SafeTensorsFile unet(test::goldenDir() / "unet_sdxl_refiner" / "weights.safetensors");
    io::SafeTensorsFile base(tinySdxlWeights());
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& k : unet.keys())
        if (k.rfind("model.diffusion_model.", 0) == 0)
            out.emplace_back(k, unet.load(k));
    const std::string g = "conditioner.embedders.1.model.";
    for (const auto& k : base.keys()) {
        if (k.rfind("first_stage_model.", 0) == 0)
            out.emplace_back(k, base.load(k));
        else if (k.rfind(g, 0) == 0)
            out.emplace_back("conditioner.embedders.0.model." + k.substr(g.size()), base.load(k));
    }
    io::writeSafeTensors(file, out);
    std::ifstream rin(test::goldenDir() / "unet_sdxl_refiner" / "case.json");
    std::ifstream bin(test::goldenDir() / "tiny_sdxl" / "case.json");
    const auto refinerCase = nlohmann::json::parse(rin);
    const auto baseCase = nlohmann::json::parse(bin);
    nlohmann::json params = baseCase["config"]["params"];
    params["network_config"] = refinerCase["config"]["network_config"];
    auto& embedders = params["conditioner_config"]["params"]["emb_models"];
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& e : embedders)
        if (e.value("target", std::string()).find("FrozenCLIPEmbedder") == std::string::npos
            || e.value("target", std::string()).find("FrozenOpenCLIPEmbedder2") != std::string::npos)
            kept.push_back(e);
    embedders = kept;
    std::ofstream(dir / "tiny_refiner.json") << nlohmann::json { { "model", { { "params", params } } } }.dump();
    return file;
}

// diffusers' names for an original SDXL key (convert_ldm_unet_checkpoint / convert_ldm_vae_checkpoint /
// convert_open_clip_checkpoint, written here independently of the engine's rule table), for a tiny 3-level model with
// two resnets per level and attention at levels 1 and 2. Fills `out` per component; q/k/v split from in_proj.
using Named = std::map<std::string, std::vector<std::pair<std::string, at::Tensor>>>;

std::string after(const std::string& s, const std::string& prefix) { return s.substr(prefix.size()); }

std::string resnetName(std::string rest)
{
    static const std::pair<const char*, const char*> r[]
        = { { "in_layers.0.", "norm1." }, { "in_layers.2.", "conv1." }, { "emb_layers.1.", "time_emb_proj." },
              { "out_layers.0.", "norm2." }, { "out_layers.3.", "conv2." }, { "skip_connection.", "conv_shortcut." } };
    for (const auto& [o, d] : r)
        if (rest.rfind(o, 0) == 0)
            return d + rest.substr(std::strlen(o));
    return rest;
}

void toDiffusers(const std::string& key, const at::Tensor& t, Named& out)
{
    const std::string u = "model.diffusion_model.", v = "first_stage_model.",
                      l = "conditioner.embedders.0.transformer.", g = "conditioner.embedders.1.model.";
    auto add = [&](const std::string& comp, const std::string& name, const at::Tensor& x) {
        out[comp].emplace_back(name, x.contiguous());
    };
    auto dotted = [](const std::string& s) {
        std::vector<std::string> p;
        std::stringstream ss(s);
        for (std::string x; std::getline(ss, x, '.');)
            p.push_back(x);
        return p;
    };
    if (key.rfind(l, 0) == 0)
        return add("text_encoder", after(key, l), t);
    if (key.rfind(g, 0) == 0) {
        const std::string k = after(key, g);
        if (k == "token_embedding.weight")
            return add("text_encoder_2", "text_model.embeddings.token_embedding.weight", t);
        if (k == "positional_embedding")
            return add("text_encoder_2", "text_model.embeddings.position_embedding.weight", t);
        if (k == "text_projection")
            return add("text_encoder_2", "text_projection.weight", t.t());
        if (k.rfind("ln_final.", 0) == 0)
            return add("text_encoder_2", "text_model.final_layer_norm." + after(k, "ln_final."), t);
        if (k == "logit_scale")
            return;
        auto p = dotted(k); // transformer resblocks N ...
        const std::string base = "text_model.encoder.layers." + p[2] + ".";
        const std::string rest = k.substr(("transformer.resblocks." + p[2] + ".").size());
        if (rest.rfind("attn.in_proj_", 0) == 0) {
            const std::string part = after(rest, "attn.in_proj_");
            auto qkv = t.chunk(3, 0);
            add("text_encoder_2", base + "self_attn.q_proj." + part, qkv[0]);
            add("text_encoder_2", base + "self_attn.k_proj." + part, qkv[1]);
            add("text_encoder_2", base + "self_attn.v_proj." + part, qkv[2]);
            return;
        }
        static const std::pair<const char*, const char*> r[]
            = { { "attn.out_proj.", "self_attn.out_proj." }, { "ln_1.", "layer_norm1." }, { "ln_2.", "layer_norm2." },
                  { "mlp.c_fc.", "mlp.fc1." }, { "mlp.c_proj.", "mlp.fc2." } };
        for (const auto& [o, d] : r)
            if (rest.rfind(o, 0) == 0)
                return add("text_encoder_2", base + d + rest.substr(std::strlen(o)), t);
        QFAIL(("no diffusers name for " + key).c_str());
    }
    if (key.rfind(u, 0) == 0) {
        const std::string k = after(key, u);
        static const std::pair<const char*, const char*> direct[]
            = { { "time_embed.0.", "time_embedding.linear_1." }, { "time_embed.2.", "time_embedding.linear_2." },
                  { "label_emb.0.0.", "add_embedding.linear_1." }, { "label_emb.0.2.", "add_embedding.linear_2." },
                  { "input_blocks.0.0.", "conv_in." }, { "out.0.", "conv_norm_out." }, { "out.2.", "conv_out." } };
        for (const auto& [o, d] : direct)
            if (k.rfind(o, 0) == 0)
                return add("unet", d + k.substr(std::strlen(o)), t);
        auto p = dotted(k);
        if (p[0] == "middle_block") {
            const std::string rest = k.substr(p[0].size() + p[1].size() + 2);
            if (p[1] == "1")
                return add("unet", "mid_block.attentions.0." + rest, t);
            return add("unet", "mid_block.resnets." + std::string(p[1] == "0" ? "0" : "1") + "." + resnetName(rest), t);
        }
        const int i = std::stoi(p[1]);
        const std::string sub = p[2];
        const std::string rest = k.substr(p[0].size() + p[1].size() + p[2].size() + 3);
        if (p[0] == "input_blocks") {
            const int level = (i - 1) / 3, j = (i - 1) % 3;
            const std::string b = "down_blocks." + std::to_string(level) + ".";
            if (j == 2)
                return add("unet", b + "downsamplers.0.conv." + after(rest, "op."), t);
            if (sub == "0")
                return add("unet", b + "resnets." + std::to_string(j) + "." + resnetName(rest), t);
            return add("unet", b + "attentions." + std::to_string(j) + "." + rest, t);
        }
        const int level = i / 3, j = i % 3;
        const std::string b = "up_blocks." + std::to_string(level) + ".";
        const bool attention = level < 2; // up block 0, 1 = levels 2, 1
        if (sub == "0")
            return add("unet", b + "resnets." + std::to_string(j) + "." + resnetName(rest), t);
        if (sub == "1" && attention)
            return add("unet", b + "attentions." + std::to_string(j) + "." + rest, t);
        return add("unet", b + "upsamplers.0." + rest, t);
    }
    if (key.rfind(v, 0) == 0) {
        std::string k = after(key, v);
        auto p = dotted(k);
        auto shortcut = [](std::string r) {
            return r.rfind("nin_shortcut.", 0) == 0 ? "conv_shortcut." + after(r, "nin_shortcut.") : r;
        };
        if ((p[0] == "encoder" || p[0] == "decoder") && (p[1] == "down" || p[1] == "up")) {
            const bool enc = p[1] == "down";
            const int level = enc ? std::stoi(p[2]) : 2 - std::stoi(p[2]);
            const std::string b = p[0] + (enc ? ".down_blocks." : ".up_blocks.") + std::to_string(level) + ".";
            const std::string rest = k.substr(p[0].size() + p[1].size() + p[2].size() + 3);
            if (p[3] == "block")
                return add(
                    "vae", b + "resnets." + p[4] + "." + shortcut(rest.substr(p[3].size() + p[4].size() + 2)), t);
            return add("vae", b + (enc ? "downsamplers.0." : "upsamplers.0.") + rest.substr(p[3].size() + 1), t);
        }
        if (p.size() > 2 && p[1] == "mid") {
            const std::string b = p[0] + ".mid_block.";
            const std::string rest = k.substr(p[0].size() + p[1].size() + p[2].size() + 3);
            if (p[2] == "attn_1") {
                static const std::pair<const char*, const char*> r[] = { { "norm.", "group_norm." }, { "q.", "to_q." },
                    { "k.", "to_k." }, { "v.", "to_v." }, { "proj_out.", "to_out.0." } };
                for (const auto& [o, d] : r)
                    if (rest.rfind(o, 0) == 0)
                        return add("vae", b + "attentions.0." + d + rest.substr(std::strlen(o)),
                            t.dim() == 4 ? t.flatten(1) : t);
            }
            return add("vae", b + "resnets." + (p[2] == "block_1" ? "0" : "1") + "." + shortcut(rest), t);
        }
        if (k.rfind("encoder.norm_out.", 0) == 0 || k.rfind("decoder.norm_out.", 0) == 0)
            return add("vae", p[0] + ".conv_norm_out." + k.substr(p[0].size() + 10), t);
        return add("vae", k, t);
    }
}

// tiny_sdxl as a diffusers StableDiffusionXLPipeline folder.
fs::path tinySdxlDiffusers(const fs::path& dir)
{
    io::SafeTensorsFile w(tinySdxlWeights());
    Named named;
    for (const auto& k : w.keys())
        if (k != "denoiser.sigmas")
            toDiffusers(k, w.load(k), named);
    const fs::path root = dir / "tiny-sdxl-diffusers";
    const std::map<std::string, std::string> files { { "unet", "diffusion_pytorch_model.safetensors" },
        { "vae", "diffusion_pytorch_model.safetensors" }, { "text_encoder", "model.safetensors" },
        { "text_encoder_2", "model.safetensors" } };
    std::ifstream in(test::goldenDir() / "tiny_sdxl" / "case.json");
    const auto cfg = nlohmann::json::parse(in)["config"]["params"];
    const std::map<std::string, nlohmann::json> configs {
        { "unet",
            { { "block_out_channels", { 32, 32, 64 } }, { "layers_per_block", 2 },
                { "down_block_types", { "DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D" } },
                { "up_block_types", { "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D" } },
                { "attention_head_dim", { 2, 2, 4 } }, { "transformer_layers_per_block", { 1, 1, 2 } },
                { "cross_attention_dim", 20 }, { "use_linear_projection", true },
                { "addition_embed_type", "text_time" }, { "projection_class_embeddings_input_dim", 1552 },
                { "in_channels", 4 }, { "out_channels", 4 } } },
        { "vae",
            { { "block_out_channels", { 32, 32, 64 } }, { "layers_per_block", 1 }, { "latent_channels", 4 },
                { "scaling_factor", 0.13025 } } },
        { "text_encoder", cfg["clip_config"] },
        { "text_encoder_2",
            { { "hidden_size", 12 }, { "num_attention_heads", 2 }, { "num_hidden_layers", 10 },
                { "intermediate_size", 48 }, { "projection_dim", 16 }, { "hidden_act", "gelu" },
                { "max_position_embeddings", 77 }, { "vocab_size", 49408 } } }
    };
    for (const auto& [comp, file] : files) {
        fs::create_directories(root / comp);
        io::writeSafeTensors(root / comp / file, named[comp]);
        std::ofstream(root / comp / "config.json") << configs.at(comp).dump();
    }
    fs::create_directories(root / "scheduler");
    std::ofstream(root / "scheduler" / "scheduler_config.json")
        << R"({"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "prediction_type": "epsilon"})";
    std::ofstream(root / "model_index.json") << R"({"_class_name": "StableDiffusionXLPipeline"})";
    return root;
}

} // namespace

class TestSdxl : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void detectedFromTheWeights()
    {
        io::SafeTensorsFile w(tinySdxlWeights());
        auto c = models::detectConfig(w);
        QCOMPARE(std::string(models::familyName(c.family)), std::string("sdxl"));
        QVERIFY(c.cond == models::CondStage::SdxlBase);
        QCOMPARE(c.unet.admInChannels, int64_t(1552));
        QCOMPARE(c.unet.contextDim, int64_t(20)); // CLIP-L 8 + bigG 12
        QCOMPARE(c.unet.depthAt(1), int64_t(1));
        QCOMPARE(c.unet.middleDepth(), int64_t(2));
        QCOMPARE(c.scaleFactor, 0.13025);
        QCOMPARE(c.openclip.embedDim, int64_t(16));
        // Strict: the whole file loads into what was detected (denoiser.sigmas is not required, nor refused).
        models::LatentModel::load(w, c);
    }

    void promptEncodingMatchesTheReferenceConditioner()
    {
        // The pipeline's own tokenisation (CLIP-L padded with the end token, bigG with 0) and encoding give sgm's
        // crossattn and vector for the golden prompts.
        torch::NoGradGuard ng;
        auto& lm = tinySdxl();
        Conditioner cd(*lm.model, lm.tokenizer);
        const auto crossattn = golden("sdxl_conditioner", "crossattn");
        const auto vector = golden("sdxl_conditioner", "vector");
        const auto sizes = golden("sdxl_conditioner", "original_size_as_tuple");
        const char* prompts[]
            = { "a photo of an astronaut riding a horse on mars", "a red cube on a blue sphere, studio lighting" };
        for (int i = 0; i < 2; ++i) {
            auto ctx = cd.encodePrompt(prompts[i]);
            QVERIFY(at::allclose(ctx[0], crossattn[i], 1e-4, 1e-4));
            models::sdxl::MicroConditions mc = models::sdxl::forSize(
                static_cast<int>(sizes[i][1].item<int64_t>()), static_cast<int>(sizes[i][0].item<int64_t>()));
            const auto crop = golden("sdxl_conditioner", "crop_coords_top_left");
            const auto target = golden("sdxl_conditioner", "target_size_as_tuple");
            mc.cropTop = static_cast<double>(crop[i][0].item<int64_t>());
            mc.cropLeft = static_cast<double>(crop[i][1].item<int64_t>());
            mc.targetHeight = static_cast<double>(target[i][0].item<int64_t>());
            mc.targetWidth = static_cast<double>(target[i][1].item<int64_t>());
            auto y = models::sdxl::vectorCondition(models::Family::SDXL, cd.pooled(), mc);
            QVERIFY(at::allclose(y[0], vector[i], 1e-4, 2e-4));
        }
    }

    void textToImageIsReproducibleAndHonoursTheNegativePrompt()
    {
        auto r = request();
        const auto a = run(r);
        QCOMPARE(a.images.size(), size_t(1));
        QCOMPARE(a.images[0].width, 96);
        QCOMPARE(a.images[0].height, 64);
        QVERIFY(samePixels(a.images[0], run(r).images[0]));
        const std::string info = a.metadata[0].at("parameters");
        QVERIFY2(info.find("Sampler: Euler") != std::string::npos, info.c_str());
        // An empty negative prompt is zeros (as A1111 and sgm); a written one is encoded and changes the picture.
        r.negativePrompt = "blurry, low quality";
        QVERIFY(!samePixels(a.images[0], run(r).images[0]));
        // The size conditioning is the generated size: another size is another vector, not just a crop.
        auto big = request();
        big.width = 128;
        QCOMPARE(run(big).images[0].width, 128);
    }

    void fewStepSettingsSkipTheUnconditionalPass()
    {
        // Turbo / Lightning / LCM use: LCM or Euler a on SGM Uniform, a few steps, CFG 1 = one UNet call per step
        // without the negative prompt (so the negative prompt cannot change the picture).
        for (const char* sampler : { "LCM", "Euler a" }) {
            auto r = request();
            r.sampler = sampler;
            r.schedule = "SGM Uniform";
            r.steps = 2;
            r.cfgScale = 1.0;
            const auto a = run(r);
            r.negativePrompt = "blurry, low quality";
            QVERIFY(samePixels(a.images[0], run(r).images[0]));
            r.cfgScale = 2.0;
            QVERIFY(!samePixels(a.images[0], run(r).images[0]));
        }
    }

    void imageToImageAndInpaintingKeepWhatTheyMust()
    {
        auto r = request();
        r.mode = JobMode::Img2Img;
        r.initImage = gradient(96, 64);
        r.strength = 0.5;
        const auto img = run(r).images[0];
        QCOMPARE(img.width, 96);

        r.mode = JobMode::Inpaint;
        r.mask = test::rectMask(96, 64, 32, 16, 64, 48);
        r.maskBlur = 0;
        r.strength = 1.0;
        const auto out = run(r).images[0];
        int changedOutside = 0, changedInside = 0;
        for (int y = 0; y < 64; ++y)
            for (int x = 0; x < 96; ++x) {
                const bool inside = x >= 32 && x < 64 && y >= 16 && y < 48;
                for (int ch = 0; ch < 3; ++ch) {
                    const bool differs = out.at(x, y)[ch] != r.initImage.at(x, y)[ch];
                    (inside ? changedInside : changedOutside) += differs ? 1 : 0;
                }
            }
        QCOMPARE(changedOutside, 0);
        QVERIFY(changedInside > 0);
    }

    void layoutAndHiresRun()
    {
        auto r = request();
        r.mode = JobMode::Layout;
        r.boxes = { { 0, 0, 48, 64, "a red cube", "" }, { 48, 0, 48, 64, "a blue sphere", "" } };
        const auto layout = run(r).images[0];
        r.boxes = { { 0, 0, 48, 64, "a green tree", "" }, { 48, 0, 48, 64, "a blue sphere", "" } };
        QVERIFY(!samePixels(layout, run(r).images[0])); // the box prompts reach the model

        auto h = request();
        h.hiresScale = 2.0;
        h.hiresStrength = 0.5;
        h.hiresSteps = 3;
        const auto hires = run(h);
        QCOMPARE(hires.images[0].width, 192);
        QCOMPARE(hires.images[0].height, 128);
    }

    void refinerTakesOverAtTheSwitch()
    {
        QTemporaryDir tmp;
        const fs::path refiner = tinyRefiner(tmp.path().toStdString());
        {
            io::SafeTensorsFile w(refiner);
            auto c = models::configFromLdmJson(*models::findConfigBeside(refiner), &w);
            QCOMPARE(std::string(models::familyName(c.family)), std::string("sdxl-refiner"));
        }
        auto r = request();
        r.steps = 6;
        const auto base = run(r).images[0];
        r.refinerModel = refiner.string();
        r.refinerSwitchAt = 0.5;
        const auto refined = run(r);
        QVERIFY(!samePixels(base, refined.images[0]));
        const std::string info = refined.metadata[0].at("parameters");
        QVERIFY2(info.find("Refiner: tiny_refiner [") != std::string::npos, info.c_str());
        QVERIFY2(info.find("Refiner switch at: 0.5") != std::string::npos, info.c_str());
        // A switch past the last step's timestep (t = 0: (999 - 0) / 1000 = 0.999) leaves the base alone.
        r.refinerSwitchAt = 0.9995;
        QVERIFY(samePixels(base, run(r).images[0]));
        // The upscale job and a nonsense switch are refused by name.
        r.refinerSwitchAt = 1.5;
        bool named = false;
        for (const auto& p : r.validate())
            named = named || p.field == "refiner_switch_at";
        QVERIFY(named);
    }

    void diffusersFolderIsTheSameModel()
    {
        QTemporaryDir tmp;
        const fs::path folder = tinySdxlDiffusers(tmp.path().toStdString());
        io::DiffusersFolder d(folder);
        io::SafeTensorsFile w(tinySdxlWeights());
        int compared = 0;
        for (const auto& k : w.keys()) {
            if (k == "denoiser.sigmas" || k.ends_with("logit_scale"))
                continue;
            QVERIFY2(d.contains(k), ("not reachable from the folder: " + k).c_str());
            QVERIFY2(at::equal(d.load(k), w.load(k)), ("differs: " + k + " (" + d.diffusersName(k) + ")").c_str());
            ++compared;
        }
        QVERIFY(compared > 900);
        // The folder's own config builds the same model, and it paints the same pixels as the checkpoint.
        ModelLoadOptions o;
        o.vocabulary = test::sharedDir() / "data" / "clip";
        o.hash = false;
        auto lm = loadModel(folder, o);
        QCOMPARE(std::string(models::familyName(lm.model->config.family)), std::string("sdxl"));
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        QVERIFY(samePixels(g.run(request(), nullptr, stop).images[0], run(request()).images[0]));
    }

    void sdxlEmbeddingsAndLorasApply()
    {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        fs::create_directories(dir / "embeddings");
        fs::create_directories(dir / "loras");
        auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
        const auto f32 = at::TensorOptions().dtype(at::kFloat);
        io::writeSafeTensors(dir / "embeddings" / "shinystyle.safetensors",
            { { "clip_l", at::randn({ 2, 8 }, gen, f32) }, { "clip_g", at::randn({ 2, 12 }, gen, f32) } });
        io::writeSafeTensors(
            dir / "embeddings" / "oldstyle.safetensors", { { "emb_params", at::randn({ 1, 8 }, gen, f32) } });
        // A kohya SDXL LoRA touching the UNet, CLIP ViT-L (te1) and bigG (te2, q rows of the fused in_proj).
        std::vector<std::pair<std::string, at::Tensor>> lora;
        auto pair = [&](const std::string& name, int64_t out, int64_t in) {
            lora.emplace_back(name + ".lora_down.weight", at::randn({ 2, in }, gen, f32));
            lora.emplace_back(name + ".lora_up.weight", at::randn({ out, 2 }, gen, f32));
            lora.emplace_back(name + ".alpha", at::full({}, 2.0, f32));
        };
        pair("lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k", 32, 20);
        pair("lora_te1_text_model_encoder_layers_0_self_attn_q_proj", 8, 8);
        pair("lora_te2_text_model_encoder_layers_9_self_attn_q_proj", 12, 12);
        io::writeSafeTensors(dir / "loras" / "xlstyle.safetensors", lora);

        auto& lm = tinySdxl();
        Generator g(lm.model, lm.tokenizer, lm.info);
        g.setEmbeddingFolders({ dir / "embeddings" });
        g.setLoraFolders({ dir / "loras" });
        StopToken stop;
        auto r = request();
        const auto plain = g.run(r, nullptr, stop).images[0];
        r.prompt += ", shinystyle";
        const auto withTi = g.run(r, nullptr, stop);
        QVERIFY(!samePixels(plain, withTi.images[0]));
        QVERIFY2(withTi.metadata[0].at("parameters").find("TI hashes: \"shinystyle: ") != std::string::npos
                || withTi.metadata[0].at("parameters").find("TI hashes: shinystyle: ") != std::string::npos,
            withTi.metadata[0].at("parameters").c_str());
        // A one-set SD1 embedding is refused by name on SDXL.
        auto bad = request();
        bad.prompt += ", oldstyle";
        try {
            g.run(bad, nullptr, stop);
            QFAIL("an SD1 embedding was accepted by an SDXL model");
        } catch (const Error& e) {
            QVERIFY2(std::string(e.what()).find("clip_l") != std::string::npos, e.what());
        }
        auto lr = request();
        lr.prompt += " <lora:xlstyle:1>";
        const auto withLora = g.run(lr, nullptr, stop);
        QVERIFY(!samePixels(plain, withLora.images[0]));
        QCOMPARE(withLora.loras.size(), size_t(1));
        QCOMPARE(withLora.loras[0].unetModules, 1);
        QCOMPARE(withLora.loras[0].textModules, 2);
        // Restored exactly afterwards.
        QVERIFY(samePixels(plain, g.run(request(), nullptr, stop).images[0]));
    }

    void inpaintingModelAndStandAloneVae()
    {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        io::SafeTensorsFile base(tinySdxlWeights());
        // A 9-channel SDXL inpainting checkpoint (latent, mask, masked-image latent), as sd_xl_base_1.0_inpainting.
        std::vector<std::pair<std::string, at::Tensor>> nine, vae;
        auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
        for (const auto& k : base.keys()) {
            auto t = base.load(k);
            if (k == "model.diffusion_model.input_blocks.0.0.weight")
                t = at::cat({ t, 0.05 * at::randn({ t.size(0), 5, 3, 3 }, gen) }, 1);
            nine.emplace_back(k, t);
            if (k.rfind("first_stage_model.", 0) == 0) // a stand-alone VAE file: the original names without prefix
                vae.emplace_back(k.substr(18), t);
        }
        io::writeSafeTensors(dir / "xl-inpainting.safetensors", nine);
        std::ifstream in(test::goldenDir() / "tiny_sdxl" / "case.json");
        auto cfg = nlohmann::json::parse(in)["config"];
        cfg["params"]["network_config"]["params"]["in_channels"] = 9;
        std::ofstream(dir / "xl-inpainting.json") << cfg.dump();
        io::writeSafeTensors(dir / "xl-vae.safetensors", vae);

        ModelLoadOptions o;
        o.vocabulary = test::sharedDir() / "data" / "clip";
        o.hash = false;
        auto lm = loadModel(dir / "xl-inpainting.safetensors", o);
        QCOMPARE(lm.model->config.unet.inChannels, int64_t(9));
        {
            io::SafeTensorsFile w(dir / "xl-inpainting.safetensors");
            QCOMPARE(std::string(models::familyName(models::detectConfig(w).family)), std::string("sdxl"));
        }
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto r = request();
        r.mode = JobMode::Inpaint;
        r.initImage = gradient(96, 64);
        r.mask = test::rectMask(96, 64, 32, 16, 64, 48);
        r.maskBlur = 0;
        r.strength = 1.0;
        const auto out = g.run(r, nullptr, stop).images[0];
        int changedOutside = 0;
        for (int y = 0; y < 64; ++y)
            for (int x = 0; x < 96; ++x)
                if (!(x >= 32 && x < 64 && y >= 16 && y < 48))
                    changedOutside += out.at(x, y)[0] != r.initImage.at(x, y)[0];
        QCOMPARE(changedOutside, 0);

        // The SDXL VAE as a file of its own: the same weights give the same pixels as the model's own VAE.
        ModelLoadOptions ov;
        ov.configFile = test::goldenDir() / "tiny_sdxl" / "case.json";
        ov.vocabulary = test::sharedDir() / "data" / "clip";
        ov.hash = false;
        ov.vae = dir / "xl-vae.safetensors";
        auto withVae = loadModel(tinySdxlWeights(), ov);
        QCOMPARE(withVae.info.vae, std::string("xl-vae.safetensors"));
        Generator gv(withVae.model, withVae.tokenizer, withVae.info);
        QVERIFY(samePixels(gv.run(request(), nullptr, stop).images[0], run(request()).images[0]));
    }

    void loraNamesReachTheFullSizeSdxlTensors()
    {
        // kohya (sgm and diffusers UNet names, lora_te1 = CLIP ViT-L, lora_te2 = bigG with q/k/v rows of the fused
        // in_proj) and diffusers/PEFT names, resolved on sd_xl_base_1.0's real tensor table (meta tensors).
        auto m = models::LatentModel::build(
            models::knownConfig("sd_xl_base_1.0"), at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
        models::LoraResolver res(*m);
        auto key = [&](const std::string& name) {
            auto t = res.resolve(name);
            return t ? t->key : std::string("(none)");
        };
        const std::string u = "model.diffusion_model.";
        QCOMPARE(key("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q"),
            u + "input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight");
        QCOMPARE(key("lora_unet_down_blocks_1_attentions_0_transformer_blocks_1_attn2_to_k"),
            u + "input_blocks.4.1.transformer_blocks.1.attn2.to_k.weight");
        QCOMPARE(key("lora_unet_down_blocks_2_attentions_1_proj_in"), u + "input_blocks.8.1.proj_in.weight");
        QCOMPARE(key("lora_unet_mid_block_attentions_0_transformer_blocks_9_attn1_to_out_0"),
            u + "middle_block.1.transformer_blocks.9.attn1.to_out.0.weight");
        QCOMPARE(key("lora_unet_up_blocks_0_attentions_2_transformer_blocks_9_ff_net_2"),
            u + "output_blocks.2.1.transformer_blocks.9.ff.net.2.weight");
        QCOMPARE(key("lora_unet_up_blocks_2_resnets_1_conv1"), u + "output_blocks.7.0.in_layers.2.weight");
        QCOMPARE(key("unet.up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_v"),
            u + "output_blocks.3.1.transformer_blocks.0.attn2.to_v.weight");
        QCOMPARE(key("lora_te1_text_model_encoder_layers_11_self_attn_q_proj"),
            std::string("conditioner.embedders.0.transformer.text_model.encoder.layers.11.self_attn.q_proj.weight"));
        auto v = res.resolve("lora_te2_text_model_encoder_layers_31_self_attn_v_proj");
        QVERIFY(v.has_value());
        QCOMPARE(v->key, std::string("conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_weight"));
        QCOMPARE(v->rowOffset, int64_t(2 * 1280));
        QCOMPARE(v->rows, int64_t(1280));
        QCOMPARE(key("text_encoder_2.text_model.encoder.layers.0.mlp.fc1"),
            std::string("conditioner.embedders.1.model.transformer.resblocks.0.mlp.c_fc.weight"));
        QCOMPARE(key("lora_te2_text_model_encoder_layers_32_mlp_fc1"), std::string("(none)")); // bigG has 32 layers
    }

    void manifestKeysAreTheCheckpointKeys()
    {
        // Everything sd_xl_base_1.0 holds loads by name: LatentModel's keys for the real config are the published
        // ones (tst_manifests compares the shapes too).
        auto m = models::LatentModel::build(
            models::knownConfig("sd_xl_base_1.0"), at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
        int64_t params = 0;
        for (const auto& [k, shape] : m->checkpointKeys()) {
            QVERIFY2(k.rfind("model.diffusion_model.", 0) == 0 || k.rfind("first_stage_model.", 0) == 0
                    || k.rfind("conditioner.embedders.", 0) == 0,
                k.c_str());
            int64_t n = 1;
            for (auto s : shape)
                n *= s;
            if (k.find("position_ids") == std::string::npos)
                params += n;
        }
        QCOMPARE(params, int64_t(3468837868));
    }
};

QTEST_GUILESS_MAIN(TestSdxl)
#include "tst_sdxl.moc"

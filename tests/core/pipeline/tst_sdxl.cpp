// SDXL through the engine on the tiny golden checkpoint (../shared/golden/tiny_sdxl, sgm's key layout): detection
// from the weights, the pipeline's prompt encoding against the reference conditioner, every job end to end, and the
// LoRA and textual-inversion names on the full-size SDXL tensor table.
#include "TestUtil.h"

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

Image gradient(int w, int h)
{
    Image img(w, h, 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            auto* p = img.at(x, y);
            p[0] = static_cast<uint8_t>(x * 255 / w);
            p[1] = static_cast<uint8_t>(y * 255 / h);
            p[2] = 90;
        }
    return img;
}

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
        const char* prompts[] = { "a photo of an astronaut riding a horse on mars",
            "a red cube on a blue sphere, studio lighting" };
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

    void imageToImageAndInpaintingKeepWhatTheyMust()
    {
        auto r = request();
        r.mode = JobMode::Img2Img;
        r.initImage = gradient(96, 64);
        r.strength = 0.5;
        const auto img = run(r).images[0];
        QCOMPARE(img.width, 96);

        r.mode = JobMode::Inpaint;
        r.mask = Image(96, 64, 1);
        for (int y = 16; y < 48; ++y)
            for (int x = 32; x < 64; ++x)
                r.mask.at(x, y)[0] = 255;
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

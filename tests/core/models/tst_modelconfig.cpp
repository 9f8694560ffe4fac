// Family detection from weights, strict loading errors that name the file and every bad key, and clear messages
// for families we do not support.
#include "TestUtil.h"

#include "io/ConfigFile.h"
#include "io/DiffusersFolder.h"
#include "io/SafeTensors.h"
#include "models/KnownConfigs.h"
#include "models/LatentModel.h"
#include "util/Error.h"

#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <fstream>

using namespace ls;
namespace fs = std::filesystem;

namespace {
nlohmann::json caseConfig(const std::string& name)
{
    std::ifstream in(test::goldenDir() / name / "case.json");
    return nlohmann::json::parse(in)["config"];
}
std::vector<std::pair<std::string, at::Tensor>> allTensors(const io::WeightSource& w)
{
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& k : w.keys())
        out.emplace_back(k, w.load(k).clone());
    return out;
}
} // namespace

class TestModelConfig : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void detectsFamilies()
    {
        io::SafeTensorsFile sd1(test::goldenDir() / "tiny_sd1" / "weights.safetensors");
        auto c = models::detectConfig(sd1);
        QCOMPARE(c.family, models::Family::SD1);
        QCOMPARE(c.unet.modelChannels, int64_t(32));
        QCOMPARE(c.unet.channelMult, (std::vector<int64_t> { 1, 2, 2 }));
        QCOMPARE(c.unet.contextDim, int64_t(64));
        QCOMPARE(c.clip.numLayers, int64_t(3));
        QCOMPARE(c.firstStage.downFactor(), int64_t(4));
        io::SafeTensorsFile sr(test::goldenDir() / "tiny_ldm_sr" / "weights.safetensors");
        auto s = models::detectConfig(sr);
        QCOMPARE(s.family, models::Family::LdmSR);
        QVERIFY(s.firstStage.vq);
        QCOMPARE(s.firstStage.nEmbed, int64_t(64));
        QCOMPARE(models::detectConfig(sd1, "v").parameterization, std::string("v"));
    }

    void diffusersFolderConfig()
    {
        io::DiffusersFolder d(test::goldenDir() / "diffusers_tiny_sd1" / "model");
        auto c = models::configFromLdmJson(d.ldmConfig(), &d);
        auto ref = models::configFromLdmJson(caseConfig("tiny_sd1"));
        QCOMPARE(c.unet.toJson().dump(), ref.unet.toJson().dump());
        QCOMPARE(c.clip.toJson().dump(), ref.clip.toJson().dump());
        QCOMPARE(c.scaleFactor, 0.18215);
        QVERIFY(!c.zeroTerminalSnr);
        // A zero-terminal-SNR v-prediction fine-tune (diffusers' rescale_betas_zero_snr) gets that schedule.
        const auto copy = test::tempDir() / "diffusers_ztsnr";
        std::filesystem::copy(
            test::goldenDir() / "diffusers_tiny_sd1" / "model", copy, std::filesystem::copy_options::recursive);
        test::writeBytes(copy / "scheduler" / "scheduler_config.json", R"({"beta_start": 0.00085, "beta_end": 0.012,
            "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "prediction_type": "v_prediction", "rescale_betas_zero_snr": true})");
        io::DiffusersFolder z(copy);
        auto zc = models::configFromLdmJson(z.ldmConfig(), &z);
        QVERIFY(zc.zeroTerminalSnr);
        QCOMPARE(zc.parameterization, std::string("v"));
        QVERIFY(models::LatentModel::build(zc, at::TensorOptions().dtype(at::kFloat))->schedule.zeroTerminal());
    }

    void yamlConfigOverride()
    {
        if (!io::hasYamlSupport())
            QFAIL("this build has no yaml-cpp");
        // The original yaml layout (model: target/params), with the tiny sizes.
        const std::string yaml = R"(model:
  base_learning_rate: 1.0e-04
  target: ldm.models.diffusion.ddpm.LatentDiffusion
  params:
    linear_start: 0.00085
    linear_end: 0.0120
    timesteps: 1000
    scale_factor: 0.18215
    conditioning_key: crossattn
    unet_config:
      target: ldm.modules.diffusionmodules.openaimodel.UNetModel
      params:
        in_channels: 4
        out_channels: 4
        model_channels: 32
        attention_resolutions: [ 1, 2 ]
        num_res_blocks: 2
        channel_mult: [ 1, 2, 2 ]
        num_heads: 4
        use_spatial_transformer: True
        transformer_depth: 1
        context_dim: 64
        legacy: False
    first_stage_config:
      target: ldm.models.autoencoder.AutoencoderKL
      params:
        embed_dim: 4
        ddconfig:
          double_z: true
          z_channels: 4
          resolution: 64
          in_channels: 3
          out_ch: 3
          ch: 32
          ch_mult: [1, 2, 2]
          num_res_blocks: 1
          attn_resolutions: []
          dropout: 0.0
    cond_stage_config:
      target: ldm.modules.encoders.modules.FrozenCLIPEmbedder
    clip_config:
      hidden_size: 64
      intermediate_size: 256
      num_hidden_layers: 3
      num_attention_heads: 4
)";
        auto p = test::tempDir() / "tiny.yaml";
        test::writeBytes(p, yaml);
        auto cfg = models::configFromLdmJson(io::readConfigFile(p));
        auto ref = models::configFromLdmJson(caseConfig("tiny_sd1"));
        QCOMPARE(cfg.unet.toJson().dump(), ref.unet.toJson().dump());
        QCOMPARE(cfg.clip.numHeads, int64_t(4));
        QCOMPARE(cfg.scaleFactor, 0.18215);
        // Beside a checkpoint: model.yaml next to model.safetensors is picked up.
        fs::create_directories(test::tempDir() / "m");
        fs::copy_file(p, test::tempDir() / "m" / "model.yaml", fs::copy_options::overwrite_existing);
        QVERIFY(models::findConfigBeside(test::tempDir() / "m" / "model.safetensors").has_value());
        auto bad = test::tempDir() / "bad.yaml";
        test::writeBytes(bad, "model: [unclosed");
        QVERIFY(test::errorOf([&] { io::readConfigFile(bad); }).find("bad.yaml") != std::string::npos);
    }

    void strictLoadingReportsEverything()
    {
        io::SafeTensorsFile sd1(test::goldenDir() / "tiny_sd1" / "weights.safetensors");
        auto tensors = allTensors(sd1);
        std::erase_if(tensors, [](auto& p) { return p.first == "model.diffusion_model.out.2.bias"; });
        tensors.emplace_back("model.diffusion_model.bogus.weight", at::zeros({ 3 }));
        for (auto& [k, t] : tensors)
            if (k == "first_stage_model.decoder.conv_in.bias")
                t = at::zeros({ 5 });
        auto p = test::tempDir() / "broken.safetensors";
        io::writeSafeTensors(p, tensors);
        io::SafeTensorsFile broken(p);
        auto cfg = models::configFromLdmJson(caseConfig("tiny_sd1"));
        auto e = test::errorOf([&] { models::LatentModel::load(broken, cfg); });
        QVERIFY2(e.find("broken.safetensors") != std::string::npos, e.c_str());
        QVERIFY2(
            e.find("missing") != std::string::npos && e.find("model.diffusion_model.out.2.bias") != std::string::npos,
            e.c_str());
        QVERIFY2(e.find("unexpected") != std::string::npos
                && e.find("model.diffusion_model.bogus.weight") != std::string::npos,
            e.c_str());
        QVERIFY2(e.find("wrongly shaped") != std::string::npos
                && e.find("first_stage_model.decoder.conv_in.bias: file [5]") != std::string::npos,
            e.c_str());
        // Schedule buffers and EMA copies are not "unexpected".
        QVERIFY(e.find("alphas_cumprod") == std::string::npos);
    }

    void loadsFp16CheckpointIntoFloat32()
    {
        io::SafeTensorsFile sd1(test::goldenDir() / "tiny_sd1" / "weights.safetensors");
        auto tensors = allTensors(sd1);
        for (auto& [k, t] : tensors)
            if (t.is_floating_point())
                t = t.to(at::kHalf);
        tensors.emplace_back("model_ema.decay", at::tensor(0.999f));
        auto p = test::tempDir() / "half.safetensors";
        io::writeSafeTensors(p, tensors);
        io::SafeTensorsFile half(p);
        auto m = models::LatentModel::load(half, models::configFromLdmJson(caseConfig("tiny_sd1")));
        QCOMPARE(m->unet->out_2->weight.scalar_type(), at::kFloat);
        QVERIFY(at::allclose(m->unet->out_2->weight, sd1.load("model.diffusion_model.out.2.weight"), 1e-2, 1e-3));
    }

    void otherFamiliesAreNamed()
    {
        auto write = [](const std::string& name, const std::vector<std::string>& keys) {
            std::vector<std::pair<std::string, at::Tensor>> t;
            for (const auto& k : keys)
                t.emplace_back(k, at::zeros({ 1 }));
            auto p = test::tempDir() / name;
            io::writeSafeTensors(p, t);
            return p;
        };
        // SDXL is supported (tst_sdxl); a file missing one of its text encoders is named as an incomplete SDXL file.
        auto sdxl = write("sdxl.safetensors",
            { "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight",
                "model.diffusion_model.input_blocks.0.0.weight", "first_stage_model.encoder.conv_in.weight" });
        auto e = test::errorOf([&] { models::detectConfig(*io::openWeights(sdxl)); });
        QVERIFY2(e.find("SDXL") != std::string::npos && e.find("bigG") != std::string::npos, e.c_str());
        auto flux = write("flux.safetensors", { "double_blocks.0.img_attn.norm.key_norm.scale" });
        QVERIFY(test::errorOf([&] { models::detectConfig(*io::openWeights(flux)); }).find("Flux") != std::string::npos);
        auto vae = write("vae.safetensors", { "encoder.conv_in.weight", "decoder.conv_out.weight" });
        QVERIFY(test::errorOf([&] { models::detectConfig(*io::openWeights(vae)); }).find("autoencoder")
            != std::string::npos);
        auto lora = write("lora.safetensors", { "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight" });
        QVERIFY(test::errorOf([&] { models::detectConfig(*io::openWeights(lora)); }).find("LoRA") != std::string::npos);
        auto junk = write("junk.safetensors", { "foo" });
        auto ej = test::errorOf([&] { models::detectConfig(*io::openWeights(junk)); });
        QVERIFY2(ej.find("junk.safetensors") != std::string::npos && ej.find("not a recognised") != std::string::npos,
            ej.c_str());
    }

    void wrongFamilyForTheConfig()
    {
        // An LDM-SR checkpoint loaded with an SD1 configuration: a mismatch error, no crash.
        io::SafeTensorsFile sr(test::goldenDir() / "tiny_ldm_sr" / "weights.safetensors");
        auto e
            = test::errorOf([&] { models::LatentModel::load(sr, models::configFromLdmJson(caseConfig("tiny_sd1"))); });
        QVERIFY2(e.find("do not fit") != std::string::npos && e.find("tiny_ldm_sr") != std::string::npos, e.c_str());
    }

    void outOfRangeNumbersAreRefused()
    {
        // Found by fuzz_config (UBSan): a float too large for the integer it is read as was undefined behaviour.
        auto cfg = caseConfig("tiny_sd1");
        nlohmann::json* params = &cfg;
        for (int guard = 0; guard < 4 && !params->contains("unet_config"); ++guard)
            params = params->contains("model") ? &(*params)["model"]
                : params->contains("config")   ? &(*params)["config"]
                                               : &(*params)["params"];
        (*params)["unet_config"]["params"]["in_channels"] = 1.5e38;
        auto e = test::errorOf([&] { models::configFromLdmJson(cfg); });
        QVERIFY2(e.find("in_channels") != std::string::npos && e.find("out of range") != std::string::npos, e.c_str());
        // A diffusers config.json with the same problem names its file.
        const auto dir = test::tempDir() / "diffusers";
        std::filesystem::create_directories(dir / "unet");
        std::filesystem::create_directories(dir / "vae");
        test::writeBytes(dir / "model_index.json", R"({"_class_name": "StableDiffusionPipeline"})");
        test::writeBytes(dir / "unet" / "config.json", R"({"in_channels": -1e300, "sample_size": 64})");
        auto e2 = test::errorOf([&] { io::DiffusersFolder f(dir); });
        QVERIFY2(
            e2.find("config.json") != std::string::npos && e2.find("out of range") != std::string::npos, e2.c_str());
    }
};

QTEST_GUILESS_MAIN(TestModelConfig)
#include "tst_modelconfig.moc"

// Training-side model features of the bundled family: coordinate channels in the UNet (absolute position for "at the
// top left" and box tokens) and the warm start that adds them to an already trained model without changing its output.
#include "TestUtil.h"
#include "io/ConfigFile.h"
#include "io/SafeTensors.h"
#include "models/LatentModel.h"
#include "models/ModelConfig.h"
#include "models/unet/UNet.h"
#include "pipeline/Generator.h"
#include "pipeline/ModelLoading.h"
#include "text/WorldLayout.h"
#include "train/Trainer.h"
#include "util/Error.h"

#include <nlohmann/json.hpp>

#include <QtTest/QtTest>

using namespace ls;

namespace {

models::UNetConfig smallConfig(int64_t coords)
{
    auto j = nlohmann::json::parse(
        R"({"in_channels": 4, "out_channels": 4, "model_channels": 32, "attention_resolutions": [2],
        "num_res_blocks": 1, "channel_mult": [1, 2], "num_head_channels": 16, "use_spatial_transformer": true,
        "transformer_depth": 1, "context_dim": 16, "legacy": false})");
    if (coords)
        j["coord_channels"] = coords;
    return models::UNetConfig::fromJson(j);
}

models::UNetModel randomUNet(const models::UNetConfig& c, uint64_t seed)
{
    models::UNetModel m(c, at::TensorOptions().dtype(at::kFloat));
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    torch::NoGradGuard ng;
    for (auto& p : m->parameters())
        p.copy_(at::randn(p.sizes(), gen) * 0.1);
    return m;
}

// The UNet's parameters as a checkpoint file (original key names), for warm starts.
std::filesystem::path writeUNet(models::UNetModel& m, const std::string& name)
{
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (auto& p : m->named_parameters())
        tensors.emplace_back("model.diffusion_model." + p.key(), p.value().detach().clone());
    const auto file = test::tempDir() / name;
    io::writeSafeTensors(file, tensors);
    return file;
}

// Options for one diffusion step (batch 2, 8 scenes) in a fresh work folder whose autoencoder stage holds random
// weights, as `train autoencoder` would leave it.
train::TrainOptions oneDiffusionStep(const std::string& name)
{
    const auto out = test::tempDir() / name;
    std::filesystem::create_directories(out / "autoencoder");
    auto aeCfg = models::configFromLdmJson(train::bundledDiffusionConfig()).firstStage;
    models::Autoencoder ae(aeCfg, at::TensorOptions().dtype(at::kFloat));
    auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
    std::vector<std::pair<std::string, at::Tensor>> t;
    for (auto& p : ae->named_parameters())
        t.emplace_back(p.key(), at::randn(p.value().sizes(), gen) * 0.02);
    io::writeSafeTensors(out / "autoencoder" / "weights.safetensors", t);
    train::TrainOptions o;
    o.stage = "diffusion";
    o.out = out;
    o.steps = 1;
    o.batch = 2;
    o.dataset = 8;
    o.log = [](const std::string&) {};
    return o;
}

} // namespace

class TestTraining : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // `train --zero-terminal-snr` writes the stage config with the rescaled schedule and v-prediction; that is what
    // loads. The family's default stays SD's linear schedule with eps (the shipped model).
    void zeroTerminalSnrStageConfig()
    {
        auto dflt = models::configFromLdmJson(train::bundledDiffusionConfig());
        QCOMPARE(dflt.parameterization, std::string("eps"));
        QVERIFY(!dflt.zeroTerminalSnr);
        // A stage started with --zero-terminal-snr (one step on 8 scenes, random autoencoder) fixes that in its config.
        auto o = oneDiffusionStep("zt");
        const auto out = o.out;
        o.zeroTerminalSnr = true;
        QCOMPARE(train::runTraining(o), 0);
        auto written = models::configFromLdmJson(io::readConfigFile(out / "diffusion" / "config.json"));
        QVERIFY(written.zeroTerminalSnr);
        QCOMPARE(written.parameterization, std::string("v"));
        QVERIFY(std::filesystem::exists(out / "diffusion" / "weights.safetensors"));
        auto j = train::bundledDiffusionConfig();
        j["model"]["params"]["rescale_betas_zero_snr"] = true;
        j["model"]["params"]["parameterization"] = "v";
        auto c = models::configFromLdmJson(j);
        QCOMPARE(c.parameterization, std::string("v"));
        QVERIFY(c.zeroTerminalSnr);
        QCOMPARE(models::configFromLdmJson(c.toJson()).zeroTerminalSnr, true);
        auto m = models::LatentModel::build(c, at::TensorOptions().dtype(at::kFloat));
        QVERIFY(m->schedule.zeroTerminal());
    }

    // The family's default: the condition's boxes also painted into 7 layout channels beside the latent. One training
    // step, bundled, loaded like any checkpoint: the prompt's "at the top left" phrase (laid out as a box) and explicit
    // boxes reach the UNet; with caption_layout off the same prompt gives another image.
    void layoutChannelsEndToEnd()
    {
        auto c = models::configFromLdmJson(train::bundledDiffusionConfig());
        QCOMPARE(c.layoutChannels, int64_t(text::kWorldLayoutChannels));
        QCOMPARE(c.unet.inChannels, int64_t(4 + text::kWorldLayoutChannels));
        QCOMPARE(models::configFromLdmJson(c.toJson()).layoutChannels, c.layoutChannels);
        for (auto [key, value, field] : { std::tuple { "layout_channels", 5, "layout_channels" },
                 std::tuple { "in_channels", 4, "in_channels" } }) {
            auto j = train::bundledDiffusionConfig();
            if (std::string(key) == "in_channels")
                j["model"]["params"]["unet_config"]["params"]["in_channels"] = value;
            else
                j["model"]["params"][key] = value;
            try {
                models::configFromLdmJson(j);
                QFAIL(qPrintable(QString("%1 = %2 accepted").arg(key).arg(value)));
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains(field), e.what());
            }
        }

        auto o = oneDiffusionStep("layout");
        const auto out = o.out;
        QCOMPARE(train::runTraining(o), 0);
        o.stage = "bundle";
        o.bundleTo = out / "release";
        QCOMPARE(train::runTraining(o), 0);
        auto lm = pipeline::loadModel(out / "release" / "default" / "model.safetensors", {});
        QCOMPARE(lm.model->config.layoutChannels, int64_t(text::kWorldLayoutChannels));
        {
            // One step leaves the zero-initialised output layers near zero: random weights make every input visible.
            torch::NoGradGuard ng;
            auto g = at::make_generator<at::CPUGeneratorImpl>(9);
            for (auto& p : lm.model->unet->parameters())
                p.copy_(at::randn(p.sizes(), g).to(p.scalar_type()) * 0.1);
        }
        pipeline::Generator gen(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        pipeline::GenerationRequest r;
        r.width = r.height = 64;
        r.steps = 3;
        r.seed = 5;
        r.sampler = "Euler";
        r.prompt = "a large red circle at the top left";
        auto placed = gen.run(r, {}, stop).images.at(0);
        r.captionLayout = false;
        auto plain = gen.run(r, {}, stop).images.at(0);
        QVERIFY(!(placed == plain));
        r.captionLayout = true;
        r.prompt = "a large red circle"; // no position: nothing laid out, same as caption_layout off
        auto unplaced = gen.run(r, {}, stop).images.at(0);
        r.captionLayout = false;
        QVERIFY(unplaced == gen.run(r, {}, stop).images.at(0));
        r.mode = pipeline::JobMode::Layout;
        r.boxes.push_back({ 2, 2, 20, 20, "", "red circle" });
        QVERIFY(!(gen.run(r, {}, stop).images.at(0) == unplaced));
    }

    // `train decoder` fine-tunes the decoder on the frozen encoder (the latent space every diffusion stage was trained
    // on stays the same) and `bundle` ships it: encoder tensors bit-identical, decoder tensors moved, the bundled first
    // stage is the fine-tuned one. Bad options and a missing autoencoder are errors naming the cause.
    void decoderStageKeepsTheEncoder()
    {
        auto o = oneDiffusionStep("decoder");
        const auto out = o.out;
        QCOMPARE(train::runTraining(o), 0); // a diffusion stage to bundle beside it
        o.stage = "decoder";
        o.steps = 2;
        o.latentNoise = 2.5;
        try {
            train::runTraining(o);
            QFAIL("--latent-noise 2.5 accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("--latent-noise"), e.what());
        }
        o.latentNoise = 0.2;
        QCOMPARE(train::runTraining(o), 0);
        io::SafeTensorsFile before(out / "autoencoder" / "weights.safetensors");
        io::SafeTensorsFile after(out / "decoder" / "weights.safetensors");
        int encoder = 0, movedDecoder = 0;
        for (const auto& k : before.keys()) {
            const bool same = at::equal(before.load(k), after.load(k));
            if (k.rfind("encoder.", 0) == 0 || k.rfind("quant_conv.", 0) == 0) {
                ++encoder;
                QVERIFY2(same, k.c_str());
            } else if (k.rfind("decoder.", 0) == 0) {
                movedDecoder += !same;
            }
        }
        QVERIFY(encoder > 10);
        QVERIFY(movedDecoder > 10);

        o.stage = "bundle";
        o.bundleTo = out / "release";
        QCOMPARE(train::runTraining(o), 0);
        io::SafeTensorsFile bundled(out / "release" / "default" / "model.safetensors");
        for (const char* k :
            { "decoder.conv_out.weight", "decoder.up.0.block.0.conv1.weight", "encoder.conv_in.weight" })
            QVERIFY2(at::equal(bundled.load(std::string("first_stage_model.") + k), after.load(k).to(at::kHalf)), k);

        const auto bare = test::tempDir() / "decoder-without-autoencoder";
        std::filesystem::create_directories(bare);
        o.stage = "decoder";
        o.out = bare;
        try {
            train::runTraining(o);
            QFAIL("decoder stage without an autoencoder accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("train the autoencoder first"), e.what());
        }
    }

    void vPredictionLoss()
    {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
        auto z0 = at::randn({ 3, 4, 8, 8 }, gen), noise = at::randn({ 3, 4, 8, 8 }, gen);
        auto acp = at::tensor({ 5.96e-8f, 0.5f, 0.99f }).view({ -1, 1, 1, 1 });
        auto v = acp.sqrt() * noise - (1 - acp).sqrt() * z0;
        QVERIFY(train::diffusionLoss(v, z0, noise, acp, true).abs().max().item<double>() < 1e-12);
        // At the pure-noise end the target is -x0 with full weight: predicting 0 costs mean(x0^2).
        auto l = train::diffusionLoss(at::zeros_like(v), z0, noise, acp, true);
        QVERIFY(std::abs(l[0].item<double>() - z0[0].pow(2).mean().item<double>()) < 1e-4);
        // Nearly clean samples (SNR 99) are weighed down to 6 / 100.
        QVERIFY(std::abs(l[2].item<double>() - 0.06 * v[2].pow(2).mean().item<double>()) < 1e-4);
        // eps loss: zero for the true noise.
        QVERIFY(train::diffusionLoss(noise, z0, noise, acp, false).abs().max().item<double>() < 1e-12);
    }

    void coordChannelsConfig()
    {
        auto c = smallConfig(2);
        QCOMPARE(c.coordChannels, int64_t(2));
        QCOMPARE(models::UNetConfig::fromJson(c.toJson()), c);
        QCOMPARE(smallConfig(0).toJson().contains("coord_channels"), false); // original configs stay as they were
        auto j = c.toJson();
        j["coord_channels"] = 3;
        try {
            models::UNetConfig::fromJson(j);
            QFAIL("coord_channels 3 accepted");
        } catch (const Error& e) {
            QVERIFY(QString(e.what()).contains("coord_channels"));
        }
        models::UNetModel m(c, at::TensorOptions().dtype(at::kFloat));
        QCOMPARE(m->named_parameters()["input_blocks.0.0.weight"].size(1), int64_t(6)); // 4 latent + x + y
    }

    void coordinatesReachTheOutput()
    {
        // Same latent, same timestep and context: only the coordinate filters of conv_in differ, so any change in the
        // prediction comes from the x/y maps the UNet appends.
        auto m = randomUNet(smallConfig(2), 3);
        torch::NoGradGuard ng;
        auto x = at::randn({ 1, 4, 16, 16 }, at::make_generator<at::CPUGeneratorImpl>(7));
        auto ctx = at::randn({ 1, 5, 16 }, at::make_generator<at::CPUGeneratorImpl>(4));
        auto t = at::full({ 1 }, 500, at::kLong);
        auto w = m->named_parameters()["input_blocks.0.0.weight"];
        auto before = m->forward(x, t, ctx);
        w.narrow(1, 4, 2).zero_();
        auto after = m->forward(x, t, ctx);
        QVERIFY((before - after).abs().max().item<double>() > 1e-3);
        // Non-square latents work too (the maps follow the input's own height and width).
        QCOMPARE(
            m->forward(at::randn({ 2, 4, 8, 24 }), at::full({ 2 }, 10, at::kLong), ctx.expand({ 2, 5, 16 })).sizes(),
            (at::IntArrayRef { 2, 4, 8, 24 }));
    }

    void warmStartKeepsTheOldModel()
    {
        auto old = randomUNet(smallConfig(0), 1);
        const auto file = writeUNet(old, "old.safetensors");

        auto grown = randomUNet(smallConfig(2), 2); // different values everywhere before the warm start
        std::vector<std::string> log;
        io::SafeTensorsFile w(file);
        train::warmStart(*grown, w, "model.diffusion_model.", [&](const std::string& s) { log.push_back(s); });
        auto conv = grown->named_parameters()["input_blocks.0.0.weight"];
        QCOMPARE(conv.size(1), int64_t(6));
        QVERIFY(conv.narrow(1, 4, 2).abs().max().item<double>() == 0.0);
        QVERIFY(at::equal(conv.narrow(1, 0, 4), old->named_parameters()["input_blocks.0.0.weight"]));
        bool loggedGrowth = false;
        for (const auto& s : log)
            loggedGrowth |= s.find("grown from [32, 4, 3, 3] to [32, 6, 3, 3]") != std::string::npos;
        QVERIFY(loggedGrowth);

        torch::NoGradGuard ng;
        auto x = at::randn({ 2, 4, 16, 16 }, at::make_generator<at::CPUGeneratorImpl>(5));
        auto ctx = at::randn({ 2, 5, 16 }, at::make_generator<at::CPUGeneratorImpl>(6));
        auto t = at::tensor({ 10, 900 }, at::kLong);
        auto diff = (old->forward(x, t, ctx) - grown->forward(x, t, ctx)).abs().max().item<double>();
        QVERIFY2(diff < 1e-5, qPrintable(QString("warm-started output differs by %1").arg(diff)));
    }

    void warmStartRefusesWhatDoesNotFit()
    {
        auto big = randomUNet(smallConfig(2), 1);
        const auto file = writeUNet(big, "big.safetensors");
        auto small = randomUNet(smallConfig(0), 2);
        io::SafeTensorsFile w(file);
        try {
            train::warmStart(*small, w, "model.diffusion_model.", [](const std::string&) {});
            QFAIL("a larger tensor was accepted");
        } catch (const Error& e) {
            const QString msg = e.what();
            QVERIFY2(msg.contains("input_blocks.0.0.weight") && msg.contains("big.safetensors"), qPrintable(msg));
        }
    }
};

QTEST_GUILESS_MAIN(TestTraining)
#include "tst_training.moc"

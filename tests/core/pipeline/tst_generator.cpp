// The jobs end to end on the tiny golden checkpoints: sizes, reproducible seeds, metadata round trip, pixels outside
// the inpainting mask bit-identical, prompt cancellation, and clear errors for bad requests.
#include "TestUtil.h"
#include "TinySd1.h"
#include "models/LatentModel.h"

#include "io/ImageFile.h"
#include "pipeline/Engine.h"
#include "pipeline/Generator.h"
#include "pipeline/ImageOps.h"
#include "pipeline/Infotext.h"
#include "pipeline/ModelLoading.h"
#include "io/SafeTensors.h"
#include "models/Loader.h"
#include "models/RandomWeights.h"
#include "util/Error.h"

#include <fstream>

#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

using namespace ls;
using namespace ls::pipeline;
namespace fs = std::filesystem;

namespace {

LoadedModel& tinySd1() // with the file hash (the metadata tests read it)
{
    static LoadedModel m = loadModel(test::tinySd1Weights(), test::tinySd1Options());
    return m;
}

using test::gradient;

GenerationRequest baseRequest()
{
    GenerationRequest r;
    r.prompt = "a red (house:1.2) on a hill";
    r.negativePrompt = "blurry";
    r.width = 64;
    r.height = 64;
    r.steps = 4;
    r.seed = 1234;
    r.sampler = "Euler a";
    return r;
}

} // namespace

class TestGenerator : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void hiresPassIsTxt2ImgThenImg2ImgAtTheLargerSize()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto r = baseRequest();
        r.sampler = "DDIM";
        r.hiresScale = 2.0;
        r.hiresStrength = 0.6;
        r.hiresSteps = 5;
        std::vector<std::pair<int, int>> steps;
        const auto hires = g.run(
            r, [&](const StepInfo& s) { steps.emplace_back(s.step, s.total); }, stop);
        QCOMPARE(hires.images[0].width, 128);
        QCOMPARE(hires.images[0].height, 128);
        // The definition: the plain picture, enlarged with Lanczos, repainted by img2img with the same seed.
        auto plain = r;
        plain.hiresScale = 1.0;
        const auto first = g.run(plain, {}, stop);
        auto second = r;
        second.mode = JobMode::Img2Img;
        second.hiresScale = 1.0;
        second.initImage = resizeLanczos(toRgb(first.images[0]), 128, 128);
        second.width = second.height = 128;
        second.strength = 0.6;
        second.steps = 5;
        QVERIFY(g.run(second, {}, stop).images[0].pixels == hires.images[0].pixels);
        // One progress count over both passes, ending at its total.
        QVERIFY(steps.size() > 4);
        for (size_t i = 1; i < steps.size(); ++i)
            QVERIFY(steps[i].first > steps[i - 1].first);
        QCOMPARE(steps.back().first, steps.back().second);
        // AUTOMATIC1111's keys, the first pass's size; the JSON reproduces the picture, the infotext the settings.
        const auto p = parseInfotext(hires.metadata[0].at("parameters"));
        QCOMPARE(QString::fromStdString(p.get("Size")), QString("64x64"));
        QCOMPARE(QString::fromStdString(p.get("Hires upscale")), QString("2"));
        QCOMPARE(QString::fromStdString(p.get("Hires steps")), QString("5"));
        QCOMPARE(QString::fromStdString(p.get("Denoising strength")), QString("0.6"));
        const auto back = requestFromInfotext(p);
        QCOMPARE(back.hiresScale, 2.0);
        QCOMPARE(back.hiresSteps, 5);
        QCOMPARE(back.hiresStrength, 0.6);
        QCOMPARE(back.width, 64);
        const auto j = nlohmann::json::parse(hires.metadata[0].at("latent_studio"));
        QCOMPARE(QString::fromStdString(j["mode"].get<std::string>()), QString("txt2img"));
        QVERIFY(j["init_png"].is_null());
        QVERIFY(g.run(GenerationRequest::fromJson(j), {}, stop).images[0].pixels == hires.images[0].pixels);
        // Only for text-to-image, within bounds.
        auto bad = r;
        bad.mode = JobMode::Img2Img;
        bad.initImage = gradient(64, 64);
        QVERIFY(test::errorOf([&] { g.run(bad, {}, stop); }).find("hires_scale") != std::string::npos);
        bad = r;
        bad.hiresScale = 5;
        QVERIFY(test::errorOf([&] { g.run(bad, {}, stop); }).find("hires_scale") != std::string::npos);
    }

    void txt2imgSizeAndSeeds()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto r = baseRequest();
        r.width = 72; // not a multiple of the model's 16: padded and cropped back
        r.height = 40;
        auto a = g.run(r, {}, stop);
        QCOMPARE(a.images.size(), size_t(1));
        QCOMPARE(a.images[0].width, 72);
        QCOMPARE(a.images[0].height, 40);
        auto b = g.run(r, {}, stop);
        QVERIFY(a.images[0] == b.images[0]); // same seed, same image
        r.seed = 1235;
        auto c = g.run(r, {}, stop);
        QVERIFY(!(a.images[0] == c.images[0]));
        // Image i of a batch uses seed + i.
        r.seed = 1234;
        r.batch = 2;
        auto batch = g.run(r, {}, stop);
        QCOMPARE(batch.seeds, (std::vector<int64_t> { 1234, 1235 }));
        auto diff = [](const Image& x, const Image& y) {
            int worst = 0;
            for (size_t i = 0; i < x.pixels.size(); ++i)
                worst = std::max(worst, std::abs(int(x.pixels[i]) - int(y.pixels[i])));
            return worst;
        };
        QVERIFY(diff(batch.images[0], a.images[0]) <= 2);
        QVERIFY(diff(batch.images[1], c.images[0]) <= 2);
    }

    // fp16-stored weights on the CPU compute in fp32 (half the memory for the weights): same image within rounding.
    void fp16StoredWeightsComputeInFloat32()
    {
        ModelLoadOptions o;
        o.configFile = test::goldenDir() / "tiny_sd1" / "case.json";
        o.vocabulary = test::sharedDir() / "data" / "clip";
        o.dtype = at::kHalf;
        auto half = loadModel(test::goldenDir() / "tiny_sd1" / "weights.safetensors", o);
        QCOMPARE(half.model->computeType(), at::kFloat);
        QCOMPARE(half.model->unet->named_parameters()["out.2.weight"].scalar_type(), at::kHalf);
        QCOMPARE(tinySd1().model->computeType(), at::kFloat);
        StopToken stop;
        auto r = baseRequest();
        Generator gh(half.model, half.tokenizer, half.info);
        auto& lm = tinySd1();
        Generator gf(lm.model, lm.tokenizer, lm.info);
        auto a = gh.run(r, {}, stop).images[0], b = gf.run(r, {}, stop).images[0];
        double sum = 0;
        for (size_t i = 0; i < a.pixels.size(); ++i)
            sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
        QVERIFY2(sum / static_cast<double>(a.pixels.size()) < 2.0, qPrintable(QString::number(sum / a.pixels.size())));
    }

    // LatentModel::denoise (the one UNet entry point of the pipeline and bench) is the UNet on the model's device and
    // dtype; channels-last convolution weights (a GPU fast path) give the same output, and switching back restores
    // them.
    void denoiseAndChannelsLast()
    {
        torch::NoGradGuard ng;
        auto& m = *tinySd1().model;
        auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
        auto x = at::randn({ 2, m.config.unet.inChannels, 8, 8 }, gen);
        auto t = at::full({ 2 }, 400, at::TensorOptions().dtype(at::kLong));
        auto ctx = at::randn({ 2, 77, m.config.unet.contextDim }, gen);
        auto ref = m.unet(x, t, ctx, at::Tensor());
        QVERIFY(at::equal(m.denoise(x, t, ctx), ref));
        m.setChannelsLast(true);
        bool anyChannelsLast = false;
        for (auto& p : m.unet->parameters())
            anyChannelsLast |= p.dim() == 4 && p.is_contiguous(at::MemoryFormat::ChannelsLast) && !p.is_contiguous();
        const double d = (m.denoise(x, t, ctx) - ref).abs().max().item<double>();
        m.setChannelsLast(false);
        QVERIFY(anyChannelsLast);
        QVERIFY2(d < 1e-4 * (1 + ref.abs().max().item<double>()), qPrintable(QString::number(d)));
        for (auto& p : m.unet->parameters())
            QVERIFY(p.is_contiguous());
        QVERIFY(at::equal(m.denoise(x, t, ctx), ref));
    }

    // Tiled decoding: for a pointwise decoder it is exact (the blend weights sum to one everywhere, no seams); for the
    // real VAE it stays close to the whole decode, and small latents are decoded whole.
    void tiledDecode()
    {
        auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
        auto z = at::randn({ 2, 4, 40, 70 }, gen);
        auto pointwise = [](const at::Tensor& t) {
            return at::upsample_nearest2d(t.narrow(1, 0, 3).tanh(), { t.size(2) * 8, t.size(3) * 8 });
        };
        for (int64_t tile : { 16, 24, 64 }) {
            auto tiled = models::tiledDecode(z, 8, tile, tile / 4, pointwise);
            QCOMPARE(tiled.sizes(), (c10::IntArrayRef { 2, 3, 320, 560 }));
            QVERIFY2((tiled - pointwise(z)).abs().max().item<double>() < 1e-5, qPrintable(QString::number(tile)));
        }
        auto& m = *tinySd1().model;
        auto lat = at::randn({ 1, 4, 24, 24 }, gen);
        auto whole = m.decodeLatent(lat, 0);
        QVERIFY(at::equal(m.decodeLatent(lat), whole)); // automatic: small latents are decoded whole
        auto tiled = m.decodeLatent(lat, 16);
        QCOMPARE(tiled.sizes(), whole.sizes());
        const double d = (tiled - whole).abs().mean().item<double>();
        QVERIFY2(d < 0.05, qPrintable(QString::number(d)));
        // A request's vae_tile reaches the decode and survives the JSON round trip.
        auto r = baseRequest();
        r.vaeTile = 16;
        QCOMPARE(GenerationRequest::fromJson(r.toJson()).vaeTile, 16);
    }

    void loadReportsProgressAndCanBeStopped()
    {
        const fs::path weights = test::goldenDir() / "tiny_sd1" / "weights.safetensors";
        EngineLoadOptions o;
        o.configFile = test::goldenDir() / "tiny_sd1" / "case.json";
        o.vocabulary = test::sharedDir() / "data" / "clip";
        std::vector<double> seen;
        o.onProgress = [&seen](double share) {
            seen.push_back(share);
            return true;
        };
        Engine e;
        e.load(weights, o);
        QVERIFY(seen.size() >= 5);
        QCOMPARE(seen.front(), 0.0);
        QCOMPARE(seen.back(), 1.0);
        QVERIFY(std::is_sorted(seen.begin(), seen.end()));
        QVERIFY(std::any_of(
            seen.begin(), seen.end(), [](double s) { return s > 0.2 && s < 0.8; })); // reported along the way
        // Stopped part-way: Cancelled naming the file, and the model loaded before stays.
        int calls = 0;
        o.onProgress = [&calls](double share) {
            ++calls;
            return share < 0.3;
        };
        try {
            e.load(weights, o);
            QFAIL("the load was not stopped");
        } catch (const Error& err) {
            QCOMPARE(err.kind(), ErrorKind::Cancelled);
            QVERIFY(std::string(err.what()).find("weights.safetensors") != std::string::npos);
        }
        QVERIFY(calls >= 2);
        QVERIFY(e.hasModel());
        GenerationRequest r = baseRequest();
        r.steps = 2;
        QCOMPARE(e.run(r, {}, StopToken()).images.size(), size_t(1));
    }

    void previewsArriveInOrder()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto r = baseRequest();
        r.decodeEvery = 2;
        std::vector<int> steps;
        int decoded = 0, projected = 0;
        g.run(
            r,
            [&](const StepInfo& s) {
                steps.push_back(s.step);
                QCOMPARE(s.total, 4);
                QVERIFY(s.preview);
                (s.fullDecode ? decoded : projected)++;
                if (s.fullDecode)
                    QCOMPARE(s.preview->width, 64);
            },
            stop);
        QCOMPARE(steps, (std::vector<int> { 1, 2, 3, 4 }));
        QCOMPARE(decoded, 2);
        QCOMPARE(projected, 2);
    }

    void cancellationIsPrompt()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto r = baseRequest();
        r.steps = 20;
        int last = 0;
        auto e = test::errorOf([&] {
            g.run(
                r,
                [&](const StepInfo& s) {
                    last = s.step;
                    if (s.step == 3)
                        stop.requestStop();
                },
                stop);
        });
        QCOMPARE(QString::fromStdString(e), QString("cancelled"));
        QCOMPARE(last, 3); // no further step ran after the stop
    }

    void inpaintKeepsOutsideBitIdentical()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        for (bool onlyMasked : { false, true }) {
            for (const char* sampler : { "DDIM", "Euler a" }) {
                auto r = baseRequest();
                r.mode = JobMode::Inpaint;
                r.sampler = sampler;
                r.strength = 1.0;
                r.onlyMasked = onlyMasked;
                r.initImage = gradient(96, 64);
                r.mask = Image(96, 64, 1, 0);
                for (int y = 20; y < 40; ++y)
                    for (int x = 30; x < 60; ++x)
                        *r.mask.at(x, y) = 255;
                auto out = g.run(r, {}, stop).images.at(0);
                QCOMPARE(out.width, 96);
                QCOMPARE(out.height, 64);
                auto m = blurMask((maskToTensor(r.mask) >= 0.5).to(at::kFloat), r.maskBlur);
                auto mp = m.contiguous();
                int changedInside = 0;
                for (int y = 0; y < 64; ++y)
                    for (int x = 0; x < 96; ++x) {
                        const bool same = std::memcmp(out.at(x, y), r.initImage.at(x, y), 3) == 0;
                        if (mp[0][0][y][x].item<float>() <= 0.0f)
                            QVERIFY2(same, qPrintable(QString("pixel %1,%2 changed outside the mask").arg(x).arg(y)));
                        if (*r.mask.at(x, y) == 255 && !same)
                            ++changedInside;
                    }
                QVERIFY(changedInside > 300);
            }
        }
    }

    // Soft inpainting: mask 0 stays bit-identical, a hard (0/255) mask paints exactly as without it, and grey levels
    // change the picture in proportion (differential diffusion).
    void softInpainting()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        for (const char* sampler : { "DDIM", "Euler a" }) {
            auto r = baseRequest();
            r.mode = JobMode::Inpaint;
            r.sampler = sampler;
            r.strength = 1.0;
            r.maskBlur = 0;
            r.initImage = gradient(96, 64);
            r.mask = Image(96, 64, 1, 0);
            for (int y = 8; y < 56; ++y)
                for (int x = 0; x < 64; ++x) // 0 .. 255 in steps of 64 pixels: a ramp of strengths
                    *r.mask.at(x, y) = static_cast<uint8_t>(x * 4);
            auto hard = r;
            for (auto& v : hard.mask.pixels)
                v = v >= 128 ? 255 : 0;
            r.softInpainting = true;
            auto soft = g.run(r, {}, stop).images.at(0);
            auto softHard = hard;
            softHard.softInpainting = true;
            QCOMPARE(g.run(softHard, {}, stop).images.at(0), g.run(hard, {}, stop).images.at(0));
            auto change = [&](int x0, int x1) {
                double sum = 0;
                int n = 0;
                for (int y = 8; y < 56; ++y)
                    for (int x = x0; x < x1; ++x)
                        for (int c = 0; c < 3; ++c, ++n)
                            sum += std::abs(soft.at(x, y)[c] - r.initImage.at(x, y)[c]);
                return sum / n;
            };
            for (int y = 0; y < 64; ++y)
                for (int x = 0; x < 96; ++x)
                    if (*r.mask.at(x, y) == 0)
                        QVERIFY2(std::memcmp(soft.at(x, y), r.initImage.at(x, y), 3) == 0,
                            qPrintable(QString("%1: pixel %2,%3 at mask 0 changed").arg(sampler).arg(x).arg(y)));
            const double low = change(1, 16), high = change(48, 64);
            QVERIFY2(high > low * 1.5 && high > 4,
                qPrintable(QString("%1: change at strength ~0.12 %2, at ~0.9 %3").arg(sampler).arg(low).arg(high)));
        }
    }

    void outpaintGrowsTheCanvasAndKeepsTheOriginal()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto r = baseRequest();
        r.mode = JobMode::Inpaint;
        r.initImage = gradient(64, 48);
        r.extendLeft = 32;
        r.extendBottom = 16;
        auto out = g.run(r, {}, stop).images.at(0);
        QCOMPARE(out.width, 96);
        QCOMPARE(out.height, 64);
        // Far from the seam (more than overlap 8 + blur reach), the original pixels are untouched.
        for (int y = 0; y < 48 - 16; ++y)
            for (int x = 32 + 16; x < 96; ++x)
                QVERIFY(std::memcmp(out.at(x, y), r.initImage.at(x - 32, y), 3) == 0);
    }

    void img2imgLayoutAndInpaintModelRun()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto r = baseRequest();
        r.mode = JobMode::Img2Img;
        r.initImage = gradient(64, 48);
        r.strength = 0.5;
        auto out = g.run(r, {}, stop).images.at(0);
        QCOMPARE(out.width, 64);
        QCOMPARE(out.height, 48);
        auto l = baseRequest();
        l.mode = JobMode::Layout;
        l.boxes = { { 0, 0, 32, 32, "a red ball", "" }, { 32, 32, 32, 32, "a blue cube", "" } };
        QCOMPARE(g.run(l, {}, stop).images.at(0).width, 64);
    }

    void upscaleTiledAndLanczos()
    {
        ModelLoadOptions o;
        o.configFile = test::goldenDir() / "tiny_ldm_sr" / "case.json";
        auto lm = loadModel(test::goldenDir() / "tiny_ldm_sr" / "weights.safetensors", o);
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        GenerationRequest r;
        r.mode = JobMode::Upscale;
        r.sampler = "DDIM";
        r.steps = 3;
        r.seed = 1;
        r.initImage = gradient(40, 24);
        r.tileSize = 16;
        r.tileOverlap = 4;
        int tiles = 0;
        auto out = g.run(
                        r, [&](const StepInfo& s) { tiles = s.tiles; }, stop)
                       .images.at(0);
        QCOMPARE(out.width, 160);
        QCOMPARE(out.height, 96);
        QVERIFY(tiles > 1);
        Generator plain(nullptr, nullptr);
        auto lz = plain.run(r, {}, stop).images.at(0);
        QCOMPARE(lz.width, 160);
        // Lanczos of a smooth gradient stays close to it.
        QVERIFY(std::abs(int(lz.at(80, 48)[0]) - int(r.initImage.at(20, 12)[0])) < 12);
    }

    void upscaleWithTheX4Model()
    {
        // A tiny SD x4 upscaler: the golden x4 UNet, random tiny f4 KL autoencoder and OpenCLIP text tower.
        std::ifstream in(test::goldenDir() / "unet_x4_upscaler" / "case.json");
        auto cj = nlohmann::json::parse(in)["config"];
        models::ModelConfig c;
        c.family = models::Family::SD2Upscaler;
        c.unet = models::UNetConfig::fromJson(cj["unet_config"]);
        c.firstStage = models::AutoencoderConfig::fromJson(nlohmann::json::parse(
            R"({"target":"ldm.models.autoencoder.AutoencoderKL","params":{"embed_dim":4,"ddconfig":{"double_z":true,"z_channels":4,"resolution":64,"in_channels":3,"out_ch":3,"ch":32,"ch_mult":[1,2,2],"num_res_blocks":1,"attn_resolutions":[]}}})"));
        c.cond = models::CondStage::OpenClip;
        c.openclip = { 49408, 48, 2, 4, 96, 77, 48 };
        c.parameterization = "v";
        c.conditioningKey = "hybrid-adm";
        c.scaleFactor = 0.08333;
        c.linearStart = 0.0001;
        c.linearEnd = 0.02;
        auto model = models::LatentModel::build(c, at::TensorOptions().dtype(at::kFloat));
        models::randomizeWeights(*model, 3);
        io::SafeTensorsFile unetFile(test::goldenDir() / "unet_x4_upscaler" / "weights.safetensors");
        models::LoadReport rep;
        models::loadModule(*model->unet, unetFile, "model.diffusion_model.", rep);
        QVERIFY(rep.ok());
        auto tok = std::make_shared<text::ClipTokenizer>(
            text::ClipTokenizer::fromFile(test::sharedDir() / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz"));
        Generator g(model, tok);
        StopToken stop;
        GenerationRequest r;
        r.mode = JobMode::Upscale;
        r.prompt = "a sharp photo";
        r.sampler = "DDIM";
        r.steps = 3;
        r.seed = 2;
        r.initImage = gradient(24, 20);
        r.tileSize = 16;
        r.tileOverlap = 4;
        auto out = g.run(r, {}, stop).images.at(0);
        QCOMPARE(out.width, 96);
        QCOMPARE(out.height, 80);
        // Checking the job against the wrong family is refused up front.
        r.mode = JobMode::Inpaint;
        QVERIFY(test::errorOf([&] { g.run(r, {}, stop); }).find("only upscales") != std::string::npos);
    }

    void metadataRoundTrip()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto r = baseRequest();
        r.prompt = "a \"quoted\", colon: prompt — ünïcödé";
        r.sampler = "DPM++ 2M";
        r.schedule = "Karras";
        auto res = g.run(r, {}, stop);
        const fs::path p = test::tempDir() / "meta.png";
        io::writeImage(p, res.images[0], res.metadata[0]);
        auto back = io::readImage(p);
        QVERIFY(back.image == res.images[0]);
        auto parsed = parseInfotext(back.metadata.at("parameters"));
        QCOMPARE(QString::fromStdString(parsed.prompt), QString::fromStdString(r.prompt));
        QCOMPARE(QString::fromStdString(parsed.negativePrompt), QString("blurry"));
        auto req = requestFromInfotext(parsed);
        QCOMPARE(req.steps, 4);
        QCOMPARE(QString::fromStdString(req.sampler), QString("DPM++ 2M"));
        QCOMPARE(QString::fromStdString(req.schedule), QString("Karras"));
        QCOMPARE(req.seed, int64_t(1234));
        QCOMPARE(req.width, 64);
        QCOMPARE(parsed.get("Model hash").size(), size_t(10));
        auto j = nlohmann::json::parse(back.metadata.at("latent_studio"));
        auto again = GenerationRequest::fromJson(j);
        QCOMPARE(QString::fromStdString(again.prompt), QString::fromStdString(r.prompt));
        // Reproduce the image from the JSON alone.
        auto res2 = g.run(again, {}, stop);
        QVERIFY(res2.images[0] == res.images[0]);
        // An A1111 infotext with an old-style sampler name.
        auto a1111
            = parseInfotext("masterpiece, cat\nNegative prompt: ugly, \"bad\"\nSteps: 30, Sampler: DPM++ 2M Karras, "
                            "CFG scale: 6.5, Seed: 99, Size: 512x768, Model hash: abcdef1234, Clip skip: 2");
        auto ar = requestFromInfotext(a1111);
        QCOMPARE(QString::fromStdString(ar.prompt), QString("masterpiece, cat"));
        QCOMPARE(QString::fromStdString(ar.negativePrompt), QString("ugly, \"bad\""));
        QCOMPARE(ar.steps, 30);
        QCOMPARE(ar.cfgScale, 6.5);
        QCOMPARE(QString::fromStdString(ar.schedule), QString("Karras"));
        QCOMPARE(ar.height, 768);
        QCOMPARE(ar.clipSkip, 2);
    }

    void fastDecodeUsesTaesd()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto r = baseRequest();
        r.sampler = "Euler"; // the last step lands on the last step's denoised latent, which the previews decode
        r.fastDecode = true;
        g.setPreviewDecoder({});
        bool named = false;
        for (const auto& p : g.check(r))
            named = named || (p.field == "fast_decode" && p.message.find("TAESD") != std::string::npos);
        QVERIFY2(named, "fast decode without a TAESD decoder is refused by name");
        QVERIFY_THROWS_EXCEPTION(Error, g.run(r, {}, stop));

        g.setPreviewDecoder(test::goldenDir() / "taesd_decode" / "weights.safetensors");
        Image lastPreview;
        auto fast = g.run(
            r, [&](const StepInfo& s) { lastPreview = *s.preview; }, stop);
        QCOMPARE(fast.images[0].width, 64);
        QCOMPARE(fast.images[0].height, 64);
        QCOMPARE(lastPreview.width, 128); // TAESD decodes 8x the latent; this tiny VAE 4x: brought to the VAE's size
        lastPreview = resizeLanczos(lastPreview, 64, 64);
        int worst = 0; // TAESD's decode of the final latent == its preview of the last step's denoised latent
        for (size_t i = 0; i < lastPreview.pixels.size(); ++i)
            worst = std::max(worst, std::abs(int(lastPreview.pixels[i]) - int(fast.images[0].pixels[i])));
        QVERIFY2(worst <= 2, qPrintable(QString::number(worst)));
        r.fastDecode = false;
        auto full = g.run(r, {}, stop);
        QVERIFY(!(full.images[0] == fast.images[0])); // the VAE's picture, not TAESD's
        const std::string text = fast.metadata[0].at("parameters");
        QVERIFY(text.find("VAE Decoder: TAESD") != std::string::npos);
        QVERIFY(full.metadata[0].at("parameters").find("VAE Decoder") == std::string::npos);
        QVERIFY(requestFromInfotext(parseInfotext(text)).fastDecode);
        QVERIFY(GenerationRequest::fromJson(nlohmann::json::parse(fast.metadata[0].at("latent_studio"))).fastDecode);
        r.fastDecode = true;
        r.mode = JobMode::Upscale;
        bool upscale = false;
        for (const auto& p : g.check(r))
            upscale = upscale || p.field == "fast_decode";
        QVERIFY(upscale);
    }

    void badRequestsAreExplained()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto r = baseRequest();
        r.steps = 0;
        r.sampler = "Foo";
        r.cfgScale = std::nan("");
        r.vaeTile = 8;
        auto e = test::errorOf([&] { g.run(r, {}, stop); });
        QVERIFY2(e.find("steps") != std::string::npos && e.find("sampler") != std::string::npos
                && e.find("Euler a") != std::string::npos && e.find("cfg") != std::string::npos
                && e.find("vae_tile") != std::string::npos,
            e.c_str());
        auto m = baseRequest();
        m.mode = JobMode::Inpaint;
        m.initImage = gradient(64, 64);
        m.mask = Image(32, 32, 1, 255);
        QVERIFY(test::errorOf([&] { g.run(m, {}, stop); }).find("same size") != std::string::npos);
        m.mask = Image(64, 64, 1, 0);
        QVERIFY(test::errorOf([&] { g.run(m, {}, stop); }).find("empty") != std::string::npos);
        auto l = baseRequest();
        l.mode = JobMode::Layout;
        l.boxes = { { 100, 100, 10, 10, "x", "" }, { 0, 0, 0, 5, "y", "" } };
        auto el = test::errorOf([&] { g.run(l, {}, stop); });
        QVERIFY2(el.find("boxes[0]") != std::string::npos && el.find("outside") != std::string::npos
                && el.find("degenerate") != std::string::npos,
            el.c_str());
        auto u = baseRequest();
        u.mode = JobMode::Upscale;
        u.initImage = gradient(16, 16);
        u.upscaleFactor = 3;
        QVERIFY(test::errorOf([&] { g.run(u, {}, stop); }).find("2 or 4") != std::string::npos);
        u.upscaleFactor = 2; // a text-to-image model upscales by tiled image-to-image
        QCOMPARE(g.run(u, {}, stop).images.at(0).width, 32);
        // Missing vocabulary: the message names where it looked.
        auto ev = test::errorOf(
            [&] { text::ClipTokenizer::find(vocabularySearchPath("/nonexistent/model.safetensors", "/nope/vocab")); });
        QVERIFY2(ev.find("/nope/vocab") != std::string::npos && ev.find("/nonexistent/tokenizer") != std::string::npos,
            ev.c_str());
    }

    void requestsThatCannotFitAreRefusedWithAnEstimate()
    {
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto small = baseRequest();
        auto big = baseRequest();
        big.width = big.height = 1024;
        big.batch = 4;
        const uint64_t a = g.estimateMemory(small), b = g.estimateMemory(big);
        QVERIFY(a > 0);
        QVERIFY2(b > a * 200 && b < a * 400,
            qPrintable(QStringLiteral("%1 %2").arg(a).arg(b))); // 256x the pixels, 4x the batch; not all terms scale
        g.setMemoryBudget(b / 2);
        bool refused = false;
        for (const auto& p : g.check(big))
            refused = refused || (p.field == "size" && p.message.find("GB of working memory") != std::string::npos);
        QVERIFY(refused);
        for (const auto& p : g.check(small))
            QVERIFY2(p.field != "size", p.message.c_str());
        // Refused before any work: run() throws at once with the estimate, and the generator still works afterwards.
        const auto e = test::errorOf([&] { g.run(big, {}, stop); });
        QVERIFY2(e.find("1024x1024 with batch 4 needs about") != std::string::npos, e.c_str());
        QCOMPARE(g.run(small, {}, stop).images.size(), size_t(1));
        // The default budget is the memory available now.
        QVERIFY(availableMemory() > 0);
        Generator h(lm.model, lm.tokenizer, lm.info);
        auto huge = baseRequest();
        huge.width = huge.height = 8192;
        huge.batch = 64;
        QVERIFY(h.estimateMemory(huge) > availableMemory());
        QVERIFY(test::errorOf([&] { h.run(huge, {}, stop); }).find("working memory") != std::string::npos);
    }

    void outOfMemoryDuringARunIsExplained()
    {
        // A CUDA (or CPU) allocation failure in the middle of the sampling loop, raised here from the step callback the
        // way libtorch raises it: an OutOfMemory error that names the size and what to do, and the engine still works.
        auto& lm = tinySd1();
        Generator g(lm.model, lm.tokenizer, lm.info);
        StopToken stop;
        auto r = baseRequest();
        int calls = 0;
        auto failing = [&](const StepInfo&) {
            if (++calls == 2)
                TORCH_CHECK(false, "CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.10 GiB total capacity)");
        };
        try {
            g.run(r, failing, stop);
            QFAIL("no error");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::OutOfMemory);
            const std::string msg = e.what();
            QVERIFY2(msg.find("out of memory while generating") != std::string::npos
                    && msg.find("tiles") != std::string::npos
                    && msg.find("Tried to allocate 20.00 GiB") != std::string::npos,
                msg.c_str());
        }
        auto failingHost = [&](const StepInfo&) { throw std::bad_alloc(); };
        QCOMPARE(test::errorOf([&] { g.run(r, failingHost, stop); }).find("out of memory while generating")
                != std::string::npos,
            true);
        QCOMPARE(g.run(r, {}, stop).images.size(), size_t(1));
    }
};

QTEST_GUILESS_MAIN(TestGenerator)
#include "tst_generator.moc"

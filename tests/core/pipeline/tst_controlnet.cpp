// ControlNets through the engine on the tiny golden SD1 checkpoint and its tiny ControlNet: every file layout gives
// the same residuals, a ControlNet for another family is refused by name, and in a job a unit steers the picture
// (strength 0 leaves it bit-identical, guess mode and the step window change it), with its infotext entry.
#include "TestUtil.h"
#include "TinySd1.h"

#include "io/SafeTensors.h"
#include "models/controlnet/ControlNetFile.h"
#include "pipeline/Generator.h"
#include "pipeline/ModelLoading.h"
#include "util/Error.h"

#include <QtTest/QtTest>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/grad_mode.h>

using namespace ls;
using namespace ls::pipeline;
namespace fs = std::filesystem;

namespace {

fs::path tinyControl() { return test::goldenDir() / "tiny_controlnet" / "weights.safetensors"; }

// Shapes to find edges in: a light square and a dark disc on a mid grey.
Image shapes(int w, int h)
{
    Image img(w, h, 3, 128);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            uint8_t v = 128;
            if (x > w / 8 && x < w / 2 && y > h / 8 && y < h / 2)
                v = 230;
            const int dx = x - 3 * w / 4, dy = y - 3 * h / 4;
            if (dx * dx + dy * dy < (w / 6) * (w / 6))
                v = 20;
            for (int c = 0; c < 3; ++c)
                img.at(x, y)[c] = v;
        }
    return img;
}

GenerationRequest request()
{
    GenerationRequest r;
    r.prompt = "a red ball and a green box on a table";
    r.negativePrompt = "lowres";
    r.width = 64;
    r.height = 64;
    r.steps = 4;
    r.seed = 11;
    r.sampler = "DDIM";
    return r;
}

ControlUnit canny()
{
    ControlUnit u;
    u.model = tinyControl().string();
    u.image = shapes(64, 64);
    u.preprocessor = "canny";
    return u;
}

GenerationResult run(const GenerationRequest& r)
{
    auto& lm = test::tinySd1();
    static Generator g(lm.model, lm.tokenizer, lm.info);
    StopToken stop;
    return g.run(r, nullptr, stop);
}

bool same(const Image& a, const Image& b) { return a.pixels == b.pixels; }

} // namespace

class TestControlNet : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void everyLayoutGivesTheSameResiduals()
    {
        torch::NoGradGuard ng;
        auto& lm = test::tinySd1();
        const auto& unet = lm.model->config.unet;
        io::SafeTensorsFile prefixed(tinyControl());
        auto a = models::loadControlNet(prefixed, unet, at::TensorOptions().dtype(at::kFloat));
        QCOMPARE(a->inputChannels.size() + 1, size_t(10));
        // Bare keys (sd-webui-controlnet's extracts), fp16, and a "diff" file against the base UNet.
        std::vector<std::pair<std::string, at::Tensor>> bare, half, diff;
        std::map<std::string, at::Tensor> unetWeights;
        for (auto& item : lm.model->unet->named_parameters(true))
            unetWeights[item.key()] = item.value();
        for (const auto& k : prefixed.keys()) {
            const std::string name = k.substr(std::string("control_model.").size());
            auto t = prefixed.load(k);
            bare.emplace_back(name, t);
            half.emplace_back(name, t.to(at::kHalf));
            auto it = unetWeights.find(name);
            diff.emplace_back(k, it != unetWeights.end() ? t - it->second : t);
        }
        diff.emplace_back("difference", at::zeros({ 1 }));
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        io::writeSafeTensors(dir / "bare.safetensors", bare);
        io::writeSafeTensors(dir / "half.safetensors", half);
        io::writeSafeTensors(dir / "diff.safetensors", diff);
        auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
        auto x = at::randn({ 1, 4, 8, 8 }, gen);
        auto hint = at::rand({ 1, 3, 64, 64 }, gen);
        auto ctx = at::randn({ 1, 77, 64 }, gen);
        auto t = at::full({ 1 }, 500, at::TensorOptions().dtype(at::kLong));
        const auto ref = a->residuals(x, hint, t, ctx);
        for (const char* file : { "bare.safetensors", "half.safetensors", "diff.safetensors" }) {
            io::SafeTensorsFile w(dir / file);
            auto net = models::loadControlNet(w, unet, at::TensorOptions().dtype(at::kFloat), &lm.model->unet);
            QCOMPARE(models::inspectControlNet(w).difference, std::string(file) == "diff.safetensors");
            const auto got = net->residuals(x, hint, t, ctx);
            for (size_t i = 0; i < ref.size(); ++i)
                QVERIFY2(at::allclose(got[i], ref[i], 1e-3, 1e-3), file);
        }
    }

    void anotherFamilysControlNetIsNamed()
    {
        models::UNetConfig other = test::tinySd1().model->config.unet;
        other.contextDim = 768; // an SD1.5-width model
        io::SafeTensorsFile w(tinyControl());
        const auto e = test::errorOf([&] { models::loadControlNet(w, other, at::TensorOptions()); });
        QVERIFY2(
            e.find("another model family") != std::string::npos && e.find("(SD 1.x)") != std::string::npos, e.c_str());
        QTemporaryDir tmp;
        const fs::path notControl = fs::path(tmp.path().toStdString()) / "lora.safetensors";
        io::writeSafeTensors(notControl, { { "lora_unet_x.lora_down.weight", at::zeros({ 1, 1 }) } });
        io::SafeTensorsFile nw(notControl);
        QVERIFY(test::errorOf([&] { models::inspectControlNet(nw); }).find("not a ControlNet") != std::string::npos);
        // Opened as a model, a ControlNet file says what it is and how to use it.
        io::SafeTensorsFile cw(tinyControl());
        const auto asModel = test::errorOf([&] { models::detectConfig(cw); });
        QVERIFY2(asModel.find("ControlNet file") != std::string::npos && asModel.find("--control") != std::string::npos,
            asModel.c_str());
    }

    void aUnitSteersTheJob()
    {
        const auto plain = run(request()).images[0];
        auto r = request();
        r.controls = { canny() };
        const auto controlled = run(r);
        QVERIFY(!same(plain, controlled.images[0]));
        const std::string info = controlled.metadata[0].at("parameters");
        QVERIFY2(
            info.find("ControlNet 0: \"Module: canny, Model: weights, Weight: 1") != std::string::npos, info.c_str());
        // Strength 0 adds exact zeros: the same pixels as without the unit.
        r.controls[0].strength = 0.0;
        QVERIFY(same(plain, run(r).images[0]));
        // An empty window (no step's timestep inside it: DDIM's last is t = 1, (999 - 1) / 1000 = 0.998) too.
        r.controls[0].strength = 1.0;
        r.controls[0].start = 0.999;
        QVERIFY(same(plain, run(r).images[0]));
        r.controls[0].start = 0.0;
        // Guess mode (negative branch uncontrolled, decaying scales) is another picture.
        r.controls[0].strength = 1.0;
        r.controls[0].guessMode = true;
        QVERIFY(!same(controlled.images[0], run(r).images[0]));
        // A window that ends before the last steps differs from the whole way; two units add up.
        r.controls[0].guessMode = false;
        r.controls[0].end = 0.5;
        QVERIFY(!same(controlled.images[0], run(r).images[0]));
        r.controls = { canny(), canny() };
        r.controls[1].preprocessor = "invert";
        QVERIFY(!same(controlled.images[0], run(r).images[0]));
        // The request round-trips through its JSON, control image included.
        const auto back = GenerationRequest::fromJson(r.toJson());
        QCOMPARE(back.controls.size(), size_t(2));
        QCOMPARE(back.controls[1].preprocessor, std::string("invert"));
        QVERIFY(same(back.controls[0].image, r.controls[0].image));
    }

    void inpaintHintUsesTheJobsMask()
    {
        auto r = request();
        r.mode = JobMode::Inpaint;
        r.initImage = shapes(64, 64);
        r.mask = test::rectMask(64, 64, 16, 16, 48, 48);
        r.maskBlur = 0;
        ControlUnit u;
        u.model = tinyControl().string();
        u.preprocessor = "inpaint";
        r.controls = { u };
        const auto out = run(r).images[0];
        for (int y = 0; y < 64; ++y) // outside the mask nothing changes, control or not
            for (int x = 0; x < 8; ++x)
                QCOMPARE(out.at(x, y)[0], r.initImage.at(x, y)[0]);
        r.mode = JobMode::Txt2Img;
        bool named = false;
        for (const auto& p : r.validate())
            named = named || (p.field == "control 0" && p.message.find("inpaint job") != std::string::npos);
        QVERIFY(named);
        r.controls[0].preprocessor = "sobel";
        named = false;
        for (const auto& p : r.validate())
            named = named || p.message.find("unknown preprocessor 'sobel'") != std::string::npos;
        QVERIFY(named);
    }

    // Upscaling with a text-to-image model and the tile ControlNet (issue 19 item 5): Lanczos, then image-to-image
    // tile by tile at the model's resolution, seams blended; the ControlNet reads each tile.
    void tileControlNetUpscale()
    {
        GenerationRequest r = request();
        r.mode = JobMode::Upscale;
        r.initImage = shapes(48, 32);
        r.upscaleFactor = 4;
        r.strength = 0.5;
        const auto plain = run(r).images.at(0);
        QCOMPARE(plain.width, 192);
        QCOMPARE(plain.height, 128);
        QVERIFY(same(plain, run(r).images.at(0))); // the seed decides
        ControlUnit u;
        u.model = tinyControl().string();
        u.preprocessor = "tile";
        r.controls = { u };
        const auto res = run(r);
        QVERIFY(!same(res.images.at(0), plain)); // the ControlNet steers the tiles
        QVERIFY(res.metadata.at(0).at("parameters").find("Module: tile") != std::string::npos);
        r.controls[0].strength = 0; // strength 0: exactly the picture without the ControlNet
        QVERIFY(same(run(r).images.at(0), plain));
        // Tiles blend: away from the picture's own edges, no column differs from its neighbours much more than the
        // picture's columns do on average (a hard seam would stand out at a tile border)
        const Image& img = res.images.at(0);
        std::vector<double> colStep(img.width - 1, 0);
        for (int x = 0; x + 1 < img.width; ++x)
            for (int y = 0; y < img.height; ++y)
                for (int c = 0; c < 3; ++c)
                    colStep[x] += std::abs(img.at(x + 1, y)[c] - img.at(x, y)[c]);
        double mean = 0;
        for (double v : colStep)
            mean += v / colStep.size();
        for (size_t x = 8; x + 8 < colStep.size(); ++x)
            QVERIFY2(colStep[x] < mean * 6,
                qPrintable(QString("column %1: %2 vs mean %3").arg(x).arg(colStep[x]).arg(mean)));
        // an upscaler model takes no ControlNet; the layout2img model does not upscale
        QVERIFY(r.validate().empty());
    }
};

QTEST_GUILESS_MAIN(TestControlNet)
#include "tst_controlnet.moc"

// TAESD: the published key layout loads strictly (a decoder is not an encoder, a missing weight is named), and the
// pipeline's per-step previews come from it at full size when a decoder is set (else the latent-size projection);
// a file that cannot be used leaves the projection and says why. Parity with taesd.py: golden cases
// taesd_decode/encode.
#include "TestUtil.h"
#include "TinySd1.h"

#include "io/SafeTensors.h"
#include "models/taesd/Taesd.h"
#include "pipeline/Generator.h"
#include "util/Error.h"

#include <QtTest/QtTest>

using namespace ls;
namespace fs = std::filesystem;
using Kind = models::TinyAutoencoderHalf::Kind;

namespace {

fs::path decoderFile() { return test::goldenDir() / "taesd_decode" / "weights.safetensors"; }
fs::path encoderFile() { return test::goldenDir() / "taesd_encode" / "weights.safetensors"; }

pipeline::GenerationRequest request()
{
    pipeline::GenerationRequest r;
    r.prompt = "a house";
    r.width = r.height = 64;
    r.steps = 2;
    r.seed = 1;
    r.sampler = "Euler";
    return r;
}

// Sizes of the previews a run hands to its step callback.
std::vector<std::pair<int, int>> previewSizes(pipeline::Generator& g, std::vector<std::string>* warnings = nullptr)
{
    std::vector<std::pair<int, int>> sizes;
    StopToken stop;
    auto res = g.run(
        request(),
        [&](const pipeline::StepInfo& s) {
            if (s.preview)
                sizes.emplace_back(s.preview->width, s.preview->height);
        },
        stop);
    if (warnings)
        *warnings = res.warnings;
    return sizes;
}

} // namespace

class TestTaesd : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void loadsStrictly()
    {
        const auto dec = models::loadTinyAutoencoder(decoderFile(), Kind::Decoder);
        QCOMPARE(dec.latentChannels(), int64_t(4));
        const auto out = dec.forward(at::zeros({ 1, 4, 6, 10 }));
        QCOMPARE(out.sizes().vec(), (std::vector<int64_t> { 1, 3, 48, 80 }));
        const auto enc = models::loadTinyAutoencoder(encoderFile(), Kind::Encoder);
        QCOMPARE(enc.forward(at::zeros({ 2, 3, 48, 80 })).sizes().vec(), (std::vector<int64_t> { 2, 4, 6, 10 }));
        // the encoder's file is not a decoder
        auto e = test::errorOf([] { models::loadTinyAutoencoder(encoderFile(), Kind::Decoder); });
        QVERIFY2(e.find("weights.safetensors") != std::string::npos && e.find("TAESD") != std::string::npos, e.c_str());
        // a missing weight is named
        io::SafeTensorsFile st(decoderFile());
        std::vector<std::pair<std::string, at::Tensor>> kept;
        for (const auto& k : st.keys())
            if (k != "8.conv.2.weight")
                kept.emplace_back(k, st.load(k));
        const fs::path broken = test::tempDir() / "taesd_broken.safetensors";
        io::writeSafeTensors(broken, kept);
        e = test::errorOf([&] { models::loadTinyAutoencoder(broken, Kind::Decoder); });
        QVERIFY2(e.find("'8.conv.2.weight' is missing") != std::string::npos, e.c_str());
    }

    void previewsComeFromTheDecoder()
    {
        auto& lm = test::tinySd1();
        pipeline::Generator g(lm.model, lm.tokenizer, lm.info);
        g.setPreviewDecoder({});
        const int latent = 64 / static_cast<int>(lm.model->config.firstStage.downFactor());
        auto sizes = previewSizes(g);
        QVERIFY(!sizes.empty());
        QCOMPARE(sizes.front(), std::make_pair(latent, latent)); // the projection: latent size
        g.setPreviewDecoder(decoderFile());
        sizes = previewSizes(g);
        QCOMPARE(sizes.size(), size_t(2));
        QCOMPARE(sizes.front(), std::make_pair(8 * latent, 8 * latent)); // TAESD: 8x (an SD model's picture size)
        // an encoder given as the decoder: the projection, and a warning naming the file
        g.setPreviewDecoder(encoderFile());
        std::vector<std::string> warnings;
        sizes = previewSizes(g, &warnings);
        QCOMPARE(sizes.front(), std::make_pair(latent, latent));
        QVERIFY(!warnings.empty());
        QVERIFY2(warnings.back().find("TAESD previews off") != std::string::npos, warnings.back().c_str());
    }
};

QTEST_GUILESS_MAIN(TestTaesd)
#include "tst_taesd.moc"

// Stand-alone VAE files: the original layout (as vae-ft-mse-840000 ships), the same under first_stage_model., and
// diffusers' vae/ folder all replace a model's autoencoder weight for weight; a VAE that does not fit is refused
// naming the file and the keys, and the model keeps its own; the metadata names the VAE.
#include "TestUtil.h"
#include "TinySd1.h"

#include "io/SafeTensors.h"
#include "models/VaeFile.h"
#include "pipeline/Generator.h"
#include "pipeline/Infotext.h"
#include "pipeline/ModelLoading.h"
#include "util/Error.h"

#include <QtTest/QtTest>

using namespace ls;
namespace fs = std::filesystem;

namespace {

pipeline::LoadedModel tiny(const fs::path& vae = {}, bool fallback = false)
{
    auto o = test::tinySd1Options();
    o.vae = vae;
    o.vaeFallback = fallback;
    return pipeline::loadModel(test::tinySd1Weights(), o);
}

std::map<std::string, at::Tensor> firstStage(models::LatentModel& m)
{
    std::map<std::string, at::Tensor> s;
    m.forEachTensor([&](const std::string& k, at::Tensor& t) {
        if (k.rfind("first_stage_model.", 0) == 0)
            s[k.substr(18)] = t.clone();
    });
    return s;
}

// The tiny model's own autoencoder as a stand-alone file, keys as given by `name` (original names without prefix).
fs::path writeVae(
    const std::string& file, const std::function<void(std::vector<std::pair<std::string, at::Tensor>>&)>& edit)
{
    auto m = tiny();
    std::vector<std::pair<std::string, at::Tensor>> t;
    for (auto& [k, v] : firstStage(*m.model))
        t.push_back({ k, v });
    edit(t);
    const fs::path p = test::tempDir() / file;
    io::writeSafeTensors(p, t);
    return p;
}

pipeline::GenerationRequest request()
{
    pipeline::GenerationRequest r;
    r.prompt = "a house";
    r.width = r.height = 64;
    r.steps = 2;
    r.seed = 3;
    r.sampler = "DDIM";
    return r;
}

} // namespace

class TestVae : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void everyLayoutReplacesTheAutoencoder()
    {
        auto plain = tiny();
        const auto own = firstStage(*plain.model);
        // diffusers' vae/ folder converted from the same checkpoint: the same weights, mid-block attention reshaped
        auto m = tiny();
        models::loadVae(*m.model, test::goldenDir() / "diffusers_tiny_sd1" / "model" / "vae");
        for (const auto& [k, t] : firstStage(*m.model))
            QVERIFY2(at::equal(t, own.at(k)), k.c_str());

        // The original layout, with one weight changed, and training state beside it (ignored)
        const fs::path orig = writeVae("orig.safetensors", [](auto& t) {
            for (auto& [k, v] : t)
                if (k == "decoder.conv_out.bias")
                    v = v + 0.25;
            t.push_back({ "loss.discriminator.main.0.weight", at::zeros({ 2, 3 }) });
        });
        auto withVae = tiny(orig);
        const auto replaced = firstStage(*withVae.model);
        QVERIFY(at::allclose(replaced.at("decoder.conv_out.bias"), own.at("decoder.conv_out.bias") + 0.25));
        QVERIFY(at::equal(replaced.at("encoder.conv_in.weight"), own.at("encoder.conv_in.weight")));
        QCOMPARE(QString::fromStdString(withVae.info.vae), QString("orig.safetensors"));
        QCOMPARE(withVae.info.vaeHash.size(), size_t(10));

        // first_stage_model.-prefixed keys work the same
        const fs::path prefixed = writeVae("prefixed.safetensors", [](auto& t) {
            for (auto& [k, v] : t) {
                if (k == "decoder.conv_out.bias")
                    v = v + 0.25;
                k = "first_stage_model." + k;
            }
        });
        auto m2 = tiny();
        models::loadVae(*m2.model, prefixed);
        QVERIFY(at::equal(firstStage(*m2.model).at("decoder.conv_out.bias"), replaced.at("decoder.conv_out.bias")));

        // Generation uses it, and the metadata names it as AUTOMATIC1111 does
        StopToken stop;
        pipeline::Generator a(plain.model, plain.tokenizer, plain.info),
            b(withVae.model, withVae.tokenizer, withVae.info);
        const auto ra = a.run(request(), {}, stop), rb = b.run(request(), {}, stop);
        QVERIFY(ra.images[0].pixels != rb.images[0].pixels);
        const auto p = pipeline::parseInfotext(rb.metadata[0].at("parameters"));
        QCOMPARE(QString::fromStdString(p.get("VAE")), QString("orig.safetensors"));
        QCOMPARE(QString::fromStdString(p.get("VAE hash")), QString::fromStdString(withVae.info.vaeHash));
        QVERIFY(pipeline::parseInfotext(ra.metadata[0].at("parameters")).get("VAE").empty());
    }

    void misfitsAreRefusedAndTheModelKeepsItsOwn()
    {
        auto m = tiny();
        const auto own = firstStage(*m.model);
        const fs::path missing = writeVae("missing.safetensors", [](auto& t) {
            std::erase_if(t, [](const auto& kv) { return kv.first == "decoder.mid.block_1.conv1.weight"; });
            for (auto& [k, v] : t)
                if (k == "encoder.conv_in.weight")
                    v = v + 1;
        });
        auto e = test::errorOf([&] { models::loadVae(*m.model, missing); });
        QVERIFY2(e.find("missing.safetensors") != std::string::npos
                && e.find("decoder.mid.block_1.conv1.weight") != std::string::npos,
            e.c_str());
        for (const auto& [k, t] : firstStage(*m.model))
            QVERIFY2(at::equal(t, own.at(k)), k.c_str()); // nothing of the refused file went in

        const fs::path wide = writeVae("wide.safetensors", [](auto& t) {
            for (auto& [k, v] : t)
                if (k == "decoder.conv_in.weight")
                    v = at::zeros({ v.size(0), v.size(1) * 2, v.size(2), v.size(3) });
        });
        e = test::errorOf([&] { models::loadVae(*m.model, wide); });
        QVERIFY2(
            e.find("decoder.conv_in.weight") != std::string::npos && e.find("latent channels") != std::string::npos,
            e.c_str());

        const fs::path unet = test::tempDir() / "unet.safetensors";
        io::writeSafeTensors(unet, { { "model.diffusion_model.out.2.weight", at::zeros({ 4, 32, 3, 3 }) } });
        e = test::errorOf([&] { models::loadVae(*m.model, unet); });
        QVERIFY2(e.find("not a VAE file") != std::string::npos, e.c_str());
        e = test::errorOf([&] { models::loadVae(*m.model, test::tempDir() / "nothing.safetensors"); });
        QVERIFY2(e.find("no such VAE file") != std::string::npos, e.c_str());

        // The app's choice applies to every model it fits: where it does not, the model's own with a warning.
        auto fallback = tiny(missing, true);
        QVERIFY(fallback.info.vae.empty());
        QCOMPARE(fallback.warnings.size(), size_t(1));
        QVERIFY(fallback.warnings[0].find("using the model's own VAE") != std::string::npos);
        QVERIFY(!test::errorOf([&] { tiny(missing, false); }).empty());
    }
};

QTEST_GUILESS_MAIN(TestVae)
#include "tst_vae.moc"

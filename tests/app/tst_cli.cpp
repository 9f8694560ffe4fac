// latent-cli as a user runs it: --settings-from an AUTOMATIC1111 PNG keeps its size and takes every flag given over
// it, lists what it cannot carry out, drops a hires pass for img2img; sampler names as A1111 writes them; --help shows
// defaults; LoRA module counts on stderr and in --json; the bundled model names the prompt words it does not know.
#include "TestUtil.h"

#include "io/ImageFile.h"
#include "io/SafeTensors.h"
#include "pipeline/Infotext.h"

#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

using namespace ls;
namespace fs = std::filesystem;

namespace {

struct Run {
    int code = -1;
    QString out, err;
};

Run cli(const QStringList& args)
{
    QProcess p;
    p.setProgram(QStringLiteral(LS_CLI));
    p.setArguments(args);
    p.start();
    p.waitForFinished(300000);
    return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
        QString::fromUtf8(p.readAllStandardError()) };
}

QString path(const fs::path& p) { return QString::fromStdString(p.string()); }

pipeline::ParsedInfotext infotextOf(const fs::path& png)
{
    return pipeline::parseInfotext(io::readImage(png).metadata.at("parameters"));
}

QString s(const std::string& v) { return QString::fromStdString(v); }

} // namespace

class TestCli : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void settingsFromAnA1111Png()
    {
        const fs::path from = test::tempDir() / "a1111.png";
        io::writeImage(from, Image(64, 96, 3, 128),
            { { "parameters",
                "a large red circle at the top left\r\nNegative prompt: blue\r\nSteps: 7, Sampler: DPM++ 2M Karras, "
                "CFG scale: 4.5, Seed: 11, Size: 64x96, Model hash: 0123456789, Model: other, Variation seed: 5, "
                "Variation seed strength: 0.2, Tiling, Version: v1.10.1" } });
        const fs::path out = test::tempDir() / "reused.png";
        auto r = cli(
            { "generate", "--settings-from", path(from), "-o", path(out), "--no-hash", "--seed", "12", "--cfg", "3" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto img = io::readImage(out);
        QCOMPARE(img.image.width, 64); // the PNG's size, not the model's
        QCOMPARE(img.image.height, 96);
        const auto p = infotextOf(out);
        QCOMPARE(s(p.prompt), QString("a large red circle at the top left"));
        QCOMPARE(s(p.negativePrompt), QString("blue"));
        QCOMPARE(s(p.get("Steps")), QString("7"));
        QCOMPARE(s(p.get("Sampler")), QString("DPM++ 2M"));
        QCOMPARE(s(p.get("Schedule type")), QString("Karras"));
        QCOMPARE(s(p.get("Seed")), QString("12")); // flags win
        QCOMPARE(s(p.get("CFG scale")), QString("3"));
        // one warning lists what was not carried out
        QVERIFY2(r.err.count("settings not used") == 1 && r.err.contains("Variation seed: 5")
                && r.err.contains("Variation seed strength: 0.2"),
            qPrintable(r.err));
        QVERIFY2(!r.err.contains("Version") && !r.err.contains("Tiling"), qPrintable(r.err));

        // Any flag overrides, not only a fixed list: the batch size, the clip skip, eta, the caption layout
        const fs::path out2 = test::tempDir() / "flags.png";
        r = cli({ "generate", "--settings-from", path(from), "-o", path(out2), "--no-hash", "--sampler", "Euler a",
            "--eta-ancestral", "0.5", "-W", "96", "--json" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto p2 = infotextOf(out2);
        QCOMPARE(s(p2.get("Sampler")), QString("Euler a"));
        QCOMPARE(s(p2.get("Eta")), QString("0.5"));
        QCOMPARE(s(p2.get("Size")), QString("96x96"));
        QCOMPARE(s(p2.get("Seed")), QString("11"));
    }

    void hiresPngReusedForImageToImage()
    {
        const fs::path first = test::tempDir() / "hires-first.png";
        auto r
            = cli({ "generate", "-p", "a small blue square", "-o", path(first), "--no-hash", "--steps", "4", "--seed",
                "3", "--hires-width", "96", "--hires-steps", "2", "--hires-strength", "0.4", "--hires-cfg", "2.5" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(io::readImage(first).image.width, 96);
        QCOMPARE(io::readImage(first).image.height, 96);
        const auto hp = infotextOf(first);
        QCOMPARE(s(hp.get("Hires resize")), QString("96x0"));
        QCOMPARE(s(hp.get("Hires CFG Scale")), QString("2.5"));
        const fs::path out = test::tempDir() / "hires-i2i.png";
        r = cli({ "img2img", "--settings-from", path(first), "-i", path(first), "-o", path(out), "--no-hash",
            "--strength", "0.3" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains("the hires pass"), qPrintable(r.err));
        QCOMPARE(io::readImage(out).image.width, 96);
        QVERIFY(!infotextOf(out).has("Hires resize"));
    }

    void samplerNamesHelpAndUnknownWords()
    {
        const fs::path out = test::tempDir() / "names.png";
        auto r = cli({ "generate", "-p", "a photo of a cat", "-o", path(out), "--no-hash", "--steps", "3", "--sampler",
            "DPM++ 2M SDE Karras" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto p = infotextOf(out);
        QCOMPARE(s(p.get("Sampler")), QString("DPM++ 2M SDE"));
        QCOMPARE(s(p.get("Schedule type")), QString("Karras"));
        QVERIFY2(r.err.contains("does not know the words 'photo', 'of', 'cat'"), qPrintable(r.err));
        r = cli(
            { "generate", "-p", "x", "-o", path(out), "--sampler", "DPM++ 2M Karras", "--schedule", "Exponential" });
        QVERIFY(r.code != 0);
        QVERIFY2(r.err.contains("names the schedule Karras but --schedule says Exponential"), qPrintable(r.err));
        r = cli({ "generate", "--help" });
        QCOMPARE(r.code, 0);
        const QString help = r.out + r.err;
        for (const char* line :
            { "--steps INT=20", "--cfg FLOAT=7", "--sampler TEXT=Euler a", "-W,--width INT=the model's size" })
            QVERIFY2(help.contains(QString::fromUtf8(line)), line);
    }

    void loraModuleCounts()
    {
        // A LoRA for the tiny SD1 checkpoint of ../shared/golden: one UNet and one text-encoder module
        const fs::path weights = test::goldenDir() / "tiny_sd1" / "weights.safetensors";
        io::SafeTensorsFile st(weights);
        std::string unetKey;
        for (const auto& k : st.keys())
            if (k.rfind("model.diffusion_model.", 0) == 0 && k.ends_with("attn1.to_q.weight")) {
                unetKey = k;
                break;
            }
        QVERIFY(!unetKey.empty());
        const std::string teKey = "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight";
        QVERIFY(st.contains(teKey));
        auto kohya = [](std::string k, const std::string& prefix, const std::string& to) {
            k = to + k.substr(prefix.size(), k.size() - prefix.size() - 7);
            std::replace(k.begin(), k.end(), '.', '_');
            return k;
        };
        const auto uShape = st.info(unetKey).shape, tShape = st.info(teKey).shape;
        const std::string u = kohya(unetKey, "model.diffusion_model.", "lora_unet_");
        const std::string t = kohya(teKey, "cond_stage_model.transformer.", "lora_te_");
        const fs::path dir = test::tempDir() / "cli-loras";
        fs::create_directories(dir);
        io::writeSafeTensors(dir / "two.safetensors",
            { { u + ".lora_up.weight", at::full({ uShape[0], 2 }, 0.01f) },
                { u + ".lora_down.weight", at::full({ 2, uShape[1] }, 0.01f) },
                { t + ".lora_up.weight", at::full({ tShape[0], 2 }, 0.01f) },
                { t + ".lora_down.weight", at::full({ 2, tShape[1] }, 0.01f) } });
        const fs::path out = test::tempDir() / "lora.png";
        auto r = cli(
            { "generate", "--model", path(weights), "--config", path(test::goldenDir() / "tiny_sd1" / "case.json"),
                "--vocab", path(test::sharedDir() / "data" / "clip"), "-p", "a house", "-W", "64", "-H", "64",
                "--steps", "2", "--lora", "two:0.5", "--lora-dir", path(dir), "-o", path(out), "--no-hash", "--json" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains("lora two: 1 UNet and 1 text-encoder modules applied"), qPrintable(r.err));
        const auto j = nlohmann::json::parse(r.out.toStdString());
        QCOMPARE(j["loras"].size(), size_t(1));
        QCOMPARE(j["loras"][0]["unet_modules"].get<int>(), 1);
        QCOMPARE(j["loras"][0]["text_modules"].get<int>(), 1);
        QCOMPARE(s(infotextOf(out).prompt), QString("a house <lora:two:0.5>"));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"

// The AUTOMATIC1111 "parameters" text both ways, without a model: parsing as A1111's parse_generation_parameters does
// (line ends, indentation, bare words, quoting, repeated keys), the request it turns into (hires resize, sampler and
// prompt of the hires pass, inpaint area, eta), what cannot be carried out listed, and what the writer emits
// (--lora as a prompt tag, Masked area padding, hires fields). Sampler names as A1111 and its API spell them.
#include "pipeline/GenerationRequest.h"
#include "pipeline/Infotext.h"
#include "pipeline/SamplerNames.h"
#include "util/Error.h"

#include <QtTest/QtTest>

using namespace ls;
using namespace ls::pipeline;

namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

bool listed(const std::vector<std::string>& v, const std::string& prefix)
{
    for (const auto& s : v)
        if (s.rfind(prefix, 0) == 0)
            return true;
    return false;
}

} // namespace

class TestInfotext : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void crlfAndIndentedNegativePrompt()
    {
        const auto p = parseInfotext("a cat,\r\n  on a mat\r\n   Negative prompt: ugly,\r\n blurry\r\nSteps: 20, "
                                     "Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 64x96\r\n");
        QCOMPARE(q(p.prompt), QString("a cat,\non a mat"));
        QCOMPARE(q(p.negativePrompt), QString("ugly,\nblurry"));
        QCOMPARE(q(p.get("Sampler")), QString("Euler a"));
        QCOMPARE(q(p.get("Size")), QString("64x96"));
        // no parameter line: every line is prompt
        const auto onlyPrompt = parseInfotext("just a prompt\nSteps: 20");
        QCOMPARE(q(onlyPrompt.prompt), QString("just a prompt\nSteps: 20"));
        QVERIFY(onlyPrompt.params.empty());
    }

    void bareKeysQuotesAndRepeats()
    {
        // "Tiling" has no value: A1111's pattern skips it, and the key after it stays "Sampler" (not "Tiling,
        // Sampler").
        const auto p
            = parseInfotext("x\nSteps: 20, Tiling, Sampler: DPM++ 2M, CFG scale: 7, "
                            "Lora hashes: \"a: 0123456789ab, b: ba9876543210\", Hires prompt: \"say \\\"hi\\\", ok\", "
                            "Broken: \"unterminated, Seed: 3, Seed: 4");
        QCOMPARE(q(p.get("Sampler")), QString("DPM++ 2M"));
        QVERIFY(!p.has("Tiling") && !p.has("Tiling, Sampler"));
        QCOMPARE(q(p.get("Lora hashes")), QString("a: 0123456789ab, b: ba9876543210"));
        QCOMPARE(q(p.get("Hires prompt")), QString("say \"hi\", ok"));
        QCOMPARE(q(p.get("Broken")), QString("\"unterminated")); // no closing quote: the plain value up to the comma
        QCOMPARE(q(p.get("Seed")), QString("4")); // a later value wins, as in A1111's dict
        // a key needs two characters and starts with a word character
        const auto k = parseInfotext("y\nA: 1, -Bx: 2, Steps: 3, CFG scale: 4, Seed: 5");
        QVERIFY(!k.has("A") && !k.has("-Bx") && k.has("Bx"));
    }

    void requestFromA1111Texts()
    {
        std::vector<std::string> left;
        auto r = requestFromInfotext(
            parseInfotext(
                "castle\nNegative prompt: fog\nSteps: 12, Sampler: DPM++ 2M SDE Karras, CFG scale: 5.5, "
                "Seed: 4294967295, Size: 64x96, Denoising strength: 0.45, Hires resize: 128x0, "
                "Hires steps: 6, Hires upscaler: Latent, Hires sampler: Euler, Hires prompt: \"castle, detailed\", "
                "Hires negative prompt: mist, Hires CFG Scale: 3, Eta: 0.6, Variation seed: 7, "
                "Variation seed strength: 0.3, Face restoration: CodeFormer, Version: v1.10.1"),
            {}, &left);
        QCOMPARE(r.width, 64);
        QCOMPARE(r.height, 96);
        QCOMPARE(q(r.sampler), QString("DPM++ 2M SDE"));
        QCOMPARE(q(r.schedule), QString("Karras"));
        QCOMPARE(r.seed, int64_t(4294967295));
        QVERIFY(r.hiresEnabled());
        QCOMPARE(r.hiresWidth, 128);
        QCOMPARE(r.hiresHeight, 0);
        QCOMPARE(r.hiresSize(), std::make_pair(128, 192));
        QCOMPARE(r.hiresStrength, 0.45);
        QCOMPARE(r.hiresSteps, 6);
        QCOMPARE(q(r.hiresSampler), QString("Euler"));
        QCOMPARE(q(r.hiresPrompt), QString("castle, detailed"));
        QCOMPARE(q(r.hiresNegativePrompt), QString("mist"));
        QCOMPARE(r.hiresCfgScale, 3.0);
        QCOMPARE(r.etaAncestral, 0.6);
        QVERIFY(listed(left, "Hires upscaler: Latent"));
        QVERIFY(listed(left, "Variation seed: 7"));
        QVERIFY(listed(left, "Variation seed strength: 0.3"));
        QVERIFY(listed(left, "Face restoration: CodeFormer"));
        QVERIFY(!listed(left, "Version") && !listed(left, "Steps") && !listed(left, "Eta"));
        QVERIFY(r.validate().empty());

        // Inpainting settings; "Eta DDIM" is DDIM's eta
        auto in = requestFromInfotext(
            parseInfotext("p\nSteps: 9, Sampler: DDIM, CFG scale: 7, Seed: 1, Size: 64x64, Denoising strength: 0.6, "
                          "Mask blur: 2, Inpaint area: Only masked, Masked area padding: 48, Eta DDIM: 0.25, "
                          "Masked content: original"),
            [] {
                GenerationRequest b;
                b.mode = JobMode::Inpaint;
                return b;
            }(),
            &left);
        QVERIFY(in.onlyMasked);
        QCOMPARE(in.onlyMaskedPadding, 48);
        QCOMPARE(in.maskBlur, 2);
        QCOMPARE(in.eta, 0.25);
        QCOMPARE(in.strength, 0.6);
        QVERIFY(left.empty());

        // A hires picture reused for image-to-image: the pass is dropped and said so, the request is valid.
        GenerationRequest base;
        base.mode = JobMode::Img2Img;
        auto i2i = requestFromInfotext(
            parseInfotext("p\nSteps: 9, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 64x64, Denoising strength: 0.5, "
                          "Hires upscale: 2, Hires upscaler: Lanczos"),
            base, &left);
        QVERIFY(!i2i.hiresEnabled());
        QVERIFY(listed(left, "the hires pass"));
        QCOMPARE(i2i.strength, 0.5);

        // Bad values name the key
        const std::string e = [] {
            try {
                requestFromInfotext(parseInfotext("p\nSteps: many, Sampler: Euler, CFG scale: 7"));
            } catch (const Error& err) {
                return std::string(err.what());
            }
            return std::string();
        }();
        QVERIFY2(e.find("Steps") != std::string::npos, e.c_str());
    }

    void samplerNamesAsA1111WritesThem()
    {
        std::string schedule = "Automatic";
        QCOMPARE(q(canonicalSampler("DPM++ 2M Karras", &schedule)), QString("DPM++ 2M"));
        QCOMPARE(q(schedule), QString("Karras"));
        schedule = "Automatic";
        QCOMPARE(q(canonicalSampler("DPM++ 2M SDE Exponential", &schedule)), QString("DPM++ 2M SDE"));
        QCOMPARE(q(schedule), QString("Exponential"));
        schedule = "Automatic";
        QCOMPARE(q(canonicalSampler("DPM++ 2M SDE", &schedule)), QString("DPM++ 2M SDE"));
        QCOMPARE(q(schedule), QString("Automatic"));
        QCOMPARE(q(canonicalSampler("k_euler_a")), QString("Euler a"));
        QCOMPARE(q(canonicalSampler("euler A")), QString("Euler a"));
        QCOMPARE(q(canonicalSampler("Euler sgm_uniform", &schedule)), QString("Euler"));
        QCOMPARE(q(schedule), QString("SGM Uniform"));
        QCOMPARE(q(canonicalSampler("DPM++ 3M SDE")), QString("DPM++ 3M SDE")); // unknown: left for validation to name
        QCOMPARE(q(canonicalSchedule("karras")), QString("Karras"));
        QCOMPARE(q(canonicalSchedule("SGMUniform")), QString("SGM Uniform"));
    }

    void writtenAsA1111WritesIt()
    {
        GenerationRequest r;
        r.prompt = "a house";
        r.negativePrompt = "fog";
        r.loras = { { "ink", 0.8, 0.8 }, { "styles/wash", 1.0, 0.5 } };
        r.sampler = "Euler a";
        r.etaAncestral = 0.5;
        r.hiresHeight = 160;
        r.hiresSampler = "DPM++ 2M";
        r.hiresPrompt = "a detailed house";
        r.hiresCfgScale = 4;
        const auto text = buildInfotext(r, 3, "model", "0123456789", 64, 64);
        const auto p = parseInfotext(text);
        QCOMPARE(q(p.prompt), QString("a house <lora:ink:0.8> <lora:styles/wash:1:0.5>"));
        QCOMPARE(q(p.get("Eta")), QString("0.5"));
        QCOMPARE(q(p.get("Hires resize")), QString("0x160"));
        QVERIFY(!p.has("Hires upscale"));
        QCOMPARE(q(p.get("Hires sampler")), QString("DPM++ 2M"));
        QCOMPARE(q(p.get("Hires prompt")), QString("a detailed house"));
        QCOMPARE(q(p.get("Hires CFG Scale")), QString("4"));
        QVERIFY(!p.has("Hires negative prompt"));
        // read back: the same request (LoRAs now as tags in the prompt)
        std::vector<std::string> left;
        const auto back = requestFromInfotext(p, {}, &left);
        QVERIFY(left.empty());
        QCOMPARE(back.hiresSize(), r.hiresSize());
        QCOMPARE(q(back.hiresSampler), QString("DPM++ 2M"));
        QCOMPARE(back.etaAncestral, 0.5);

        GenerationRequest in;
        in.mode = JobMode::Inpaint;
        in.onlyMasked = true;
        in.onlyMaskedPadding = 40;
        const auto ip = parseInfotext(buildInfotext(in, 1, "m", "", 64, 64));
        QCOMPARE(q(ip.get("Inpaint area")), QString("Only masked"));
        QCOMPARE(q(ip.get("Masked area padding")), QString("40"));
    }

    void hiresSizeFollowsA1111()
    {
        GenerationRequest r;
        r.width = 64;
        r.height = 96;
        QCOMPARE(r.hiresSize(), std::make_pair(64, 96)); // off
        r.hiresScale = 1.5;
        QCOMPARE(r.hiresSize(), std::make_pair(96, 144));
        r.hiresWidth = 100; // width alone: the height keeps the ratio (integer division)
        QCOMPARE(r.hiresSize(), std::make_pair(100, 150));
        r.hiresHeight = 64; // both: that size (covered, then the middle cut)
        QCOMPARE(r.hiresSize(), std::make_pair(100, 64));
        r.mode = JobMode::Img2Img;
        QVERIFY(!r.validate().empty());
    }
};

QTEST_GUILESS_MAIN(TestInfotext)
#include "tst_infotext.moc"

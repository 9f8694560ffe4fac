// A request sent to a remote server (pipeline/ApiBody.h) reads back as the same request on our server
// (server/ApiRequest.h): the two halves of the AUTOMATIC1111 API agree field by field.
#include "pipeline/ApiBody.h"
#include "server/ApiRequest.h"

#include "TestUtil.h"
#include "util/Error.h"

#include <QTest>

using namespace ls;
using pipeline::GenerationRequest;
using pipeline::JobMode;

class TestApiBody : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void txt2imgRoundTrip()
    {
        GenerationRequest r;
        r.prompt = "a cat";
        r.negativePrompt = "dog";
        r.loras = { { "ink", 0.5, 0.5 } };
        r.seed = 77;
        r.sampler = "DPM++ 2M";
        r.schedule = "Karras";
        r.steps = 23;
        r.cfgScale = 6.5;
        r.width = 320;
        r.height = 192;
        r.batch = 3;
        r.clipSkip = 2;
        r.hiresScale = 1.5;
        r.hiresSteps = 7;
        r.hiresStrength = 0.4;
        r.hiresPrompt = "a big cat";
        const auto call = pipeline::toApiCall(r, "model.safetensors [abc]");
        QCOMPARE(QString::fromStdString(call.path), QStringLiteral("/sdapi/v1/txt2img"));
        const auto job = server::parseTxt2Img(call.body, 4096LL * 4096);
        const auto& b = job.request;
        QCOMPARE(QString::fromStdString(b.prompt), QStringLiteral("a cat <lora:ink:0.5>"));
        QCOMPARE(b.negativePrompt, r.negativePrompt);
        QCOMPARE(b.seed, r.seed);
        QCOMPARE(b.sampler, r.sampler);
        QCOMPARE(b.schedule, r.schedule);
        QCOMPARE(b.steps, r.steps);
        QCOMPARE(b.cfgScale, r.cfgScale);
        QCOMPARE(b.width, r.width);
        QCOMPARE(b.height, r.height);
        QCOMPARE(b.batch, r.batch);
        QCOMPARE(b.clipSkip, r.clipSkip);
        QCOMPARE(b.hiresScale, r.hiresScale);
        QCOMPARE(b.hiresSteps, r.hiresSteps);
        QCOMPARE(b.hiresStrength, r.hiresStrength);
        QCOMPARE(b.hiresPrompt, r.hiresPrompt);
        QCOMPARE(QString::fromStdString(job.checkpoint), QStringLiteral("model.safetensors [abc]"));
    }

    void inpaintRoundTrip()
    {
        GenerationRequest r;
        r.mode = JobMode::Inpaint;
        r.prompt = "p";
        r.initImage = test::gradient(48, 32);
        r.mask = test::rectMask(48, 32, 0, 0, 20, 32);
        r.strength = 0.6;
        r.maskBlur = 3;
        r.onlyMasked = true;
        r.onlyMaskedPadding = 12;
        r.seed = 5;
        r.softInpainting = true;
        for (const std::string content : { "original", "fill", "latent noise", "latent nothing" }) {
            r.maskedContent = content;
            const auto job = server::parseImg2Img(pipeline::toApiCall(r, {}).body, 4096LL * 4096);
            const auto& b = job.request;
            QCOMPARE(b.mode, JobMode::Inpaint);
            QCOMPARE(b.maskedContent, content);
            QCOMPARE(b.softInpainting, true);
            QCOMPARE(b.initImage, r.initImage); // PNG both ways, same size: the same pixels
            QCOMPARE(b.mask, r.mask);
            QCOMPARE(b.strength, r.strength);
            QCOMPARE(b.maskBlur, r.maskBlur);
            QCOMPARE(b.onlyMasked, true);
            QCOMPARE(b.onlyMaskedPadding, 12);
            QCOMPARE(b.width, 48);
            QCOMPARE(b.height, 32);
        }
    }

    void whatCannotBeSent()
    {
        GenerationRequest r;
        r.mode = JobMode::Upscale;
        QVERIFY_THROWS_EXCEPTION(ls::Error, pipeline::toApiCall(r, {}));
        r.mode = JobMode::Inpaint;
        r.extendLeft = 64;
        QVERIFY_THROWS_EXCEPTION(ls::Error, pipeline::toApiCall(r, {}));
        r = {};
        r.extendLeft = 64; // outpainting fields matter to inpainting only
        QCOMPARE(QString::fromStdString(pipeline::toApiCall(r, {}).path), QStringLiteral("/sdapi/v1/txt2img"));
    }
};

QTEST_MAIN(TestApiBody)
#include "tst_api_body.moc"

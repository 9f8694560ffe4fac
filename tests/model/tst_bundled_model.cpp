// The bundled default model, scored by its own evaluator on reduced held-out sets (32 samples per task). Thresholds
// sit a little below the full evaluation in resources/models/MODEL_CARD.md, so a regression in the engine, the
// samplers or the weights turns this red. Placement (colour and grid cell), layout boxes and upscaling (above bicubic
// + 2 dB, the bar) are guarded near their measured values; shapes (soft-cornered squares) keep the one-object
// text-to-image and inpainting numbers under the bars for now (see the model card).
#include "train/Evaluator.h"
#include "util/Threads.h"

#include <ATen/Parallel.h>
#include <QtTest/QtTest>

using namespace ls;

namespace {
nlohmann::json evaluate(const std::string& task)
{
    ls::configureThreads(2);
    train::EvalOptions o;
    o.task = task;
    o.n = 32;
    o.seed = 7;
    return train::runEvaluation(o)["metrics"];
}
} // namespace

class TestBundledModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void textToImage()
    {
        auto m = evaluate("txt2img");
        qInfo("txt2img %s", m.dump().c_str());
        QVERIFY(m["one_object_accuracy"].get<double>() >= LS_MIN_ONE_OBJECT);
        QVERIFY(m["two_object_accuracy"].get<double>() >= LS_MIN_TWO_OBJECT);
        QVERIFY(m["color_accuracy"].get<double>() >= LS_MIN_COLOR);
        QVERIFY(m["color_shape_accuracy"].get<double>() >= LS_MIN_COLOR_SHAPE);
        QVERIFY(m["color_position_accuracy"].get<double>() >= LS_MIN_COLOR_POSITION);
    }
    // The training split: the first scenes the model was trained on, one to three objects each, scored per object.
    void trainSplit()
    {
        ls::configureThreads(2);
        train::EvalOptions o;
        o.task = "txt2img";
        o.split = "train";
        o.n = 8;
        auto j = train::runEvaluation(o);
        qInfo("train split %s", j.dump().c_str());
        QCOMPARE(j["split"].get<std::string>(), std::string("train"));
        QVERIFY(j["metrics"]["objects"].get<int>() >= 8 && j["metrics"]["objects"].get<int>() <= 24);
        QVERIFY(j["metrics"]["color_accuracy"].get<double>() >= 0.7);
        o.task = "layout";
        try {
            train::runEvaluation(o);
            QFAIL("--split train accepted for layout");
        } catch (const std::exception& e) {
            QVERIFY(QString(e.what()).contains("split"));
        }
    }
    void autoencoderRoundTrip()
    {
        auto m = evaluate("autoencoder");
        qInfo("autoencoder %s", m.dump().c_str());
        QVERIFY(m["object_accuracy"].get<double>() >= LS_MIN_AE_OBJECTS);
        QVERIFY(m["psnr_db"].get<double>() >= LS_MIN_AE_PSNR);
    }
    void layout()
    {
        auto m = evaluate("layout");
        qInfo("layout %s", m.dump().c_str());
        QVERIFY(m["box_accuracy"].get<double>() >= LS_MIN_BOX);
    }
    void inpaint()
    {
        auto m = evaluate("inpaint");
        qInfo("inpaint %s", m.dump().c_str());
        QVERIFY(m["inpaint_accuracy"].get<double>() >= LS_MIN_INPAINT);
        QCOMPARE(m["outside_unchanged"].get<double>(), 1.0);
    }
    void upscale()
    {
        auto m = evaluate("upscale");
        qInfo("upscale %s", m.dump().c_str());
        QVERIFY(m["psnr_db"].get<double>() >= m["bicubic_psnr_db"].get<double>() + LS_MIN_PSNR_GAIN);
        QVERIFY(m["bicubic_psnr_db"].get<double>() > 20.0); // the evaluator's own reference path
    }
};

QTEST_GUILESS_MAIN(TestBundledModel)
#include "tst_bundled_model.moc"

// Live mode driven offscreen on the bundled model, as a user drives it: paint strokes, a box drawn and moved, the
// prompt edited, each giving a newer picture; a burst of edits shows only the last one's picture (stale pictures never
// appear, the running job is cancelled); Keep puts the picture on the canvas (undoable) and in the history; the event
// loop never stalls over 50 ms. Outpainting from the canvas: Expand canvas, then Generate fills the new area.
#include "Canvas.h"
#include "GenerationController.h"
#include "LiveMode.h"
#include "MainWindow.h"
#include "PromptPanel.h"
#include "StallProbe.h"
#include "UiTestUtil.h"

#include <QListWidget>
#include <QTemporaryDir>
#include <QtTest/QtTest>

using namespace ls::ui;

namespace {
StartupOptions options(const QString& root) { return test::windowOptions(root); }

void waitForModel(MainWindow& w)
{
    QSignalSpy loaded(w.controller(), &GenerationController::modelLoaded);
    QVERIFY(loaded.wait(60000));
}

void stroke(Canvas* c, QPointF from, QPointF to) { test::drag(*c, from, to); }

bool same(const QImage& a, const QImage& b)
{
    return a.convertToFormat(QImage::Format_RGB888) == b.convertToFormat(QImage::Format_RGB888);
}
} // namespace

class TestLive : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { qRegisterMetaType<QList<QImage>>("QList<QImage>"); }

    void pictureFollowsTheEdits()
    {
        QTemporaryDir tmp;
        MainWindow w(options(tmp.path()));
        w.show();
        waitForModel(w);
        StallProbe probe;
        probe.start();
        LiveMode* live = w.live();
        QSignalSpy shown(live, &LiveMode::pictureShown);
        QSignalSpy cancelled(w.controller(), &GenerationController::cancelled);
        w.promptPanel()->setPrompt(QStringLiteral("a large red circle at the top left"));
        live->setSeed(11);
        live->setStrength(0.6);
        live->setOn(true);
        QCOMPARE(w.canvas()->tool(), Canvas::Tool::Paint); // live is about painting
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 30000);
        const QImage first = live->picture();
        QCOMPARE(first.size(), w.canvas()->image().size());
        QCOMPARE(w.history()->count(), 0); // live pictures stay out of the history until kept

        // A stroke: a newer picture, made from the painted canvas.
        Canvas* c = w.canvas();
        c->setBrushColor(QColor(40, 70, 210));
        c->setBrushSize(14);
        const int afterFirst = live->pictureJob();
        stroke(c, QPointF(34, 48), QPointF(56, 50));
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 2, 30000);
        QVERIFY(live->pictureJob() > afterFirst);
        QVERIFY(!same(live->picture(), first));
        QVERIFY(live->lastLatency() > 0);

        // A burst of strokes, each landing while the previous one's job runs: only the last edit's picture appears.
        const int before = shown.count(), cancelledBefore = cancelled.count();
        for (int i = 0; i < 4; ++i) {
            stroke(c, QPointF(6, 8 + 6 * i), QPointF(20, 8 + 6 * i));
            QTest::qWait(80);
        }
        const int lastEditJobs = live->pictureJob();
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), before + 1, 30000);
        QTest::qWait(1000); // nothing stale arrives later
        QCOMPARE(shown.count(), before + 1);
        QVERIFY(live->pictureJob() > lastEditJobs);
        QVERIFY2(cancelled.count() - cancelledBefore >= 2,
            qPrintable(QStringLiteral("%1 cancelled").arg(cancelled.count() - cancelledBefore)));
        const int burstJob = live->pictureJob();
        for (const auto& args : shown.mid(before)) // the shown picture is the newest job's
            QCOMPARE(args.at(0).toInt(), burstJob);

        // A box drawn, then moved: layout-to-image (Auto: boxes mean layout) follows it.
        c->setBoxes({ { QRectF(4, 4, 24, 24), QStringLiteral("red circle") } });
        const int boxJob = live->pictureJob();
        QTRY_VERIFY_WITH_TIMEOUT(live->pictureJob() > boxJob, 30000);
        const QImage boxLeft = live->picture();
        c->setBoxes({ { QRectF(36, 36, 24, 24), QStringLiteral("red circle") } }, true, QStringLiteral("Move box"));
        const int movedJob = live->pictureJob();
        QTRY_VERIFY_WITH_TIMEOUT(live->pictureJob() > movedJob, 30000);
        QVERIFY(!same(live->picture(), boxLeft));

        // The prompt edited: a newer picture after the typing pause.
        const int promptJob = live->pictureJob();
        w.promptPanel()->setPrompt(QStringLiteral("a small blue square at the bottom right"));
        QTRY_VERIFY_WITH_TIMEOUT(live->pictureJob() > promptJob, 30000);

        // Keep: onto the canvas (one undo away) and into the history.
        const QImage canvasBefore = c->image();
        live->keep();
        QVERIFY(same(c->image(), live->picture()));
        QCOMPARE(w.history()->count(), 1);
        c->undoStack()->undo();
        QVERIFY(same(c->image(), canvasBefore));

        // Off: nothing keeps running.
        live->setOn(false);
        QTRY_VERIFY_WITH_TIMEOUT(!w.controller()->busy(), 10000);
        const int offCount = shown.count();
        stroke(c, QPointF(10, 50), QPointF(30, 50));
        QTest::qWait(800);
        QCOMPARE(shown.count(), offCount);
        probe.stop();
        qInfo("live: %d pictures, last latency %.3f s, longest event-loop stall %.1f ms", int(shown.count()),
            live->lastLatency(), probe.maxStallMs());
        QVERIFY2(probe.maxStallMs() < 50, qPrintable(QString::number(probe.maxStallMs())));
    }

    void fewStepSettingsOnAnSdModelWithFastDecode()
    {
        // Any model with few-step settings (LCM sampler, 4 steps, CFG 1) and TAESD as the final decoder.
        const QString golden = QStringLiteral(LS_SHARED_DIR "/golden");
        QTemporaryDir tmp;
        StartupOptions o = options(tmp.path());
        o.model = golden + QStringLiteral("/tiny_sd1/weights.safetensors");
        o.config = golden + QStringLiteral("/tiny_sd1/case.json");
        o.vocabulary = QStringLiteral(LS_SHARED_DIR "/data/clip");
        o.settings.taesd = golden + QStringLiteral("/taesd_decode/weights.safetensors");
        MainWindow w(o);
        waitForModel(w);
        ls::pipeline::GenerationRequest r;
        r.prompt = "a red house";
        r.sampler = "LCM";
        r.steps = 4;
        r.cfgScale = 1.0;
        r.width = r.height = 64;
        w.promptPanel()->applyRequest(r);
        LiveMode* live = w.live();
        QSignalSpy shown(live, &LiveMode::pictureShown);
        live->setFastDecode(true);
        live->setOn(true);
        QTRY_COMPARE_WITH_TIMEOUT(shown.count(), 1, 60000);
        QCOMPARE(live->picture().size(), QSize(64, 64));
        live->keep();
        QCOMPARE(w.history()->count(), 1);
        const QString parameters = w.history()->item(0)->toolTip();
        QVERIFY2(parameters.contains(QStringLiteral("Sampler: LCM")), qPrintable(parameters));
        QVERIFY2(parameters.contains(QStringLiteral("Steps: 4")), qPrintable(parameters));
        QVERIFY2(parameters.contains(QStringLiteral("VAE Decoder: TAESD")), qPrintable(parameters));
        live->setOn(false);
    }

    void fastDecodeSettingReachesTheRequests()
    {
        QTemporaryDir tmp;
        StartupOptions o = options(tmp.path());
        o.settings.fastDecode = true;
        MainWindow w(o);
        waitForModel(w);
        w.promptPanel()->setPrompt(QStringLiteral("a red circle"));
        QString why;
        const auto r = w.canvasRequest(&why, false);
        QVERIFY2(r, qPrintable(why));
        QVERIFY(r->fastDecode);
        o.settings.fastDecode = false;
        MainWindow plain(o);
        waitForModel(plain);
        plain.promptPanel()->setPrompt(QStringLiteral("a red circle"));
        QVERIFY(!plain.canvasRequest(&why, false)->fastDecode);
    }

    void outpaintFromTheCanvas()
    {
        QTemporaryDir tmp;
        MainWindow w(options(tmp.path()));
        w.show();
        waitForModel(w);
        Canvas* c = w.canvas();
        QImage start(64, 64, QImage::Format_RGB888);
        start.fill(QColor(245, 245, 240));
        c->setImage(start);
        c->setTool(Canvas::Tool::Paint);
        c->setBrushColor(QColor(215, 40, 40));
        c->setBrushSize(20);
        stroke(c, QPointF(30, 30), QPointF(34, 34));
        const QImage painted = c->image();
        c->expand(0, 0, 32, 0); // the menu's Expand canvas, 32 pixels to the right
        QCOMPARE(c->image().size(), QSize(96, 64));
        const QImage prefilled = c->image();
        w.promptPanel()->setPrompt(QStringLiteral("a large red circle at the top left"));
        w.promptPanel()->setSeed(3);
        QSignalSpy done(&w, &MainWindow::generationDone);
        w.generate(); // Auto: the mask means inpainting
        QVERIFY(done.wait(60000));
        QVERIFY(done.at(0).at(1).toBool());
        QCOMPARE(c->image().size(), QSize(96, 64));
        // Well left of the mask (the old picture less its 8-pixel overlap and the mask blur) bit-identical; the new
        // area painted over its pre-fill.
        QVERIFY(same(c->image().copy(0, 0, 44, 64), painted.copy(0, 0, 44, 64)));
        QVERIFY(!same(c->image().copy(64, 0, 32, 64), prefilled.copy(64, 0, 32, 64)));
        QCOMPARE(w.history()->count(), 1);
        c->undoStack()->undo(); // the result
        c->undoStack()->undo(); // the expansion
        QVERIFY(same(c->image(), painted));
    }
};

QTEST_MAIN(TestLive)
#include "tst_live.moc"

// Heavy use: 200 rapid generate/cancel cycles through GenerationController on the tiny SD1 checkpoint (no crash, no
// deadlock, memory back to its baseline within 10%), switching models while a job runs, and closing the window in the
// middle of a generation.
#include "Canvas.h"
#include "GenerationController.h"
#include "MainWindow.h"
#include "PromptPanel.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <fstream>
#include <unistd.h>

using namespace ls::ui;

namespace {
const QString kGolden = QStringLiteral(LS_SHARED_DIR "/golden");

double residentMb()
{
    std::ifstream in("/proc/self/statm");
    long pages = 0, resident = 0;
    in >> pages >> resident;
    return resident * static_cast<double>(::sysconf(_SC_PAGESIZE)) / 1e6;
}

ls::pipeline::GenerationRequest request(int steps, int seed)
{
    ls::pipeline::GenerationRequest r;
    r.prompt = "a red house";
    r.width = 64;
    r.height = 64;
    r.steps = steps;
    r.seed = seed;
    return r;
}

void loadTiny(GenerationController& c)
{
    QSignalSpy loaded(&c, &GenerationController::modelLoaded);
    c.loadModel(kGolden + QStringLiteral("/tiny_sd1/weights.safetensors"),
        kGolden + QStringLiteral("/tiny_sd1/case.json"), QStringLiteral(LS_SHARED_DIR "/data/clip"));
    QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 60000);
}
} // namespace

class TestStress : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { qRegisterMetaType<QList<QImage>>("QList<QImage>"); }

    void rapidGenerateCancelCycles()
    {
        GenerationController c;
        loadTiny(c);
        QSignalSpy cancelled(&c, &GenerationController::cancelled);
        QSignalSpy finished(&c, &GenerationController::finished);
        QSignalSpy failed(&c, &GenerationController::failed);
        double baseline = 0;
        for (int i = 0; i < 200; ++i) {
            const int before = cancelled.count() + finished.count();
            c.enqueue(request(30, i));
            if (i % 3 == 1) // sometimes after it started, sometimes before
                QTest::qWait(5);
            c.cancelCurrent();
            QTRY_VERIFY_WITH_TIMEOUT(cancelled.count() + finished.count() == before + 1, 20000);
            if (i == 19) // after warm-up: allocator pools and the preview projection are in place
                baseline = residentMb();
        }
        QCOMPARE(failed.count(), 0);
        QVERIFY(cancelled.count() >= 150); // nearly all were stopped, not run to the end
        QTRY_VERIFY_WITH_TIMEOUT(!c.busy(), 10000);
        const double end = residentMb();
        qInfo("resident memory: %.0f MB after warm-up, %.0f MB after 200 cycles", baseline, end);
        QVERIFY2(end <= baseline * 1.10, qPrintable(QStringLiteral("%1 MB -> %2 MB").arg(baseline).arg(end)));
        // Still fully working.
        c.enqueue(request(3, 1));
        QTRY_COMPARE_WITH_TIMEOUT(finished.count() >= 1 && !c.busy(), true, 30000);
    }

    void switchingModelsWhileAJobRuns()
    {
        GenerationController c;
        loadTiny(c);
        QSignalSpy progress(&c, &GenerationController::progress);
        QSignalSpy cancelled(&c, &GenerationController::cancelled);
        QSignalSpy finished(&c, &GenerationController::finished);
        QSignalSpy loaded(&c, &GenerationController::modelLoaded);
        QSignalSpy failed(&c, &GenerationController::failed);
        c.enqueue(request(400, 3));
        QTRY_VERIFY_WITH_TIMEOUT(progress.count() >= 1, 30000);
        c.loadModel(QStringLiteral("bundled:default")); // what the window does: it cancels the old model's jobs first
        c.clearQueue();
        c.cancelCurrent();
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 60000);
        QCOMPARE(cancelled.count() + finished.count(), 1);
        QVERIFY(loaded.at(0).at(1).toString().contains(QStringLiteral("synthetic")));
        auto r = request(5, 1);
        r.prompt = "a large red circle at the top left";
        const int before = finished.count();
        c.enqueue(r);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), before + 1, 30000);
        QCOMPARE(failed.count(), 0);
    }

    void closingTheWindowDuringAGeneration()
    {
        QTemporaryDir tmp;
        StartupOptions o;
        o.historyDir = tmp.filePath(QStringLiteral("history"));
        o.recoveryDir = tmp.filePath(QStringLiteral("recovery"));
        o.askOnClose = false;
        o.useStoredSettings = false;
        o.model = kGolden + QStringLiteral("/tiny_sd1/weights.safetensors");
        o.config = kGolden + QStringLiteral("/tiny_sd1/case.json");
        o.vocabulary = QStringLiteral(LS_SHARED_DIR "/data/clip");
        auto* w = new MainWindow(o);
        w->show();
        QSignalSpy loaded(w->controller(), &GenerationController::modelLoaded);
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 60000);
        QSignalSpy progress(w->controller(), &GenerationController::progress);
        auto r = request(2000, 9); // far longer than the test waits
        w->promptPanel()->applyRequest(r);
        w->generate();
        QTRY_VERIFY_WITH_TIMEOUT(progress.count() >= 1, 30000);
        QElapsedTimer clock;
        clock.start();
        QVERIFY(w->close());
        delete w; // joins the worker: must not hang behind the running job
        QVERIFY2(clock.elapsed() < 10000, qPrintable(QString::number(clock.elapsed())));
    }
};

QTEST_MAIN(TestStress)
#include "tst_stress.moc"

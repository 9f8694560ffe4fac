// GenerationController with the real pipeline on the tiny SD1 checkpoint: the model loads on the worker, previews
// arrive in step order, the result arrives, cancel stops a run mid-way, the queue can be cleared.
#include "GenerationController.h"

#include <QSemaphore>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <atomic>
#include <thread>

using ls::ui::GenerationController;
using ls::ui::JobResult;

namespace {
const QString kGolden = QStringLiteral(LS_SHARED_DIR "/golden");

ls::pipeline::GenerationRequest request(int steps)
{
    ls::pipeline::GenerationRequest r;
    r.prompt = "a red house";
    r.width = 64;
    r.height = 64;
    r.steps = steps;
    r.seed = 5;
    return r;
}
} // namespace

class TestController : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { qRegisterMetaType<QList<QImage>>("QList<QImage>"); }

    void loadFailureIsReported()
    {
        GenerationController c;
        QSignalSpy failed(&c, &GenerationController::modelFailed);
        c.loadModel(QStringLiteral("/nonexistent/model.safetensors"));
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 10000);
        QVERIFY(failed.at(0).at(0).toString().contains(QStringLiteral("/nonexistent/model.safetensors")));
    }

    void loadProgressAndNewerChoiceWins()
    {
        GenerationController c;
        QSignalSpy progress(&c, &GenerationController::modelProgress);
        QSignalSpy loaded(&c, &GenerationController::modelLoaded);
        QSignalSpy failed(&c, &GenerationController::modelFailed);
        const QString tiny = kGolden + QStringLiteral("/tiny_sd1/weights.safetensors");
        c.loadModel(tiny, kGolden + QStringLiteral("/tiny_sd1/case.json"), QStringLiteral(LS_SHARED_DIR "/data/clip"));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 30000);
        QVERIFY(progress.count() >= 5);
        QCOMPARE(progress.first().at(0).toInt(), 0);
        QCOMPARE(progress.last().at(0).toInt(), 100);
        for (int i = 1; i < progress.count(); ++i)
            QVERIFY(progress.at(i).at(0).toInt() > progress.at(i - 1).at(0).toInt());
        // Two choices in a row: the first is dropped or stopped part-way, never reported as a failure; the second
        // loads.
        c.loadModel(tiny, kGolden + QStringLiteral("/tiny_sd1/case.json"), QStringLiteral(LS_SHARED_DIR "/data/clip"));
        c.loadModel(QStringLiteral("bundled:default"));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 2, 30000);
        QVERIFY(loaded.last().at(0).toString().endsWith(QStringLiteral("default/model.safetensors")));
        QTest::qWait(200);
        QCOMPARE(loaded.count(), 2);
        QCOMPARE(failed.count(), 0);
    }

    void previewsInOrderThenResult()
    {
        GenerationController c;
        QSignalSpy loaded(&c, &GenerationController::modelLoaded);
        c.loadModel(kGolden + QStringLiteral("/tiny_sd1/weights.safetensors"),
            kGolden + QStringLiteral("/tiny_sd1/case.json"), QStringLiteral(LS_SHARED_DIR "/data/clip"));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 30000);
        QSignalSpy previews(&c, &GenerationController::preview);
        QSignalSpy done(&c, &GenerationController::finished);
        const int id = c.enqueue(request(5));
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 30000);
        QCOMPARE(done.at(0).at(0).toInt(), id);
        const auto result = done.at(0).at(1).value<JobResult>();
        QList<QImage> images;
        for (const auto& p : result.pictures)
            images << p.image;
        QCOMPARE(images.size(), 1);
        QCOMPARE(images[0].size(), QSize(64, 64));
        QCOMPARE(previews.count(), 5);
        for (int i = 0; i < previews.count(); ++i)
            QCOMPARE(previews.at(i).at(1).toInt(), i + 1);
        QVERIFY(result.pictures.at(0).parameters.contains(QStringLiteral("Steps: 5")));
        QCOMPARE(result.pictures.at(0).seed, qint64(5)); // the seed travels typed, beside the text
    }

    // Settings > Preview decoder: a TAESD decoder set on the controller decodes the previews (8x the latent; the
    // projection is at the latent's size).
    void previewDecoderReachesTheEngine()
    {
        auto previewSize = [](const QString& taesd) {
            GenerationController c;
            c.setPreviewDecoder(taesd);
            QSignalSpy loaded(&c, &GenerationController::modelLoaded);
            c.loadModel(kGolden + QStringLiteral("/tiny_sd1/weights.safetensors"),
                kGolden + QStringLiteral("/tiny_sd1/case.json"), QStringLiteral(LS_SHARED_DIR "/data/clip"));
            if (!QTest::qWaitFor([&] { return loaded.count() == 1; }, 30000))
                return QSize();
            QSignalSpy previews(&c, &GenerationController::preview);
            QSignalSpy done(&c, &GenerationController::finished);
            c.enqueue(request(2));
            if (!QTest::qWaitFor([&] { return done.count() == 1; }, 30000) || previews.isEmpty())
                return QSize();
            return previews.at(0).at(2).value<QImage>().size();
        };
        const QSize projection = previewSize({});
        const QSize taesd = previewSize(kGolden + QStringLiteral("/taesd_decode/weights.safetensors"));
        QVERIFY(projection.isValid() && taesd.isValid());
        QCOMPARE(taesd, projection * 8); // TAESD decodes 8x the latent, the projection is the latent's size
    }

    void loraFoldersReachTheEngine()
    {
        QTemporaryDir tmp;
        QFile bad(tmp.filePath(QStringLiteral("bad.safetensors")));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("not a safetensors file");
        bad.close();
        GenerationController c;
        c.setLoraFolders({ tmp.path() });
        QSignalSpy loaded(&c, &GenerationController::modelLoaded);
        c.loadModel(kGolden + QStringLiteral("/tiny_sd1/weights.safetensors"),
            kGolden + QStringLiteral("/tiny_sd1/case.json"), QStringLiteral(LS_SHARED_DIR "/data/clip"));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 30000);
        QSignalSpy failed(&c, &GenerationController::failed);
        QSignalSpy done(&c, &GenerationController::finished);
        auto r = request(2);
        r.prompt = "a red house <lora:bad:0.8>";
        c.enqueue(r); // found in the folder, then refused with the file's name
        r.prompt = "a red house <lora:missing:0.8>";
        c.enqueue(r); // not in any folder: the folders are listed
        r.prompt = "a red house";
        c.enqueue(r); // and the engine goes on working
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 2, 30000);
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 30000);
        const QString first = failed.at(0).at(1).toString(), second = failed.at(1).at(1).toString();
        QVERIFY2(first.contains(tmp.filePath(QStringLiteral("bad.safetensors"))), qPrintable(first));
        QVERIFY2(second.contains(QStringLiteral("'missing' is not a LoRA file")) && second.contains(tmp.path()),
            qPrintable(second));
    }

    // The freeze users hit: jobs queued while a model loads, then Esc / Shift+Esc, with slots that ask the controller
    // how many jobs wait (as MainWindow's do). Signals must leave the controller's lock before they go out. The load is
    // held part-way (a slot on the worker thread waits on a semaphore) so the jobs are queued with nothing running; the
    // cancels run on a thread of their own so a deadlock fails the test instead of hanging it.
    void callbacksIntoTheControllerNeverDeadlock()
    {
        GenerationController c;
        QSemaphore holdLoad, loadHeld;
        std::atomic<bool> holding { true };
        connect(
            &c, &GenerationController::modelProgress, &c,
            [&](int) {
                if (holding.exchange(false)) {
                    loadHeld.release();
                    holdLoad.acquire();
                }
            },
            Qt::DirectConnection);
        std::atomic<int> callbacks { 0 };
        auto callBack = [&] {
            (void)c.queuedJobs();
            (void)c.busy();
            (void)c.jobsPending();
            ++callbacks;
        };
        connect(&c, &GenerationController::cancelled, &c, callBack, Qt::DirectConnection);
        connect(&c, &GenerationController::failed, &c, callBack, Qt::DirectConnection);
        connect(&c, &GenerationController::finished, &c, callBack, Qt::DirectConnection);
        connect(&c, &GenerationController::started, &c, callBack, Qt::DirectConnection);
        connect(&c, &GenerationController::queueChanged, &c, callBack, Qt::DirectConnection);
        QSignalSpy loaded(&c, &GenerationController::modelLoaded);
        QSignalSpy cancelled(&c, &GenerationController::cancelled);
        QSignalSpy queue(&c, &GenerationController::queueChanged);
        c.loadModel(kGolden + QStringLiteral("/tiny_sd1/weights.safetensors"),
            kGolden + QStringLiteral("/tiny_sd1/case.json"), QStringLiteral(LS_SHARED_DIR "/data/clip"));
        QVERIFY(loadHeld.tryAcquire(1, 30000));
        QVERIFY2(c.busy(), "a model load in progress counts as busy");
        QVERIFY(!c.jobsPending());
        const int a = c.enqueue(request(2)), b = c.enqueue(request(2)), d = c.enqueue(request(2));
        QCOMPARE(c.queuedJobs(), 3);
        QCOMPARE(queue.count(), 3);
        QCOMPARE(queue.last().at(0).toInt(), 3);
        std::atomic<bool> returned { false };
        std::thread user([&] {
            c.cancelCurrent(); // nothing runs: drops the next job
            c.clearQueue();
            returned = true;
        });
        for (int i = 0; i < 200 && !returned; ++i)
            QThread::msleep(50);
        if (!returned)
            qFatal(
                "cancelCurrent/clearQueue deadlocked: a slot called back into the controller while it held its lock");
        user.join();
        QCOMPARE(cancelled.count(), 3);
        QCOMPARE(cancelled.at(0).at(0).toInt(), a);
        QCOMPARE(cancelled.at(1).at(0).toInt(), b);
        QCOMPARE(cancelled.at(2).at(0).toInt(), d);
        QCOMPARE(c.queuedJobs(), 0);
        QCOMPARE(queue.last().at(0).toInt(), 0);
        holdLoad.release();
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 30000);
        QSignalSpy done(&c, &GenerationController::finished);
        c.enqueue(request(2));
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 30000);
        QTRY_VERIFY_WITH_TIMEOUT(!c.busy(), 10000);
        QVERIFY(callbacks >= 3 + 4 + 2); // cancels, queue changes, started + finished
    }

    void cancelMidRunAndClearQueue()
    {
        GenerationController c;
        QSignalSpy loaded(&c, &GenerationController::modelLoaded);
        c.loadModel(kGolden + QStringLiteral("/tiny_sd1/weights.safetensors"),
            kGolden + QStringLiteral("/tiny_sd1/case.json"), QStringLiteral(LS_SHARED_DIR "/data/clip"));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 30000);
        QSignalSpy progress(&c, &GenerationController::progress);
        QSignalSpy cancelled(&c, &GenerationController::cancelled);
        QSignalSpy done(&c, &GenerationController::finished);
        const int first = c.enqueue(request(400));
        const int second = c.enqueue(request(400));
        QTRY_VERIFY_WITH_TIMEOUT(progress.count() >= 2, 30000);
        c.clearQueue(); // drops the second
        c.cancelCurrent();
        QTRY_COMPARE_WITH_TIMEOUT(cancelled.count(), 2, 30000);
        QList<int> ids { cancelled.at(0).at(0).toInt(), cancelled.at(1).at(0).toInt() };
        QVERIFY(ids.contains(first) && ids.contains(second));
        QCOMPARE(done.count(), 0);
        QTRY_VERIFY_WITH_TIMEOUT(!c.busy(), 10000);
        QVERIFY(progress.count() < 400);
    }
};

QTEST_MAIN(TestController)
#include "tst_controller.moc"

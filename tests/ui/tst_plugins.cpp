// Upscaler plugins: the Lanczos and diffusion plugins load with QPluginLoader from the build's plugin folder and run
// through the worker (Lanczos without a model, the bundled 4x SR model on a second engine while the main model stays
// loaded); a broken plugin file is reported with its path and reason and never stops the window.
#include "GenerationController.h"
#include "MainWindow.h"
#include "PluginManager.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest/QtTest>

using namespace ls::ui;

namespace {
const QString kPlugins = QStringLiteral(LS_PLUGIN_DIR);

ls::Image checker(int w, int h)
{
    ls::Image img(w, h, 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            auto* p = img.at(x, y);
            p[0] = ((x / 4 + y / 4) % 2) ? 220 : 40;
            p[1] = 80;
            p[2] = static_cast<uint8_t>(x * 8);
        }
    return img;
}
} // namespace

class TestPlugins : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { qRegisterMetaType<QList<QImage>>("QList<QImage>"); }

    void realPluginsLoad()
    {
        const PluginReport r = loadUpscalerPlugins({ kPlugins });
        QVERIFY2(r.failed.isEmpty(), qPrintable(r.failed.join(QLatin1Char('\n'))));
        QVERIFY(r.loaded.contains(QStringLiteral("Lanczos")));
        QVERIFY(r.loaded.contains(QStringLiteral("Diffusion upscalers")));
        QStringList ids;
        for (const auto& u : r.upscalers)
            ids << u.id;
        QVERIFY(ids.contains(QStringLiteral("lanczos")));
        QVERIFY(ids.contains(QStringLiteral("bundled-sr4")));
    }

    void brokenPluginIsReportedNotFatal()
    {
        QTemporaryDir tmp;
        QFile bad(tmp.filePath(QStringLiteral("broken.so")));
        QVERIFY(bad.open(QIODevice::WriteOnly));
        bad.write("\x7f"
                  "ELF this is not a real library");
        bad.close();
        const PluginReport r = loadUpscalerPlugins({ tmp.path(), kPlugins });
        QCOMPARE(r.failed.size(), 1);
        QVERIFY2(r.failed[0].contains(QStringLiteral("broken.so")), qPrintable(r.failed[0]));
        QVERIFY(r.loaded.contains(QStringLiteral("Lanczos"))); // the others still load

        StartupOptions o;
        o.historyDir = tmp.filePath(QStringLiteral("history"));
        o.recoveryDir = tmp.filePath(QStringLiteral("recovery"));
        o.askOnClose = false;
        o.useStoredSettings = false;
        o.pluginDirs = { tmp.path(), kPlugins };
        MainWindow w(o);
        QCOMPARE(w.failedPlugins().size(), 1);
        QVERIFY(w.loadedPlugins().contains(QStringLiteral("Diffusion upscalers")));
    }

    void upscalersRunThroughTheWorker()
    {
        GenerationController c;
        QSignalSpy loaded(&c, &GenerationController::modelLoaded);
        c.loadModel(QStringLiteral("bundled:default"));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 60000);
        QSignalSpy done(&c, &GenerationController::finished);
        QSignalSpy failed(&c, &GenerationController::failed);

        ls::pipeline::GenerationRequest up;
        up.mode = ls::pipeline::JobMode::Upscale;
        up.initImage = checker(16, 16);
        up.upscaleFactor = 4;
        up.steps = 10;
        up.sampler = "DDIM";
        c.enqueue(up, QStringLiteral("lanczos"));
        c.enqueue(up, QStringLiteral("bundled:default-sr"));
        ls::pipeline::GenerationRequest t; // the main model is still there
        t.prompt = "a large red circle at the top left";
        t.width = t.height = 64;
        t.steps = 5;
        c.enqueue(t);
        QTRY_COMPARE_WITH_TIMEOUT(done.count() + failed.count(), 3, 120000);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.at(0).at(1).toString()));
        for (int i = 0; i < 3; ++i)
            QCOMPARE(done.at(i).at(1).value<JobResult>().pictures.at(0).image.size(), QSize(64, 64));
        // Lanczos keeps the checkerboard's colours; the SR model produced a different (generated) picture.
        QVERIFY(done.at(0).at(1).value<JobResult>().pictures.at(0).image
            != done.at(1).at(1).value<JobResult>().pictures.at(0).image);
    }
};

QTEST_MAIN(TestPlugins)
#include "tst_plugins.moc"

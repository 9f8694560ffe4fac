// Control layers on the canvas (ControlNet units drawn by the user): painting on a layer touches only it, every edit
// is undoable, layers follow the canvas when it grows, projects keep them (and refuse bad ones by name), and the
// app's jobs use them: strength 0 gives exactly the picture without ControlNet, the infotext names the unit.
#include "Canvas.h"
#include "ControlPanel.h"
#include "GenerationController.h"
#include "MainWindow.h"
#include "Project.h"
#include "PromptPanel.h"
#include "UiTestUtil.h"

#include <QListWidget>
#include <QTemporaryDir>
#include <QtTest/QtTest>

using namespace ls::ui;

namespace {
const QString kGolden = QStringLiteral(LS_SHARED_DIR "/golden");

using test::drag;

StartupOptions tinySd1(const QString& root)
{
    StartupOptions o = test::windowOptions(root);
    o.model = kGolden + QStringLiteral("/tiny_sd1/weights.safetensors");
    o.config = kGolden + QStringLiteral("/tiny_sd1/case.json");
    o.vocabulary = QStringLiteral(LS_SHARED_DIR "/data/clip");
    return o;
}

QImage generateOnce(MainWindow& w)
{
    QSignalSpy done(&w, &MainWindow::generationDone);
    w.generate();
    if (!done.wait(60000) || !done.at(0).at(1).toBool())
        return {};
    return w.canvas()->image();
}
} // namespace

class TestControl : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { qRegisterMetaType<QList<QImage>>("QList<QImage>"); }

    void paintingOnALayer()
    {
        Canvas c;
        test::prepare(c, 64);
        const QImage img = c.image();
        const int index = c.addControl({});
        QCOMPARE(index, 0);
        QCOMPARE(c.activeControl(), 0);
        QCOMPARE(c.control(0).image.size(), QSize(64, 64));
        QCOMPARE(c.control(0).image.pixelColor(32, 32), QColor(Qt::black));
        c.setBrushSize(8);
        drag(c, QPointF(10, 32), QPointF(54, 32)); // the brush draws white on the layer
        QCOMPARE(c.control(0).image.pixelColor(32, 32), QColor(Qt::white));
        QCOMPARE(c.control(0).image.pixelColor(32, 50), QColor(Qt::black));
        QVERIFY(c.image() == img); // picture and mask untouched
        QVERIFY(c.maskIsEmpty());
        c.setTool(Canvas::Tool::Eraser);
        drag(c, QPointF(30, 32), QPointF(34, 32));
        QCOMPARE(c.control(0).image.pixelColor(32, 32), QColor(Qt::black));
        c.undoStack()->undo();
        QCOMPARE(c.control(0).image.pixelColor(32, 32), QColor(Qt::white));
        // Filling, removing and their undo.
        QImage photo(128, 128, QImage::Format_RGB888);
        photo.fill(QColor(10, 200, 30));
        c.setControlImage(0, photo);
        QCOMPARE(c.control(0).image.size(), QSize(64, 64)); // scaled to the canvas
        QCOMPARE(c.control(0).image.pixelColor(5, 5), QColor(10, 200, 30));
        c.undoStack()->undo();
        QCOMPARE(c.control(0).image.pixelColor(32, 32), QColor(Qt::white));
        c.removeControl(0);
        QCOMPARE(c.controlCount(), 0);
        QCOMPARE(c.activeControl(), -1);
        c.undoStack()->undo();
        QCOMPARE(c.controlCount(), 1);
        QCOMPARE(c.control(0).image.pixelColor(32, 32), QColor(Qt::white)); // the same layer back
        // Settings are kept apart from the pixels; the canvas growing grows the layer with "no control" (black).
        ControlLayer s = c.control(0);
        s.model = QStringLiteral("/models/ControlNet/control_sd15_scribble.pth");
        s.strength = 0.7;
        c.setControlSettings(0, s);
        QCOMPARE(c.control(0).strength, 0.7);
        QCOMPARE(c.control(0).image.pixelColor(32, 32), QColor(Qt::white));
        c.expand(16, 0, 0, 0);
        QCOMPARE(c.control(0).image.size(), QSize(80, 64));
        QCOMPARE(c.control(0).image.pixelColor(16 + 32, 32), QColor(Qt::white));
        QCOMPARE(c.control(0).image.pixelColor(4, 32), QColor(Qt::black));
        QCOMPARE(c.control(0).model, s.model);
        c.undoStack()->undo();
        QCOMPARE(c.control(0).image.size(), QSize(64, 64));
        // A picture of another size scales the layers with it, in the same undo step.
        QImage big(128, 96, QImage::Format_RGB888);
        big.fill(Qt::white);
        c.setImage(big);
        QCOMPARE(c.control(0).image.size(), QSize(128, 96));
        c.undoStack()->undo();
        QCOMPARE(c.control(0).image.size(), QSize(64, 64));
        // The panel lists the layer and selecting "Picture and mask" sends the tools back to the picture.
        ControlPanel panel(&c);
        auto* list = panel.findChild<QListWidget*>(QStringLiteral("controlLayers"));
        QVERIFY(list);
        QCOMPARE(list->count(), 2);
        list->setCurrentRow(0);
        QCOMPARE(c.activeControl(), -1);
        list->item(1)->setCheckState(Qt::Unchecked);
        QVERIFY(!c.control(0).visible);
    }

    void projectsKeepLayers()
    {
        QTemporaryDir tmp;
        ProjectData d;
        d.image = QImage(32, 24, QImage::Format_RGB888);
        d.image.fill(Qt::gray);
        ControlLayer c;
        c.image = QImage(32, 24, QImage::Format_RGB888);
        c.image.fill(Qt::black);
        c.image.setPixelColor(3, 4, Qt::white);
        c.model = QStringLiteral("/m/ControlNet/control_v11p_sd15_canny.pth");
        c.preprocessor = QStringLiteral("canny");
        c.strength = 0.8;
        c.start = 0.1;
        c.end = 0.9;
        c.guessMode = true;
        c.visible = false;
        c.opacity = 0.3;
        d.controls = { c };
        const QString dir = tmp.filePath(QStringLiteral("p.lsproj"));
        saveProject(dir, d);
        const ProjectData back = loadProject(dir);
        QCOMPARE(back.controls.size(), 1);
        const ControlLayer& b = back.controls[0];
        QVERIFY(b.image == c.image);
        QCOMPARE(b.model, c.model);
        QCOMPARE(b.preprocessor, c.preprocessor);
        QCOMPARE(b.strength, 0.8);
        QCOMPARE(b.start, 0.1);
        QCOMPARE(b.end, 0.9);
        QVERIFY(b.guessMode);
        QVERIFY(!b.visible);
        QCOMPARE(b.opacity, 0.3);
        // Removing the layer and saving again leaves no stale image behind.
        d.controls.clear();
        saveProject(dir, d);
        QVERIFY(!QFile::exists(dir + QStringLiteral("/control-0.png")));
        // Bad settings are refused by name.
        try {
            parseProjectJson(R"({"format": "latent-studio-project", "version": 1,
                "controls": [{"preprocessor": "depth_midas"}]})",
                QStringLiteral("project.json"));
            QFAIL("a preprocessor we do not have was accepted");
        } catch (const ProjectError& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("controls[0].preprocessor")), e.what());
        }
    }

    void jobsUseTheLayers()
    {
        QTemporaryDir tmp;
        MainWindow w(tinySd1(tmp.path()));
        w.show();
        QSignalSpy loaded(w.controller(), &GenerationController::modelLoaded);
        QVERIFY(loaded.wait(60000));
        w.promptPanel()->setPrompt(QStringLiteral("a red house"));
        w.promptPanel()->setSeed(5);
        w.promptPanel()->setSize(64, 64);
        const QImage plain = generateOnce(w);
        QVERIFY(!plain.isNull());

        Canvas* c = w.canvas();
        ControlLayer layer;
        layer.model = kGolden + QStringLiteral("/tiny_controlnet/weights.safetensors");
        layer.strength = 0.0;
        c->addControl(layer);
        drag(*c, QPointF(8, 20), QPointF(56, 40));
        QString why;
        const auto r = w.canvasRequest(&why, false);
        QVERIFY2(r, qPrintable(why));
        QCOMPARE(r->controls.size(), size_t(1));
        QCOMPARE(r->controls[0].image.width, 64);
        const QImage zero = generateOnce(w);
        QVERIFY(zero == plain); // strength 0: exactly the picture without ControlNet

        layer = c->control(0);
        layer.strength = 1.0;
        c->setControlSettings(0, layer);
        const QImage controlled = generateOnce(w);
        QVERIFY(!controlled.isNull());
        QVERIFY(!(controlled == plain));
        const QString parameters = w.history()->item(0)->toolTip();
        QVERIFY2(parameters.contains(QStringLiteral("ControlNet 0: \"Module: none, Model: weights, Weight: 1")),
            qPrintable(parameters));

        layer.visible = false; // hidden: not used
        c->setControlSettings(0, layer);
        QVERIFY(w.canvasRequest(&why, false)->controls.empty());
    }
};

QTEST_MAIN(TestControl)
#include "tst_control.moc"

// Projects and recovery: a project round-trips canvas, mask, boxes, prompt settings and history; a corrupt project
// gives an error naming the file and is left untouched (and the open canvas too); an app killed with SIGKILL in the
// middle of work is restored from its autosave with canvas, mask, boxes, prompt and history.
#include "Canvas.h"
#include "GenerationController.h"
#include "MainWindow.h"
#include "Project.h"
#include "PromptPanel.h"
#include "UiTestUtil.h"
#include "io/ImageFile.h"

#include <QClipboard>
#include <QComboBox>
#include <QListWidget>
#include <QDoubleSpinBox>
#include <QMenu>
#include <QPlainTextEdit>
#include <QMimeData>
#include <QSpinBox>
#include <QSettings>
#include <QPainter>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <csignal>

using namespace ls::ui;

namespace {

QImage testImage(int w, int h)
{
    QImage img(w, h, QImage::Format_RGB888);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            img.setPixelColor(x, y, QColor((x * 4) % 256, (y * 4) % 256, (x + y) % 256));
    return img;
}

QImage rectMask(int w, int h, QRect r)
{
    QImage m(w, h, QImage::Format_Grayscale8);
    m.fill(0);
    QPainter p(&m);
    p.fillRect(r, Qt::white);
    return m;
}

StartupOptions options(const QString& root) { return test::windowOptions(root, 1); }

bool sameImage(const QImage& a, const QImage& b)
{
    return a.convertToFormat(QImage::Format_RGB888) == b.convertToFormat(QImage::Format_RGB888);
}

// The child: real work in a real window (one generation on the bundled model, a painted mask, boxes, a prompt), then
// it waits for an autosave that contains all of it, says so, and idles until the parent kills it.
int childMain(int argc, char** argv, const QString& root)
{
    QApplication app(argc, argv);
    MainWindow w(options(root));
    w.show();
    QObject::connect(w.controller(), &GenerationController::modelLoaded, &w, [&w] {
        w.promptPanel()->setPrompt(QStringLiteral("a large red circle at the top left"));
        w.promptPanel()->setSeed(7);
        w.generate();
    });
    QObject::connect(w.controller(), &GenerationController::modelFailed, &app, [](const QString& m) {
        std::fprintf(stdout, "FAILED %s\n", qPrintable(m));
        std::fflush(stdout);
        std::_Exit(3);
    });
    bool edited = false;
    QObject::connect(&w, &MainWindow::generationDone, &w, [&w, &edited](int, bool ok) {
        if (!ok) {
            std::fprintf(stdout, "FAILED generation\n");
            std::fflush(stdout);
            std::_Exit(3);
        }
        const QSize s = w.canvas()->image().size();
        w.canvas()->setMask(rectMask(s.width(), s.height(), QRect(10, 12, 20, 16))); // an undoable user edit
        w.canvas()->setBoxes({ { QRectF(4, 5, 30, 20), QStringLiteral("blue square") },
            { QRectF(30, 30, 20, 20), QStringLiteral("red circle") } });
        w.promptPanel()->setPrompt(QStringLiteral("a small blue square at the bottom"));
        edited = true;
    });
    QObject::connect(&w, &MainWindow::autosaved, &w, [&edited](const QString& dir) {
        if (!edited)
            return;
        std::fprintf(stdout, "AUTOSAVED %s\n", qPrintable(dir));
        std::fflush(stdout);
    });
    return app.exec();
}

} // namespace

class TestProject : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void roundTrip()
    {
        QTemporaryDir tmp;
        const QString hist = tmp.filePath(QStringLiteral("outside.png"));
        QVERIFY(testImage(32, 32).save(hist));
        ProjectData d;
        d.image = testImage(64, 48);
        d.mask = rectMask(64, 48, QRect(3, 4, 10, 12));
        d.boxes = { { QRectF(1.5, 2, 10, 20), QStringLiteral("red circle") } };
        d.panel = QJsonObject { { QStringLiteral("mode"), QStringLiteral("Inpaint") } };
        d.history = { { hist, QStringLiteral("a prompt\nSteps: 20"), QStringLiteral("{\"seed\": 3}") } };
        const QString dir = tmp.filePath(QStringLiteral("p.lsproj"));
        saveProject(dir, d);
        const ProjectData e = loadProject(dir);
        QVERIFY(sameImage(e.image, d.image));
        QCOMPARE(e.mask.convertToFormat(QImage::Format_Grayscale8), d.mask);
        QCOMPARE(e.boxes, d.boxes);
        QCOMPARE(e.panel, d.panel);
        QCOMPARE(e.history.size(), 1);
        QVERIFY(e.history[0].file.startsWith(dir)); // copied into the project
        QVERIFY(sameImage(QImage(e.history[0].file), testImage(32, 32)));
        QCOMPARE(e.history[0].parameters, d.history[0].parameters);
        // No temporary files left behind by the atomic writes.
        for (const QString& f : QDir(dir).entryList(QDir::Files))
            QVERIFY2(f == QStringLiteral("project.json") || f.endsWith(QStringLiteral(".png")), qPrintable(f));
    }

    void corruptProjectIsReportedAndUntouched_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("expected");
        QTest::newRow("not json") << QByteArray("{\"format\": \"latent-studio-project\", ") << QStringLiteral("JSON");
        QTest::newRow("wrong format") << QByteArray("{\"format\": \"other\", \"version\": 1}")
                                      << QStringLiteral("format");
        QTest::newRow("future version") << QByteArray("{\"format\": \"latent-studio-project\", \"version\": 99}")
                                        << QStringLiteral("version");
        QTest::newRow("bad box") << QByteArray("{\"format\": \"latent-studio-project\", \"version\": 1, \"boxes\": "
                                               "[{\"x\": 1, \"y\": 2, \"w\": -3, \"h\": 4}]}")
                                 << QStringLiteral("boxes[0]");
        QTest::newRow("escaping history") << QByteArray(
            "{\"format\": \"latent-studio-project\", \"version\": 1, \"history\": [{\"file\": \"../../etc/passwd\"}]}")
                                          << QStringLiteral("history[0].file");
        QTest::newRow("missing history image") << QByteArray(
            "{\"format\": \"latent-studio-project\", \"version\": 1, \"history\": [{\"file\": \"history/gone.png\"}]}")
                                               << QStringLiteral("history image missing");
    }

    void corruptProjectIsReportedAndUntouched()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, expected);
        QTemporaryDir tmp;
        const QString dir = tmp.filePath(QStringLiteral("bad.lsproj"));
        QDir().mkpath(dir);
        QFile f(dir + QStringLiteral("/project.json"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(json);
        f.close();
        try {
            loadProject(dir);
            QFAIL("a corrupt project was accepted");
        } catch (const ProjectError& e) {
            const QString msg = QString::fromUtf8(e.what());
            QVERIFY2(msg.contains(expected), qPrintable(msg));
            QVERIFY2(msg.contains(dir), qPrintable(msg)); // names the file
        }
        QFile again(dir + QStringLiteral("/project.json"));
        QVERIFY(again.open(QIODevice::ReadOnly));
        QCOMPARE(again.readAll(), json);

        // Through the window: the open canvas stays as it was (the warning box is closed by a timer).
        MainWindow w(options(tmp.path()));
        w.canvas()->setImage(testImage(64, 64), false);
        QTimer::singleShot(300, [] {
            if (QWidget* box = QApplication::activeModalWidget())
                box->close();
        });
        QVERIFY(!w.openProject(dir));
        QVERIFY(sameImage(w.canvas()->image(), testImage(64, 64)));
    }

    void windowSavesAndReopensProject()
    {
        QTemporaryDir tmp;
        const QString dir = tmp.filePath(QStringLiteral("work.lsproj"));
        {
            MainWindow w(options(tmp.path()));
            w.canvas()->setImage(testImage(64, 64));
            w.canvas()->setMask(rectMask(64, 64, QRect(0, 0, 8, 8)));
            w.canvas()->setBoxes({ { QRectF(2, 2, 20, 20), QStringLiteral("green triangle") } });
            w.promptPanel()->setPrompt(QStringLiteral("a green triangle in the center"));
            auto r = w.promptPanel()->request(false, false);
            QVERIFY(r.captionLayout); // on by default
            r.captionLayout = false;
            w.promptPanel()->applyRequest(r);
            QVERIFY(w.windowTitle().contains(QLatin1Char('*')));
            QVERIFY(w.saveProjectTo(dir));
            QVERIFY(!w.windowTitle().contains(QLatin1Char('*')));
        }
        MainWindow w2(options(tmp.path()));
        QVERIFY(w2.openProject(dir));
        QVERIFY(sameImage(w2.canvas()->image(), testImage(64, 64)));
        QCOMPARE(w2.canvas()->mask(), rectMask(64, 64, QRect(0, 0, 8, 8)));
        QCOMPARE(w2.canvas()->boxes().size(), 1);
        QCOMPARE(w2.canvas()->boxes()[0].prompt, QStringLiteral("green triangle"));
        QVERIFY(w2.promptPanel()->request(false, false).prompt == "a green triangle in the center");
        QVERIFY(!w2.promptPanel()->request(false, false).captionLayout);
        QCOMPARE(w2.projectPath(), dir);
    }

    void dropAndPasteOpenPicturesAndProjects()
    {
        QTemporaryDir tmp;
        const QString png = tmp.filePath(QStringLiteral("dropped.png"));
        QVERIFY(testImage(48, 40).save(png));
        const QString project = tmp.filePath(QStringLiteral("dropped.lsproj"));
        ProjectData d;
        d.image = testImage(32, 32).mirrored();
        d.boxes = { { QRectF(1, 2, 10, 10), QStringLiteral("red circle") } };
        saveProject(project, d);

        MainWindow w(options(tmp.path()));
        const QImage original = w.canvas()->image();
        auto dropOn = [&w](QMimeData* mime) {
            QDragEnterEvent enter(QPoint(100, 100), Qt::CopyAction, mime, Qt::LeftButton, {});
            QApplication::sendEvent(&w, &enter);
            if (!enter.isAccepted())
                return false;
            QDropEvent drop(QPointF(100, 100), Qt::CopyAction, mime, Qt::LeftButton, {});
            QApplication::sendEvent(&w, &drop);
            return drop.isAccepted();
        };
        // An image file dropped on the window opens on the canvas, undoably.
        QMimeData file;
        file.setUrls({ QUrl::fromLocalFile(png) });
        QVERIFY(dropOn(&file));
        QVERIFY(sameImage(w.canvas()->image(), testImage(48, 40)));
        w.canvas()->undoStack()->undo();
        QVERIFY(sameImage(w.canvas()->image(), original));
        // A project folder opens as the project.
        QMimeData folder;
        folder.setUrls({ QUrl::fromLocalFile(project) });
        QVERIFY(dropOn(&folder));
        QVERIFY(sameImage(w.canvas()->image(), d.image));
        QCOMPARE(w.canvas()->boxes().size(), 1);
        QCOMPARE(w.projectPath(), project);
        // Text is not a picture: refused, nothing changes.
        QMimeData text;
        text.setText(QStringLiteral("hello"));
        QVERIFY(!dropOn(&text));
        QVERIFY(sameImage(w.canvas()->image(), d.image));

        // Copy puts the canvas on the clipboard; pasting an image replaces the canvas (undoable).
        w.copyImage();
        QVERIFY(sameImage(QGuiApplication::clipboard()->image(), d.image));
        QGuiApplication::clipboard()->setImage(testImage(24, 24));
        QVERIFY(w.paste());
        QVERIFY(sameImage(w.canvas()->image(), testImage(24, 24)));
        w.canvas()->undoStack()->undo();
        QVERIFY(sameImage(w.canvas()->image(), d.image));
        QGuiApplication::clipboard()->setText(QStringLiteral("not a picture"));
        QVERIFY(!w.paste());
        QVERIFY(sameImage(w.canvas()->image(), d.image));
    }

    void reusedSettingsKeepWhatThePanelCannotShow()
    {
        QTemporaryDir tmp;
        const QString png = tmp.filePath(QStringLiteral("a1111.png"));
        ls::io::writeImage(png.toStdString(), ls::Image(64, 96, 3, 100),
            { { "parameters",
                "a red circle\nSteps: 9, Sampler: DPM++ 2M Karras, CFG scale: 5, Seed: 4, Size: 64x96, Clip skip: 2, "
                "Denoising strength: 0.4, Hires resize: 128x0, Hires steps: 3, Hires sampler: Euler, Hires CFG Scale: "
                "2, "
                "Masked area padding: 40, Inpaint area: Only masked, Variation seed: 5" } });
        MainWindow w(options(tmp.path()));
        const QString unused = w.importSettings(png);
        QVERIFY2(unused.contains(QStringLiteral("Variation seed: 5")), qPrintable(unused));
        const auto r = w.promptPanel()->request(false, false);
        QCOMPARE(r.width, 64);
        QCOMPARE(r.height, 96);
        QCOMPARE(QString::fromStdString(r.sampler), QStringLiteral("DPM++ 2M"));
        QCOMPARE(QString::fromStdString(r.schedule), QStringLiteral("Karras"));
        QCOMPARE(r.clipSkip, 2);
        QCOMPARE(r.hiresSize(), std::make_pair(128, 192));
        QCOMPARE(r.hiresSteps, 3);
        QCOMPARE(QString::fromStdString(r.hiresSampler), QStringLiteral("Euler"));
        QCOMPARE(r.hiresCfgScale, 2.0);
        QVERIFY(r.onlyMasked);
        QCOMPARE(r.onlyMaskedPadding, 40);
        // a scale the user sets afterwards replaces the picture's hires size
        w.promptPanel()->findChild<QDoubleSpinBox*>(QStringLiteral("hiresScale"))->setValue(1.5);
        QCOMPARE(w.promptPanel()->request(false, false).hiresSize(), std::make_pair(96, 144));
    }

    void toolBarFollowsTheCanvas()
    {
        QTemporaryDir tmp;
        MainWindow w(options(tmp.path()));
        QSignalSpy loaded(w.controller(), &GenerationController::modelLoaded);
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 30000);
        auto* size = w.findChild<QSpinBox*>(QStringLiteral("brushSize"));
        // The spy hears the worker's signal at once; the window's handler runs when the GUI thread gets to it.
        QTRY_COMPARE_WITH_TIMEOUT(size->value(), 4, 10000); // in proportion to the bundled model's 64-pixel picture
        auto* hardness = w.findChild<QSpinBox*>(QStringLiteral("brushHardness"));
        auto* opacity = w.findChild<QSpinBox*>(QStringLiteral("brushOpacity"));
        QVERIFY(size && hardness && opacity);
        hardness->setValue(30);
        QCOMPARE(w.canvas()->brushHardness(), 0.3);
        opacity->setValue(60);
        QCOMPARE(w.canvas()->brushOpacity(), 0.6);
        size->setValue(40);
        QCOMPARE(w.canvas()->brushSize(), 40);
        QTest::keyClick(w.canvas(), Qt::Key_BracketRight); // keys on the canvas show in the tool bar
        QCOMPARE(size->value(), w.canvas()->brushSize());
        QVERIFY(size->value() > 40);
        QTest::keyClick(w.canvas(), Qt::Key_5);
        QCOMPARE(opacity->value(), 50);
        // The tool buttons and the keys agree.
        QAction* box = nullptr;
        for (QAction* a : w.findChildren<QAction*>())
            if (a->text() == QStringLiteral("Box") && a->isCheckable())
                box = a;
        QVERIFY(box);
        box->trigger();
        QCOMPARE(w.canvas()->tool(), Canvas::Tool::Box);
        QTest::keyClick(w.canvas(), Qt::Key_B);
        QVERIFY(!box->isChecked());
    }

    void settingsRoundTripAndModelFolders()
    {
        QTemporaryDir tmp;
        QSettings ini(tmp.filePath(QStringLiteral("s.conf")), QSettings::IniFormat);
        AppSettings a;
        a.modelFolders = { tmp.filePath(QStringLiteral("models")), tmp.filePath(QStringLiteral("missing")) };
        a.threads = 3;
        a.previewMode = QStringLiteral("decode");
        a.previewInterval = 5;
        a.vocabulary = QStringLiteral("/opt/clip");
        a.undoMemoryMB = 96;
        a.fastDecode = true;
        a.save(ini);
        const AppSettings b = AppSettings::load(ini);
        QCOMPARE(b.modelFolders, a.modelFolders);
        QCOMPARE(b.threads, 3);
        QCOMPARE(b.previewMode, QStringLiteral("decode"));
        QCOMPARE(b.previewInterval, 5);
        QCOMPARE(b.vocabulary, QStringLiteral("/opt/clip"));
        QCOMPARE(b.undoMemoryMB, 96);
        QVERIFY(b.fastDecode);
        ini.setValue(QStringLiteral("preview/mode"), QStringLiteral("nonsense")); // hand-edited file
        ini.setValue(QStringLiteral("compute/threads"), -4);
        ini.setValue(QStringLiteral("canvas/undo_memory_mb"), 1);
        QCOMPARE(AppSettings::load(ini).undoMemoryMB, 16); // the smallest bound offered
        QCOMPARE(AppSettings::load(ini).previewMode, QStringLiteral("projection"));
        QCOMPARE(AppSettings::load(ini).threads, 0);
        // The application's own store (main() points XDG_CONFIG_HOME at a temporary folder) persists.
        a.save();
        QVERIFY(QFileInfo::exists(
            qEnvironmentVariable("XDG_CONFIG_HOME") + QStringLiteral("/latent-studio/latent-studio.conf")));
        QCOMPARE(AppSettings::load().threads, 3);
        QCOMPARE(AppSettings::load().modelFolders, a.modelFolders);

        // The model picker lists checkpoints and diffusers folders found in the model folders, and nothing else.
        QDir models(tmp.filePath(QStringLiteral("models")));
        QVERIFY(models.mkpath(QStringLiteral("sd-diffusers")));
        QVERIFY(models.mkpath(QStringLiteral("not-a-model")));
        for (const char* f : { "b.safetensors", "a.ckpt", "notes.txt", "sd-diffusers/model_index.json" }) {
            QFile file(models.filePath(QString::fromLatin1(f)));
            QVERIFY(file.open(QIODevice::WriteOnly));
        }
        const auto found = scanModelFolders(a.modelFolders);
        QStringList names;
        for (const auto& e : found)
            names << e.name;
        QCOMPARE(names,
            (QStringList {
                QStringLiteral("a.ckpt"), QStringLiteral("b.safetensors"), QStringLiteral("sd-diffusers") }));
        StartupOptions o = options(tmp.path());
        o.settings = a;
        MainWindow w(o);
        bool listed = false;
        for (QComboBox* c : w.promptPanel()->findChildren<QComboBox*>())
            listed = listed
                || (c->findText(QStringLiteral("b.safetensors")) >= 0
                    && c->findText(QStringLiteral("sd-diffusers")) >= 0);
        QVERIFY(listed);
    }

    void loraMenuListsTheModelFoldersLoras()
    {
        QTemporaryDir tmp;
        QDir models(tmp.filePath(QStringLiteral("models")));
        QVERIFY(models.mkpath(QStringLiteral("loras/styles")));
        for (const char* f : { "loras/film.safetensors", "loras/styles/ink.pt", "loras/readme.txt" }) {
            QFile file(models.filePath(QString::fromLatin1(f)));
            QVERIFY(file.open(QIODevice::WriteOnly));
        }
        StartupOptions o = options(tmp.path());
        o.settings.modelFolders = { models.path() };
        MainWindow w(o);
        PromptPanel* panel = w.promptPanel();
        QVERIFY(panel->loraFolders().contains(models.filePath(QStringLiteral("loras"))));
        QMenu* menu = panel->loraMenu();
        Q_EMIT menu->aboutToShow(); // what opening the menu does
        QStringList names;
        QAction* ink = nullptr;
        for (QAction* a : menu->actions()) {
            if (!a->isSeparator() && a->isEnabled())
                names << a->text();
            if (a->text() == QStringLiteral("styles/ink"))
                ink = a;
        }
        QCOMPARE(names,
            (QStringList {
                QStringLiteral("film"), QStringLiteral("styles/ink"), QStringLiteral("Open a LoRA file...") }));
        panel->setPrompt(QStringLiteral("a cat"));
        auto* edit = panel->findChild<QPlainTextEdit*>(QStringLiteral("prompt"));
        QVERIFY(edit);
        QTextCursor c = edit->textCursor();
        c.movePosition(QTextCursor::End);
        edit->setTextCursor(c);
        ink->trigger();
        QCOMPARE(
            QString::fromStdString(panel->request(false, false).prompt), QStringLiteral("a cat <lora:styles/ink:1>"));

        // The hires fix goes with text-to-image only, and comes back with "use these settings".
        panel->findChild<QDoubleSpinBox*>(QStringLiteral("hiresScale"))->setValue(2.0);
        panel->findChild<QDoubleSpinBox*>(QStringLiteral("hiresStrength"))->setValue(0.35);
        auto r = panel->request(false, false);
        QCOMPARE(r.hiresScale, 2.0);
        QCOMPARE(r.hiresStrength, 0.35);
        QCOMPARE(panel->request(true, false).hiresScale, 1.0); // a mask: inpainting
        r.hiresScale = 1.5;
        panel->applyRequest(r);
        QCOMPARE(panel->request(false, false).hiresScale, 1.5);
    }

    void queuedJobsAllRun()
    {
        QTemporaryDir tmp;
        MainWindow w(options(tmp.path()));
        QSignalSpy loaded(w.controller(), &GenerationController::modelLoaded);
        QTRY_COMPARE_WITH_TIMEOUT(loaded.count(), 1, 60000);
        QSignalSpy done(&w, &MainWindow::generationDone);
        w.promptPanel()->setPrompt(QStringLiteral("a small green square in the center"));
        w.generate();
        w.generate(); // while the first runs: queued, not dropped
        w.generate();
        // Generous: three generations take seconds on an idle machine but minutes when the cores are shared.
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 3, 300000);
        for (const auto& call : done)
            QVERIFY(call.at(1).toBool());
        QCOMPARE(w.history()->count(), 3);
    }

    void killedAppIsRecovered()
    {
        QTemporaryDir tmp;
        QProcess child;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("LS_PROJECT_CHILD"), tmp.path());
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        child.setProcessEnvironment(env);
        child.start(QCoreApplication::applicationFilePath(), {});
        QVERIFY(child.waitForStarted());
        QByteArray out;
        QElapsedTimer clock;
        clock.start();
        while (!out.contains("AUTOSAVED") && !out.contains("FAILED") && clock.elapsed() < 120000) {
            child.waitForReadyRead(500);
            out += child.readAllStandardOutput();
        }
        QVERIFY2(out.contains("AUTOSAVED"), out.constData());
        ::kill(static_cast<pid_t>(child.processId()), SIGKILL); // no chance to clean up
        QVERIFY(child.waitForFinished(10000));

        MainWindow w(options(tmp.path()));
        const QString candidate = w.recoveryCandidate();
        QVERIFY2(!candidate.isEmpty(), "no recovery offered after the crash");
        QVERIFY(w.restoreRecovery(candidate));
        const QSize s = w.canvas()->image().size();
        QCOMPARE(s, QSize(64, 64)); // the generated picture
        QCOMPARE(w.canvas()->mask(), rectMask(64, 64, QRect(10, 12, 20, 16)));
        QCOMPARE(w.canvas()->boxes().size(), 2);
        QCOMPARE(w.canvas()->boxes()[0].prompt, QStringLiteral("blue square"));
        QCOMPARE(w.history()->count(), 1);
        QVERIFY(w.history()->item(0)->toolTip().contains(QStringLiteral("Seed: 7")));
        QVERIFY(sameImage(w.history()->entry(0).image, w.canvas()->image()));
        QVERIFY(w.promptPanel()->request(false, false).prompt == "a small blue square at the bottom");
        // Restored work now lives in this instance's autosave; the crashed one is not offered again.
        QVERIFY(w.recoveryCandidate().isEmpty());
    }
};

int main(int argc, char** argv)
{
    const QByteArray child = qgetenv("LS_PROJECT_CHILD");
    if (!child.isEmpty())
        return childMain(argc, argv, QString::fromLocal8Bit(child));
    QTemporaryDir config, data; // never the developer's own settings file, LoRAs or embeddings
    qputenv("XDG_CONFIG_HOME", config.path().toLocal8Bit());
    qputenv("XDG_DATA_HOME", data.path().toLocal8Bit());
    qunsetenv("LS_LORA_PATH");
    qunsetenv("LS_EMBEDDING_PATH");
    QApplication app(argc, argv);
    qRegisterMetaType<QList<QImage>>("QList<QImage>");
    TestProject t;
    return QTest::qExec(&t, argc, argv);
}

#include "tst_project.moc"

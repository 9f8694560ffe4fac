// latent-studio: the desktop application.
#include "Canvas.h"
#include "GenerationController.h"
#include "GuiProbes.h"
#include "LiveMode.h"
#include "MainWindow.h"
#include "PromptPanel.h"
#include "Recovery.h"
#include "util/Threads.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QIcon>
#include <QPainter>
#include <QTimer>

#include <memory>
#include <string>

#include <cstdio>
#include <malloc.h>

namespace {

// The window's command line: the model, what to put on the canvas and in the panel, and automation (screenshots,
// benchmarks).
struct Cli {
    QCommandLineOption model { QStringLiteral("model"),
        QStringLiteral("Checkpoint to load (default: the bundled model)"), QStringLiteral("path") };
    QCommandLineOption config { QStringLiteral("config"), QStringLiteral("Model config JSON/YAML"),
        QStringLiteral("path") };
    QCommandLineOption vocab { QStringLiteral("vocab"), QStringLiteral("CLIP vocabulary file or folder"),
        QStringLiteral("path") };
    QCommandLineOption shot { QStringLiteral("screenshot"),
        QStringLiteral("Render the window to a PNG and quit (after --prompt's generation, if any)"),
        QStringLiteral("png") };
    QCommandLineOption prompt { QStringLiteral("prompt"),
        QStringLiteral("Prompt to put in the panel (and generate with --screenshot)"), QStringLiteral("text") };
    QCommandLineOption boxes { QStringLiteral("boxes"), QStringLiteral("Boxes for the canvas: x,y,w,h,label;..."),
        QStringLiteral("list") };
    QCommandLineOption maskRect { QStringLiteral("mask-rect"), QStringLiteral("Paint a mask rectangle x,y,w,h"),
        QStringLiteral("rect") };
    QCommandLineOption noGenerate { QStringLiteral("no-generate"),
        QStringLiteral("With --screenshot: do not generate") };
    QCommandLineOption probe { QStringLiteral("probe-responsiveness"),
        QStringLiteral("Benchmark: load the model and run N queued generations while a 5 ms timer measures the longest "
                       "event-loop stall; prints JSON and quits"),
        QStringLiteral("N") };
    QCommandLineOption probeLive { QStringLiteral("probe-live"),
        QStringLiteral(
            "Benchmark: turn live mode on and make N paint strokes, each waiting for its picture; prints the "
            "edit-to-picture latency and the longest event-loop stall as JSON and quits"),
        QStringLiteral("N") };
    QCommandLineOption size { QStringLiteral("size"), QStringLiteral("Picture size WxH (default: the model's own)"),
        QStringLiteral("WxH") };
    QCommandLineOption mode { QStringLiteral("mode"),
        QStringLiteral("Job: Auto, txt2img, img2img, inpaint, layout or upscale"), QStringLiteral("name") };
    QCommandLineOption guidance { QStringLiteral("guidance"), QStringLiteral("Guidance scale to put in the panel"),
        QStringLiteral("scale") };
    QCommandLineOption expand { QStringLiteral("expand"),
        QStringLiteral("Grow the canvas for outpainting by L,T,R,B pixels (the new area masked)"),
        QStringLiteral("L,T,R,B") };
    QCommandLineOption controlLayer { QStringLiteral("control-layer"),
        QStringLiteral("Add a control layer: a ControlNet file and optionally its image"),
        QStringLiteral("MODEL[,IMAGE]") };
    QCommandLineOption liveOpt { QStringLiteral("live"), QStringLiteral("Start with live painting on") };

    void addTo(QCommandLineParser& p) const
    {
        p.addOptions({ model, config, vocab, shot, prompt, boxes, maskRect, noGenerate, probe, probeLive, size, mode,
            guidance, expand, controlLayer, liveOpt });
    }
};

// The canvas and the panel as the options say; 2 (after a message on stderr) when one of them is malformed.
int prepareWindow(ls::ui::MainWindow& w, const QCommandLineParser& parser, const Cli& c)
{
    if (parser.isSet(c.prompt))
        w.promptPanel()->setPrompt(parser.value(c.prompt));
    if (parser.isSet(c.guidance)) {
        bool ok = false;
        const double g = parser.value(c.guidance).toDouble(&ok);
        if (!ok || g < 0 || g > 30) {
            std::fprintf(stderr, "latent-studio: --guidance: '%s' is not a number from 0 to 30\n",
                qPrintable(parser.value(c.guidance)));
            return 2;
        }
        w.promptPanel()->setGuidance(g);
    }
    if (parser.isSet(c.size)) {
        const QStringList wh = parser.value(c.size).split(QLatin1Char('x'));
        const int sw = wh.size() == 2 ? wh[0].toInt() : 0, sh = wh.size() == 2 ? wh[1].toInt() : 0;
        if (sw <= 0 || sh <= 0) {
            std::fprintf(stderr, "--size: expected WxH, e.g. 512x512\n");
            return 2;
        }
        QObject::connect(w.controller(), &ls::ui::GenerationController::modelLoaded, &w,
            [&w, sw, sh] { w.promptPanel()->setSize(sw, sh); });
    }
    if (parser.isSet(c.mode)) {
        const QString m = parser.value(c.mode);
        QObject::connect(
            w.controller(), &ls::ui::GenerationController::modelLoaded, &w, [&w, m] { w.promptPanel()->setMode(m); });
    }
    if (parser.isSet(c.boxes)) {
        QVector<ls::ui::CanvasBox> list;
        for (const QString& b : parser.value(c.boxes).split(QLatin1Char(';'), Qt::SkipEmptyParts)) {
            const QStringList f = b.split(QLatin1Char(','));
            if (f.size() >= 5)
                list.push_back({ QRectF(f[0].toDouble(), f[1].toDouble(), f[2].toDouble(), f[3].toDouble()),
                    f.mid(4).join(QLatin1Char(',')) });
        }
        w.canvas()->setBoxes(list, false);
    }
    if (parser.isSet(c.maskRect)) {
        const QStringList f = parser.value(c.maskRect).split(QLatin1Char(','));
        QImage m(w.canvas()->image().size(), QImage::Format_Grayscale8);
        m.fill(0);
        if (f.size() == 4) {
            QPainter p(&m);
            p.fillRect(QRect(f[0].toInt(), f[1].toInt(), f[2].toInt(), f[3].toInt()), Qt::white);
        }
        w.canvas()->setMask(m, false);
    }
    if (parser.isSet(c.controlLayer)) { // MODEL[,IMAGE]: a control layer as the Control layers dock adds one
        const QStringList f = parser.value(c.controlLayer).split(QLatin1Char(','));
        ls::ui::ControlLayer layer;
        layer.model = f.value(0);
        if (f.size() > 1 && !layer.image.load(f[1])) {
            std::fprintf(stderr, "--control-layer: %s: not a readable image\n", qPrintable(f[1]));
            return 2;
        }
        w.canvas()->addControl(layer);
    }
    if (parser.isSet(c.expand)) {
        const QStringList f = parser.value(c.expand).split(QLatin1Char(','));
        if (f.size() != 4) {
            std::fprintf(stderr, "--expand: expected LEFT,TOP,RIGHT,BOTTOM in pixels, e.g. 0,0,32,0\n");
            return 2;
        }
        w.canvas()->expand(f[0].toInt(), f[1].toInt(), f[2].toInt(), f[3].toInt());
    }
    return 0;
}

// Live mode at start, the benchmarks, the screenshot, or the recovery question.
void automate(ls::ui::MainWindow& w, const QCommandLineParser& parser, const Cli& c)
{
    if (parser.isSet(c.liveOpt))
        QObject::connect(w.controller(), &ls::ui::GenerationController::modelLoaded, &w,
            [&w] { QTimer::singleShot(0, &w, [&w] { w.live()->setOn(true); }); });
    if (parser.isSet(c.probe) || parser.isSet(c.probeLive)) {
        if (!parser.isSet(c.prompt))
            w.promptPanel()->setPrompt(
                QStringLiteral("a large red circle at the top left and a small blue square at the bottom right"));
        if (parser.isSet(c.probe))
            ls::ui::probeResponsiveness(w, std::max(1, parser.value(c.probe).toInt()));
        else
            ls::ui::probeLive(w, std::max(1, parser.value(c.probeLive).toInt()));
    } else if (!parser.isSet(c.shot)) {
        ls::ui::offerRecovery(w); // an instance that did not exit cleanly left its autosave: never dropped silently
    }
    if (parser.isSet(c.shot)) {
        const QString out = parser.value(c.shot);
        auto save = [&w, out] {
            w.grab().save(out);
            QApplication::quit();
        };
        if (parser.isSet(c.noGenerate)) {
            QTimer::singleShot(1500, &w, save);
        } else if (parser.isSet(c.liveOpt)) { // the first live picture instead of a generation
            QObject::connect(w.live(), &ls::ui::LiveMode::pictureShown, &w, [save] { QTimer::singleShot(300, save); });
        } else {
            QObject::connect(w.controller(), &ls::ui::GenerationController::modelLoaded, &w,
                [&w] { QTimer::singleShot(100, &w, [&w] { w.generate(); }); });
            QObject::connect(
                &w, &ls::ui::MainWindow::generationDone, &w, [save](int, bool) { QTimer::singleShot(200, save); });
        }
    }
}

} // namespace

int main(int argc, char** argv)
{
    ls::restartWithPassiveOpenMpWait(argv);
    // --version must work without a display (package smoke test).
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--version" || std::string(argv[i]) == "-v") {
            std::printf("latent-studio %s\n", LS_VERSION);
            return 0;
        }
    }
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("latent-studio"));
    QApplication::setApplicationDisplayName(QStringLiteral("Latent Studio"));
    QApplication::setApplicationVersion(QStringLiteral(LS_VERSION));
    QApplication::setWindowIcon(QIcon::fromTheme(QStringLiteral("latent-studio")));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Latent diffusion image synthesis"));
    parser.addHelpOption();
    parser.addVersionOption();
    const Cli c;
    c.addTo(parser);
    parser.addPositionalArgument(QStringLiteral("file"), QStringLiteral("Image or project (.lsproj folder) to open"));
    parser.process(app);
    ls::ui::StartupOptions o;
    o.model = parser.value(c.model);
    o.config = parser.value(c.config);
    o.vocabulary = parser.value(c.vocab);
    if (parser.isSet(c.shot) || parser.isSet(c.probe)
        || parser.isSet(c.probeLive)) { // automation: no questions, nothing left to recover
        o.askOnClose = false;
        o.autosaveSeconds = 0;
    }
    ls::ui::MainWindow w(o);
    if (!parser.positionalArguments().isEmpty()) {
        const QString arg = parser.positionalArguments().first();
        if (QFileInfo(arg).isDir())
            w.openProject(arg);
        else
            w.openImage(arg);
    }
    if (const int rc = prepareWindow(w, parser, c))
        return rc;
    w.show();
    automate(w, parser, c);
    return app.exec();
}

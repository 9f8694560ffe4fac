#include "GuiProbes.h"

#include "Canvas.h"
#include "GenerationController.h"
#include "LiveMode.h"
#include "MainWindow.h"
#include "StallProbe.h"

#include <QApplication>
#include <QMouseEvent>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

namespace ls::ui {

namespace {
void quitOnModelFailure(MainWindow& w)
{
    QObject::connect(w.controller(), &GenerationController::modelFailed, &w, [](const QString& m) {
        std::fprintf(stderr, "model failed: %s\n", qPrintable(m));
        QApplication::exit(2);
    });
}

// A left-button drag across the canvas, as the mouse would make it (the Paint tool's stroke, one edit).
void stroke(Canvas* c, QPointF from, QPointF to)
{
    auto send = [c](QEvent::Type type, QPointF imagePos, Qt::MouseButtons buttons) {
        const QPointF p = c->toWidget(imagePos);
        QMouseEvent e(type, p, c->mapToGlobal(p), Qt::LeftButton, buttons, Qt::NoModifier);
        QApplication::sendEvent(c, &e);
    };
    send(QEvent::MouseButtonPress, from, Qt::LeftButton);
    for (int i = 1; i <= 8; ++i)
        send(QEvent::MouseMove, from + (to - from) * (i / 8.0), Qt::LeftButton);
    send(QEvent::MouseButtonRelease, to, Qt::NoButton);
}
} // namespace

void probeResponsiveness(MainWindow& w, int jobs)
{
    auto* probe = new StallProbe(&w);
    probe->start();
    QObject::connect(w.controller(), &GenerationController::modelLoaded, &w, [&w, jobs] {
        for (int i = 0; i < jobs; ++i)
            w.generate();
    });
    quitOnModelFailure(w);
    auto done = std::make_shared<int>(0);
    QObject::connect(&w, &MainWindow::generationDone, &w, [probe, done, jobs](int, bool) {
        if (++*done < jobs)
            return;
        std::printf("{\"max_stall_ms\": %.1f, \"ticks\": %lld, \"jobs\": %d, \"seconds\": %.2f}\n", probe->maxStallMs(),
            probe->ticks(), jobs, probe->seconds());
        QApplication::quit();
    });
}

void probeLive(MainWindow& w, int edits)
{
    auto* probe = new StallProbe(&w);
    auto latencies = std::make_shared<std::vector<double>>();
    auto next = std::make_shared<std::function<void()>>();
    LiveMode* live = w.live();
    *next = [&w, edits, latencies] {
        // A stroke across the picture, a little lower each time, in a colour of its own.
        const int i = static_cast<int>(latencies->size());
        Canvas* c = w.canvas();
        const double side = c->image().width(), y = c->image().height() * (0.2 + 0.6 * i / std::max(1, edits));
        c->setTool(Canvas::Tool::Paint);
        c->setBrushSize(std::max(2, c->image().width() / 8));
        c->setBrushColor(QColor::fromHsv((i * 67) % 360, 200, 220));
        stroke(c, QPointF(side * 0.15, y), QPointF(side * 0.85, y));
    };
    QObject::connect(live, &LiveMode::pictureShown, &w, [live, probe, latencies, next, edits](int, const QImage&) {
        if (!probe->property("warm").toBool()) { // the first picture (model warm-up) is not counted
            probe->setProperty("warm", true);
            probe->start();
        } else {
            latencies->push_back(live->lastLatency());
        }
        if (static_cast<int>(latencies->size()) < edits) {
            QTimer::singleShot(0, live, *next);
            return;
        }
        std::vector<double> sorted = *latencies;
        std::sort(sorted.begin(), sorted.end());
        std::printf("{\"edits\": %d, \"median_latency_s\": %.3f, \"max_latency_s\": %.3f, \"max_stall_ms\": %.1f}\n",
            edits, sorted[sorted.size() / 2], sorted.back(), probe->maxStallMs());
        QApplication::quit();
    });
    QObject::connect(w.controller(), &GenerationController::modelLoaded, &w,
        [live] { QTimer::singleShot(0, live, [live] { live->setOn(true); }); });
    quitOnModelFailure(w);
}

} // namespace ls::ui

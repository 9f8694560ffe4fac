#pragma once
// What the window tests share: a window that never touches the developer's own settings, history or recovery, and a
// mouse drag on the canvas as a user makes it.
#include "Canvas.h"
#include "MainWindow.h"

#include <QtTest/QtTest>

namespace ls::ui::test {

inline StartupOptions windowOptions(const QString& root, int autosaveSeconds = 0)
{
    StartupOptions o;
    o.historyDir = root + QStringLiteral("/history");
    o.recoveryDir = root + QStringLiteral("/recovery");
    o.autosaveSeconds = autosaveSeconds;
    o.askOnClose = false;
    o.useStoredSettings = false; // never the developer's own settings
    return o;
}

// A shown 512x512 canvas holding a size x size picture of one colour, fitted to the window.
inline void prepare(Canvas& c, int size, QColor fill = Qt::gray)
{
    c.resize(512, 512);
    c.show();
    QImage img(size, size, QImage::Format_RGB888);
    img.fill(fill);
    c.setImage(img, false);
    c.fitToWindow();
}

// Press at `from`, two moves, release at `to` (image coordinates): one stroke, box drag or border drag.
inline void drag(Canvas& c, QPointF from, QPointF to)
{
    QTest::mousePress(&c, Qt::LeftButton, {}, c.toWidget(from).toPoint());
    QTest::mouseMove(&c, c.toWidget((from + to) / 2).toPoint());
    QTest::mouseMove(&c, c.toWidget(to).toPoint());
    QTest::mouseRelease(&c, Qt::LeftButton, {}, c.toWidget(to).toPoint());
}

} // namespace ls::ui::test

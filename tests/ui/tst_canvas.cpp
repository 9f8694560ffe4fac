// Canvas tools driven by QTest mouse and key events: brush and eraser pixels (size, hardness, opacity), boxes (draw,
// move, resize, delete, label edited in place), the paint tool on the picture, growing the canvas for outpainting
// (menu and drag), the comparison view, undo/redo and its memory bound.
#include "Canvas.h"
#include "UiTestUtil.h"

#include <QLineEdit>
#include <QtTest/QtTest>

using ls::ui::Canvas;
using ls::ui::UndoHistory;

namespace {
using ls::ui::test::prepare;
QPoint at(const Canvas& c, double x, double y) { return c.toWidget(QPointF(x, y)).toPoint(); }
using ls::ui::test::drag;
int maskAt(const Canvas& c, int x, int y) { return qGray(c.mask().pixel(x, y)); }
} // namespace

class TestCanvas : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void brushEraserUndo()
    {
        Canvas c;
        c.resize(512, 512);
        c.show();
        QImage img(128, 128, QImage::Format_RGB888);
        img.fill(Qt::gray);
        c.setImage(img, false);
        c.fitToWindow();
        QVERIFY(c.maskIsEmpty());
        c.setBrushSize(10);
        const QPoint a = c.toWidget(QPointF(20, 64)).toPoint(), b = c.toWidget(QPointF(100, 64)).toPoint();
        QTest::mousePress(&c, Qt::LeftButton, {}, a);
        QTest::mouseMove(&c, b);
        QTest::mouseRelease(&c, Qt::LeftButton, {}, b);
        QCOMPARE(qGray(c.mask().pixel(60, 64)), 255); // on the stroke
        QCOMPARE(qGray(c.mask().pixel(60, 64 + 12)), 0); // beyond the brush radius
        QCOMPARE(qGray(c.mask().pixel(60, 10)), 0);
        // Eraser (X swaps) removes what was painted.
        QTest::keyClick(&c, Qt::Key_X);
        QCOMPARE(c.tool(), Canvas::Tool::Eraser);
        const QPoint m = c.toWidget(QPointF(60, 64)).toPoint();
        QTest::mousePress(&c, Qt::LeftButton, {}, m);
        QTest::mouseRelease(&c, Qt::LeftButton, {}, m);
        QCOMPARE(qGray(c.mask().pixel(60, 64)), 0);
        // Undo the erase, then the stroke; redo brings the stroke back.
        c.undoStack()->undo();
        QCOMPARE(qGray(c.mask().pixel(60, 64)), 255);
        c.undoStack()->undo();
        QVERIFY(c.maskIsEmpty());
        c.undoStack()->redo();
        QCOMPARE(qGray(c.mask().pixel(60, 64)), 255);
        // Brush size keys.
        const int before = c.brushSize();
        QTest::keyClick(&c, Qt::Key_BracketRight);
        QVERIFY(c.brushSize() > before);
        c.invertMask();
        QCOMPARE(qGray(c.mask().pixel(60, 10)), 255);
        c.clearMask();
        QVERIFY(c.maskIsEmpty());
    }

    void paintOnThePicture()
    {
        Canvas c;
        prepare(c, 128);
        const QImage before = c.image();
        c.setTool(Canvas::Tool::Paint);
        c.setBrushColor(QColor(200, 30, 40));
        c.setBrushSize(10);
        drag(c, QPointF(20, 64), QPointF(100, 64));
        QCOMPARE(c.image().pixelColor(60, 64), QColor(200, 30, 40)); // a hard, opaque brush lays its colour
        QCOMPARE(c.image().pixelColor(60, 80), QColor(Qt::gray)); // beyond the radius
        QVERIFY(c.maskIsEmpty()); // painting the picture leaves the mask alone
        // Half opacity: halfway between the picture and the colour.
        c.setBrushOpacity(0.5);
        c.setBrushColor(QColor(0, 0, 0));
        drag(c, QPointF(20, 30), QPointF(100, 30));
        QVERIFY(std::abs(c.image().pixelColor(60, 30).red() - QColor(Qt::gray).red() / 2) <= 1);
        // Ctrl+click picks the colour under the cursor.
        QTest::mouseClick(&c, Qt::LeftButton, Qt::ControlModifier, at(c, 60, 64));
        QCOMPARE(c.brushColor(), QColor(200, 30, 40));
        c.undoStack()->undo();
        c.undoStack()->undo();
        QVERIFY(c.image() == before); // bit for bit
        QCOMPARE(c.undoStack()->undoText(), QString());
        c.undoStack()->redo();
        QCOMPARE(c.image().pixelColor(60, 64), QColor(200, 30, 40));
    }

    void strokeEndsWhenThePictureIsReplaced()
    {
        // A result of another size arriving mid-stroke (a hires pass) replaces the picture: the stroke ends there,
        // nothing is painted outside the new picture's bounds and no stroke edit is recorded.
        Canvas c;
        prepare(c, 64);
        c.setTool(Canvas::Tool::Paint);
        c.setBrushColor(QColor(200, 30, 40));
        c.setBrushSize(10);
        QTest::mousePress(&c, Qt::LeftButton, {}, c.toWidget(QPointF(10, 10)).toPoint());
        const int edits = c.undoStack()->count();
        QImage big(128, 128, QImage::Format_RGB888);
        big.fill(Qt::white);
        c.setImage(big, false);
        QTest::mouseMove(&c, c.toWidget(QPointF(100, 100)).toPoint());
        QTest::mouseRelease(&c, Qt::LeftButton, {}, c.toWidget(QPointF(100, 100)).toPoint());
        QVERIFY(c.image() == big.convertToFormat(QImage::Format_RGB888));
        QCOMPARE(c.undoStack()->count(), edits);
    }

    void expandForOutpainting()
    {
        Canvas c;
        prepare(c, 64, QColor(10, 120, 200));
        c.setBoxes({ { QRectF(4, 4, 20, 20), QStringLiteral("red circle") } }, false);
        QImage mask(64, 64, QImage::Format_Grayscale8);
        mask.fill(0);
        mask.setPixelColor(30, 30, Qt::white);
        c.setMask(mask, false);
        const QImage before = c.image();
        c.expand(16, 0, 24, 8);
        QCOMPARE(c.image().size(), QSize(104, 72));
        QVERIFY(c.image().copy(16, 0, 64, 64) == before); // the old picture, moved, untouched
        QCOMPARE(c.image().pixelColor(2, 30), QColor(10, 120, 200)); // the new area starts from the edge colours
        QCOMPARE(maskAt(c, 2, 30), 255); // new area masked
        QCOMPARE(maskAt(c, 16 + 4, 30), 255); // 8 pixels of overlap into the old picture on a grown side
        QCOMPARE(maskAt(c, 16 + 12, 30), 0); // beyond the overlap: kept
        QCOMPARE(maskAt(c, 16 + 30, 30), 255); // the old mask moved with the picture
        QCOMPARE(maskAt(c, 16 + 30, 3), 0); // the top did not grow: no overlap there
        QCOMPARE(c.boxes()[0].rect, QRectF(20, 4, 20, 20));
        c.undoStack()->undo();
        QVERIFY(c.image() == before);
        QCOMPARE(c.boxes()[0].rect, QRectF(4, 4, 20, 20));
        QCOMPARE(maskAt(c, 30, 30), 255);
        c.undoStack()->redo();
        QCOMPARE(c.image().size(), QSize(104, 72));
        // The Expand tool: dragging the right border 20 pixels out grows it by the step multiple above (24).
        c.undoStack()->undo();
        c.setExpandStep(8);
        QTest::keyClick(&c, Qt::Key_C);
        QCOMPARE(c.tool(), Canvas::Tool::Expand);
        drag(c, QPointF(63.5, 32), QPointF(83.5, 32));
        QCOMPARE(c.image().size(), QSize(88, 64));
        QCOMPARE(maskAt(c, 80, 32), 255);
        QCOMPARE(maskAt(c, 10, 32), 0);
        // A drag inside the picture grows nothing.
        drag(c, QPointF(30, 30), QPointF(50, 40));
        QCOMPARE(c.image().size(), QSize(88, 64));
    }

    void boxes()
    {
        Canvas c;
        c.resize(512, 512);
        c.show();
        QImage img(256, 256, QImage::Format_RGB888);
        img.fill(Qt::white);
        c.setImage(img, false);
        c.fitToWindow();
        QTest::keyClick(&c, Qt::Key_R);
        QCOMPARE(c.tool(), Canvas::Tool::Box);
        QSignalSpy edit(&c, &Canvas::boxEditRequested);
        QTest::mousePress(&c, Qt::LeftButton, {}, c.toWidget(QPointF(20, 30)).toPoint());
        QTest::mouseMove(&c, c.toWidget(QPointF(120, 90)).toPoint());
        QTest::mouseRelease(&c, Qt::LeftButton, {}, c.toWidget(QPointF(120, 90)).toPoint());
        QCOMPARE(c.boxes().size(), 1);
        QVERIFY(std::abs(c.boxes()[0].rect.left() - 20) < 2 && std::abs(c.boxes()[0].rect.bottom() - 90) < 2);
        QCOMPARE(edit.count(), 1);
        // Move it by dragging from inside.
        QTest::mousePress(&c, Qt::LeftButton, {}, c.toWidget(QPointF(50, 50)).toPoint());
        QTest::mouseMove(&c, c.toWidget(QPointF(80, 60)).toPoint());
        QTest::mouseRelease(&c, Qt::LeftButton, {}, c.toWidget(QPointF(80, 60)).toPoint());
        QVERIFY(std::abs(c.boxes()[0].rect.left() - 50) < 2);
        // Delete, undo.
        QTest::keyClick(&c, Qt::Key_Delete);
        QCOMPARE(c.boxes().size(), 0);
        c.undoStack()->undo();
        QCOMPARE(c.boxes().size(), 1);
        // A click without dragging makes no box.
        QTest::mouseClick(&c, Qt::LeftButton, {}, c.toWidget(QPointF(200, 200)).toPoint());
        QCOMPARE(c.boxes().size(), 1);
    }

    void softBrushAndOpacity()
    {
        Canvas c;
        prepare(c, 128);
        c.setBrushSize(20); // radius 10
        c.setBrushHardness(0.5);
        c.setBrushOpacity(0.5);
        // One dab: full strength (half of white) inside radius 5, a smooth fall-off to nothing at radius 10.
        QTest::mouseClick(&c, Qt::LeftButton, {}, at(c, 64, 64));
        const int centre = maskAt(c, 64, 64);
        QVERIFY2(std::abs(centre - 128) <= 2, qPrintable(QString::number(centre)));
        QCOMPARE(maskAt(c, 64 + 3, 64), centre);
        int previous = centre;
        for (int dx = 5; dx <= 9; ++dx) { // strictly falling across the soft edge
            const int v = maskAt(c, 64 + dx, 64);
            QVERIFY2(v <= previous && v < centre, qPrintable(QStringLiteral("dx %1: %2").arg(dx).arg(v)));
            previous = v;
        }
        QVERIFY(maskAt(c, 64 + 7, 64) > 0);
        QCOMPARE(maskAt(c, 64 + 11, 64), 0);
        // Going back and forth within one stroke never passes the opacity...
        QTest::mousePress(&c, Qt::LeftButton, {}, at(c, 30, 30));
        for (int i = 0; i < 6; ++i)
            QTest::mouseMove(&c, at(c, i % 2 ? 30 : 50, 30));
        QTest::mouseRelease(&c, Qt::LeftButton, {}, at(c, 30, 30));
        QVERIFY(std::abs(maskAt(c, 40, 30) - 128) <= 2);
        // ...a second stroke builds on the first (128 + half of the rest).
        QTest::mouseClick(&c, Qt::LeftButton, {}, at(c, 64, 64));
        QVERIFY2(std::abs(maskAt(c, 64, 64) - 191) <= 2, qPrintable(QString::number(maskAt(c, 64, 64))));
        // The half-opacity eraser halves it.
        const int before = maskAt(c, 64, 64);
        c.setTool(Canvas::Tool::Eraser);
        QTest::mouseClick(&c, Qt::LeftButton, {}, at(c, 64, 64));
        QVERIFY(std::abs(maskAt(c, 64, 64) - before / 2) <= 2);
        // Keys: Shift+[ / Shift+] step the hardness, digits set the opacity (0 = 100%).
        QTest::keyClick(&c, Qt::Key_BraceRight);
        QCOMPARE(c.brushHardness(), 0.6);
        QTest::keyClick(&c, Qt::Key_BraceLeft);
        QTest::keyClick(&c, Qt::Key_BraceLeft);
        QCOMPARE(c.brushHardness(), 0.4);
        QTest::keyClick(&c, Qt::Key_3);
        QCOMPARE(c.brushOpacity(), 0.3);
        QTest::keyClick(&c, Qt::Key_0);
        QCOMPARE(c.brushOpacity(), 1.0);
        // Undo walks the four strokes back to an empty mask.
        for (int i = 0; i < 4; ++i)
            c.undoStack()->undo();
        QVERIFY(c.maskIsEmpty());
        QCOMPARE(maskAt(c, 64, 64), 0);
    }

    void boxResizeAndLabelInPlace()
    {
        Canvas c;
        prepare(c, 256, Qt::white);
        c.setTool(Canvas::Tool::Box);
        drag(c, { 20, 30 }, { 120, 90 });
        QCOMPARE(c.boxes().size(), 1);
        // Drawing opens the label editor on the canvas; typing and Enter label the box.
        QVERIFY(c.isEditingLabel());
        QVERIFY(c.labelEditor()->isVisible());
        QTest::keyClicks(c.labelEditor(), QStringLiteral("red circle"));
        QTest::keyClick(c.labelEditor(), Qt::Key_Return);
        QVERIFY(!c.isEditingLabel());
        QVERIFY(!c.labelEditor()->isVisible());
        QCOMPARE(c.boxes()[0].prompt, QStringLiteral("red circle"));
        c.undoStack()->undo(); // the label
        QCOMPARE(c.boxes().size(), 1);
        QCOMPARE(c.boxes()[0].prompt, QString());
        c.undoStack()->redo();
        QCOMPARE(c.boxes()[0].prompt, QStringLiteral("red circle"));
        // The bottom-right corner follows the mouse.
        const double zoom = c.zoom();
        drag(c, { 120, 90 }, { 150, 110 });
        QRectF r = c.boxes()[0].rect;
        QVERIFY2(std::abs(r.left() - 20) < 2 && std::abs(r.top() - 30) < 2 && std::abs(r.right() - 150) < 2
                && std::abs(r.bottom() - 110) < 2,
            qPrintable(QStringLiteral("%1 %2 %3 %4 zoom %5")
                           .arg(r.left())
                           .arg(r.top())
                           .arg(r.right())
                           .arg(r.bottom())
                           .arg(zoom)));
        // The left edge alone, then undo.
        drag(c, { 20, 70 }, { 45, 70 });
        r = c.boxes()[0].rect;
        QVERIFY(std::abs(r.left() - 45) < 2 && std::abs(r.right() - 150) < 2 && std::abs(r.top() - 30) < 2);
        c.undoStack()->undo();
        QVERIFY(std::abs(c.boxes()[0].rect.left() - 20) < 2);
        QCOMPARE(c.boxes()[0].prompt, QStringLiteral("red circle"));
        // Moving keeps the box inside the image.
        drag(c, { 80, 70 }, { 250, 250 });
        r = c.boxes()[0].rect;
        QVERIFY(r.right() <= 256.01 && r.bottom() <= 256.01 && std::abs(r.width() - 130) < 2
            && std::abs(r.height() - 80) < 2);
        // Double-click reopens the editor; Esc leaves it without changing the label.
        QTest::mouseDClick(&c, Qt::LeftButton, {}, at(c, r.center().x(), r.center().y()));
        QVERIFY(c.isEditingLabel());
        QCOMPARE(c.labelEditor()->text(), QStringLiteral("red circle"));
        QTest::keyClicks(c.labelEditor(), QStringLiteral("something else"));
        QTest::keyClick(c.labelEditor(), Qt::Key_Escape);
        QVERIFY(!c.isEditingLabel());
        QCOMPARE(c.boxes()[0].prompt, QStringLiteral("red circle"));
        // Enter on the selected box edits it too.
        QTest::keyClick(&c, Qt::Key_Return);
        QVERIFY(c.isEditingLabel());
        c.labelEditor()->setText(QStringLiteral("blue square"));
        QTest::keyClick(c.labelEditor(), Qt::Key_Enter);
        QCOMPARE(c.boxes()[0].prompt, QStringLiteral("blue square"));
    }

    void panWithSpaceOrMiddleButton()
    {
        Canvas c;
        prepare(c, 128);
        const QPointF before = c.toWidget(QPointF(0, 0));
        // Space held: a left drag moves the view and paints nothing.
        QTest::keyPress(&c, Qt::Key_Space);
        QTest::mousePress(&c, Qt::LeftButton, {}, QPoint(200, 200));
        QTest::mouseMove(&c, QPoint(230, 210));
        QTest::mouseRelease(&c, Qt::LeftButton, {}, QPoint(230, 210));
        QTest::keyRelease(&c, Qt::Key_Space);
        QVERIFY(c.maskIsEmpty());
        QCOMPARE(c.toWidget(QPointF(0, 0)), before + QPointF(30, 10));
        // The middle button pans too; after space is let go a left drag paints again.
        QTest::mousePress(&c, Qt::MiddleButton, {}, QPoint(200, 200));
        QTest::mouseMove(&c, QPoint(190, 200));
        QTest::mouseRelease(&c, Qt::MiddleButton, {}, QPoint(190, 200));
        QCOMPARE(c.toWidget(QPointF(0, 0)), before + QPointF(20, 10));
        QTest::mouseClick(&c, Qt::LeftButton, {}, at(c, 64, 64));
        QVERIFY(!c.maskIsEmpty());
    }

    void compareView()
    {
        Canvas c;
        prepare(c, 128, Qt::red);
        QImage other(128, 128, QImage::Format_RGB888);
        other.fill(Qt::blue);
        QSignalSpy changed(&c, &Canvas::compareChanged);
        c.setCompareImage(other);
        QVERIFY(c.comparing());
        QCOMPARE(changed.count(), 1);
        auto shown = [&](double x, double y) { return c.grab().toImage().pixelColor(at(c, x, y)); };
        QCOMPARE(shown(20, 64), QColor(Qt::blue)); // the result left of the divider
        QCOMPARE(shown(108, 64), QColor(Qt::red)); // the canvas right of it
        // Dragging moves the divider and paints nothing.
        drag(c, { 64, 64 }, { 100, 64 });
        QVERIFY(std::abs(c.compareSplit() - 100 / 128.0) < 0.02);
        QCOMPARE(shown(90, 64), QColor(Qt::blue));
        QVERIFY(c.maskIsEmpty());
        QCOMPARE(c.undoStack()->count(), 0);
        c.clearCompare();
        QVERIFY(!c.comparing());
        QCOMPARE(shown(20, 64), QColor(Qt::red));
        QCOMPARE(changed.count(), 2);
        // Choosing a tool (here by its key) ends a comparison too.
        c.setCompareImage(other);
        QTest::keyClick(&c, Qt::Key_R);
        QVERIFY(!c.comparing());
        QCOMPARE(c.tool(), Canvas::Tool::Box);
    }

    void undoHistoryIsBoundedByMemory()
    {
        UndoHistory h;
        h.setMemoryLimit(1000);
        int value = 0;
        for (int i = 1; i <= 5; ++i) {
            const int was = value;
            value = i;
            h.push(
                QStringLiteral("set %1").arg(i), [&value, was] { value = was; }, [&value, i] { value = i; }, 300);
        }
        QCOMPARE(h.count(), 3); // 3 x 300 fit in 1000
        QVERIFY(h.bytes() <= 1000);
        QCOMPARE(h.dropped(), 2);
        QCOMPARE(h.undoText(), QStringLiteral("set 5"));
        h.undo();
        h.undo();
        h.undo();
        QCOMPARE(value, 2); // the oldest kept edit undone; the two before it are gone
        QVERIFY(!h.canUndo());
        h.undo();
        QCOMPARE(value, 2);
        h.redo();
        QCOMPARE(value, 3);
        // Pushing discards what could be redone; the newest edit stays even when it alone is over the limit.
        h.push(
            QStringLiteral("big"), [&value] { value = -1; }, [&value] { value = 99; }, 5000);
        QCOMPARE(h.count(), 1);
        QVERIFY(!h.canRedo());
        h.undo();
        QCOMPARE(value, -1);

        // On the canvas: a stroke keeps only its own region; whole-mask edits fill the budget and the oldest go.
        Canvas c;
        prepare(c, 512);
        c.undoStack()->setMemoryLimit(1200 * 1024);
        c.setBrushSize(10);
        QTest::mouseClick(&c, Qt::LeftButton, {}, at(c, 100, 100));
        QVERIFY2(c.undoStack()->bytes() < 2 * 20 * 20 * 2, qPrintable(QString::number(c.undoStack()->bytes())));
        for (int i = 0; i < 3; ++i) {
            c.fillMask();
            c.clearMask();
        }
        QVERIFY(c.undoStack()->bytes() <= 1200 * 1024);
        QVERIFY(c.undoStack()->count() < 7);
        QVERIFY(c.undoStack()->dropped() > 0);
        QVERIFY(c.maskIsEmpty());
        c.undoStack()->undo(); // back to the last fill
        QCOMPARE(maskAt(c, 300, 300), 255);
    }
};

QTEST_MAIN(TestCanvas)
#include "tst_canvas.moc"

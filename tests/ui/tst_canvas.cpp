// Canvas tools driven by QTest mouse and key events: brush and eraser pixels, boxes, undo/redo.
#include "Canvas.h"

#include <QtTest/QtTest>

using ls::ui::Canvas;

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
};

QTEST_MAIN(TestCanvas)
#include "tst_canvas.moc"

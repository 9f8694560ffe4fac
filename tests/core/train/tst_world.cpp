// The synthetic world: deterministic scenes, disjoint splits, captions, and a detector that recovers every rendered
// object exactly (the evaluator's ground truth).
#include "text/WorldLayout.h"
#include "text/WorldTokenizer.h"
#include "train/SyntheticWorld.h"

#include <QtTest/QtTest>

#include <set>

using namespace ls;
using namespace ls::train;

class TestWorld : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void deterministicAndDisjoint()
    {
        std::set<uint64_t> train, held;
        for (uint64_t i = 0; i < 3000; ++i) {
            auto a = makeScene(Split::Train, i);
            auto b = makeScene(Split::Train, i);
            QCOMPARE(a.caption(), b.caption());
            QVERIFY(render(a) == render(b));
            train.insert(a.key());
            held.insert(makeScene(Split::HeldOut, i).key());
        }
        for (auto k : held)
            QVERIFY(!train.count(k));
        QVERIFY(held.size() > 1000);
    }

    void captions()
    {
        Scene s;
        s.objects.push_back({ 0, 0, 0, 0, 11, 11 });
        s.objects.push_back({ 1, 2, 1, 7, 32, 53 });
        QCOMPARE(QString::fromStdString(s.caption()),
            QString("a small red circle at the top left and a large blue square at the bottom"));
    }

    void detectorRecoversEveryObject()
    {
        int objects = 0;
        for (uint64_t i = 0; i < 400; ++i) {
            Scene s = makeScene(i % 2 ? Split::Train : Split::HeldOut, i);
            auto dets = detect(render(s));
            QCOMPARE(dets.size(), s.objects.size());
            for (const auto& o : s.objects) {
                bool found = false;
                for (const auto& d : dets)
                    found = found
                        || (d.color == o.color && d.shape == o.shape && d.size == o.size && d.cell == o.cell
                            && iou(d.box, o.box()) >= 0.8);
                QVERIFY2(found, qPrintable(QString::fromStdString(o.phrase())));
                ++objects;
            }
        }
        QVERIFY(objects > 600);
    }

    void tokenizer()
    {
        text::WorldTokenizer tok;
        std::vector<std::string> unknown;
        auto ids = tok.encode(
            "A small red Circle at the top-left, please", { { 0.1, 0.1, 0.4, 0.4, "red circle" } }, &unknown);
        QCOMPARE(ids.size(), size_t(text::WorldTokenizer::kSequence));
        QCOMPARE(unknown, (std::vector<std::string> { "please" }));
        QVERIFY(std::find(ids.begin(), ids.end(), text::WorldTokenizer::kSep) != ids.end());
        QVERIFY(tok.labelToken("blue triangles") >= 0);
        QCOMPARE(tok.labelToken("dog"), -1);
        QVERIFY(ids.back() == text::WorldTokenizer::kPad);
        for (auto id : ids)
            QVERIFY(id >= 0 && id < tok.vocabSize());
    }

    // The text-to-layout planner puts each phrase's box where the world draws that object: the right label, centred in
    // the named cell, as large as the named size; at the cell centre it matches the rendered object's box.
    void captionLayout()
    {
        for (uint64_t i = 0; i < 300; ++i) {
            Scene s = makeScene(i % 2 ? Split::Train : Split::HeldOut, i);
            auto boxes = text::layoutFromCaption(s.caption());
            QCOMPARE(boxes.size(), s.objects.size());
            for (size_t k = 0; k < boxes.size(); ++k) {
                const auto& o = s.objects[k];
                const auto& b = boxes[k];
                QCOMPARE(QString::fromStdString(b.label), QString::fromStdString(o.label()));
                const double cx = (b.x0 + b.x1) / 2 * kWorldSize, cy = (b.y0 + b.y1) / 2 * kWorldSize;
                QCOMPARE(
                    static_cast<int>(cy / (kWorldSize / 3.0)) * 3 + static_cast<int>(cx / (kWorldSize / 3.0)), o.cell);
                QCOMPARE((b.x1 - b.x0) * kWorldSize >= 14, o.size == 1);
            }
        }
        for (int shape = 0; shape < 3; ++shape)
            for (int size = 0; size < 2; ++size)
                for (int cell = 0; cell < 9; ++cell) {
                    WorldObject o { shape, 2, size, cell, text::worldCellCentre(cell % 3),
                        text::worldCellCentre(cell / 3) };
                    auto boxes = text::layoutFromCaption(o.phrase());
                    QCOMPARE(boxes.size(), size_t(1));
                    const auto& b = boxes[0];
                    const std::array<int, 4> px { int(std::lround(b.x0 * 64)), int(std::lround(b.y0 * 64)),
                        int(std::lround(b.x1 * 64)), int(std::lround(b.y1 * 64)) };
                    QVERIFY2(iou(px, o.box()) >= 0.8, qPrintable(QString::fromStdString(o.phrase())));
                }
        QVERIFY(text::layoutFromCaption("a red circle").empty()); // no position: nothing to lay out
        QVERIFY(text::layoutFromCaption("two dogs at the top left").empty());
        auto b = text::layoutFromCaption("Blue triangles in the middle and a yellow square on the right");
        QCOMPARE(b.size(), size_t(2));
        QCOMPARE(QString::fromStdString(b[0].label), QString("blue triangle"));
        QVERIFY(b[0].x0 < 0.5 && b[0].x1 > 0.5 && b[0].y0 < 0.5 && b[0].y1 > 0.5);
        QVERIFY(b[1].x0 > 2.0 / 3);
    }

    // Layout channels: colour channel and shape channel hold the covered fraction of each latent pixel, nothing else.
    void layoutChannels()
    {
        const int h = 16, w = 16;
        auto map = text::rasteriseWorldLayout(
            { { 0.0, 0.0, 0.5, 0.25 + 0.5 / 16, "green square" }, { 0.5, 0.5, 1.0, 1.0, "unicorn" } }, h, w);
        QCOMPARE(map.size(), size_t(text::kWorldLayoutChannels * h * w));
        auto at = [&](int c, int y, int x) { return map[(static_cast<size_t>(c) * h + y) * w + x]; };
        for (int c = 0; c < text::kWorldLayoutChannels; ++c)
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x) {
                    const bool on = c == 1 || c == 5; // green, square
                    const float want = !on || x >= 8 || y > 4 ? 0.0f : (y == 4 ? 0.5f : 1.0f);
                    QVERIFY2(std::abs(at(c, y, x) - want) < 1e-6,
                        qPrintable(QString("c %1 y %2 x %3: %4").arg(c).arg(y).arg(x).arg(at(c, y, x))));
                }
    }
};

QTEST_GUILESS_MAIN(TestWorld)
#include "tst_world.moc"

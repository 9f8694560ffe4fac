// The synthetic world: deterministic scenes, disjoint splits, captions, and a detector that recovers every rendered
// object exactly (the evaluator's ground truth).
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
        QCOMPARE(QString::fromStdString(s.caption()), QString("a small red circle at the top left and a large blue square at the bottom"));
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
                    found = found || (d.color == o.color && d.shape == o.shape && d.size == o.size && d.cell == o.cell && iou(d.box, o.box()) >= 0.8);
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
        auto ids = tok.encode("A small red Circle at the top-left, please", { { 0.1, 0.1, 0.4, 0.4, "red circle" } }, &unknown);
        QCOMPARE(ids.size(), size_t(text::WorldTokenizer::kSequence));
        QCOMPARE(unknown, (std::vector<std::string> { "please" }));
        QVERIFY(std::find(ids.begin(), ids.end(), text::WorldTokenizer::kSep) != ids.end());
        QVERIFY(tok.labelToken("blue triangles") >= 0);
        QCOMPARE(tok.labelToken("dog"), -1);
        QVERIFY(ids.back() == text::WorldTokenizer::kPad);
        for (auto id : ids)
            QVERIFY(id >= 0 && id < tok.vocabSize());
    }
};

QTEST_GUILESS_MAIN(TestWorld)
#include "tst_world.moc"

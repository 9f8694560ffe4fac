// `latent-cli manifest NAME` equals every full-size manifest in shared/golden/manifests exactly (keys, shapes, dtypes).
#include "TestUtil.h"

#include "models/KnownConfigs.h"
#include "models/Manifest.h"

#include <QtTest/QtTest>

#include <fstream>
#include <map>

using namespace ls;
namespace fs = std::filesystem;

namespace {
// Published models in ../shared/golden/manifests whose family the engine does not build yet, with the open issue that
// brings it. The test checks they are still refused, so a family that lands must come off this list and match.
const std::map<std::string, std::string> kPending = {};
} // namespace

class TestManifests : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void everyManifestMatches()
    {
        int checked = 0;
        for (const auto& e : fs::directory_iterator(test::goldenDir() / "manifests")) {
            const std::string file = e.path().filename().string();
            if (e.path().extension() != ".json" || file.find(".config.json") != std::string::npos)
                continue;
            std::ifstream in(e.path());
            auto expected = nlohmann::json::parse(in);
            const std::string name = expected["model"].get<std::string>();
            if (auto p = kPending.find(name); p != kPending.end()) {
                bool refused = false;
                try {
                    models::manifestJson(name);
                } catch (const std::exception&) {
                    refused = true;
                }
                QVERIFY2(refused, (name + " is built now: take it off kPending").c_str());
                qInfo("pending: %s (%s)", name.c_str(), p->second.c_str());
                continue;
            }
            auto got = models::manifestJson(name);
            std::map<std::string, nlohmann::json> want, have;
            for (const auto& k : expected["keys"])
                want[k[0].get<std::string>()] = k;
            for (const auto& k : got["keys"])
                have[k[0].get<std::string>()] = k;
            for (const auto& [k, v] : want) {
                QVERIFY2(have.count(k), (name + ": missing " + k).c_str());
                QVERIFY2(
                    have[k] == v, (name + ": " + k + " is " + have[k].dump() + ", manifest says " + v.dump()).c_str());
            }
            for (const auto& [k, v] : have)
                QVERIFY2(want.count(k), (name + ": extra key " + k).c_str());
            QCOMPARE(got["total_params"].get<int64_t>(), expected["total_params"].get<int64_t>());
            ++checked;
        }
        QCOMPARE(checked, 10);
    }
};

QTEST_GUILESS_MAIN(TestManifests)
#include "tst_manifests.moc"

// safetensors reader/writer: round trip of every dtype, and every malformed file gives a clear error naming the file.
#include "TestUtil.h"

#include "io/SafeTensors.h"
#include "io/WeightSource.h"
#include "models/LatentModel.h"
#include "models/Loader.h"
#include "util/Error.h"

#include <QtTest/QtTest>

#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace ls;
namespace fs = std::filesystem;

namespace {

std::string header(const std::string& json)
{
    std::string out(8, '\0');
    uint64_t n = json.size();
    std::memcpy(out.data(), &n, 8);
    return out + json;
}

fs::path write(const std::string& name, const std::string& bytes)
{
    auto p = test::tempDir() / name;
    test::writeBytes(p, bytes);
    return p;
}

} // namespace

class TestSafeTensors : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // Two files that both hold a UNet, each offering only its own prefix (the golden runner's weights_by_prefix):
    // the second file's UNet keys never show, and a filter can offer top-level keys alone (schedule buffers).
    void mergedSourceOffersOnlyEachPartsKeys()
    {
        auto a = test::tempDir() / "unet9.safetensors", b = test::tempDir() / "sd1.safetensors";
        io::writeSafeTensors(a, { { "model.diffusion_model.in.weight", at::ones({ 9 }) } }, {});
        io::writeSafeTensors(b,
            { { "model.diffusion_model.in.weight", at::zeros({ 4 }) },
                { "model.diffusion_model.extra.weight", at::zeros({ 1 }) },
                { "first_stage_model.conv.weight", at::zeros({ 2 }) }, { "alphas_cumprod", at::zeros({ 3 }) } },
            {});
        io::MergedSource merged;
        merged.add(std::make_shared<io::SafeTensorsFile>(a), "model.diffusion_model.");
        merged.add(std::make_shared<io::SafeTensorsFile>(b), "first_stage_model.");
        merged.add(std::make_shared<io::SafeTensorsFile>(b),
            [](const std::string& key) { return key.find('.') == std::string::npos; });
        const std::vector<std::string> want
            = { "alphas_cumprod", "first_stage_model.conv.weight", "model.diffusion_model.in.weight" };
        QCOMPARE(merged.keys(), want);
        QVERIFY(!merged.contains("model.diffusion_model.extra.weight"));
        QCOMPARE(merged.load("model.diffusion_model.in.weight").size(0), int64_t(9));
    }

    void roundTripAllDtypes()
    {
        std::vector<std::pair<std::string, at::Tensor>> ts;
        ts.emplace_back("f32", at::randn({ 3, 4 }));
        ts.emplace_back("f16", at::randn({ 5 }).to(at::kHalf));
        ts.emplace_back("bf16", at::randn({ 2, 2 }).to(at::kBFloat16));
        ts.emplace_back("i64", at::arange(7, at::TensorOptions().dtype(at::kLong)));
        ts.emplace_back("i32", at::arange(3, at::TensorOptions().dtype(at::kInt)));
        ts.emplace_back("u8", at::arange(9, at::TensorOptions().dtype(at::kByte)).view({ 3, 3 }));
        ts.emplace_back("bool", at::tensor({ 1, 0, 1 }).to(at::kBool));
        ts.emplace_back("empty", at::empty({ 0, 3 }));
        ts.emplace_back("scalar", at::tensor(3.5f).view({}));
        auto p = test::tempDir() / "rt.safetensors";
        io::writeSafeTensors(p, ts, { { "note", "hello" } });
        io::SafeTensorsFile f(p);
        QCOMPARE(f.keys().size(), ts.size());
        QCOMPARE(QString::fromStdString(f.metadata().at("note")), QString("hello"));
        for (auto& [k, t] : ts) {
            auto got = f.load(k);
            QCOMPARE(got.scalar_type(), t.scalar_type());
            QCOMPARE(got.sizes().vec(), t.sizes().vec());
            QVERIFY2(at::equal(got, t), k.c_str());
        }
        // Nothing but the final file is left behind (atomic write).
        int files = 0;
        for (auto& e : fs::directory_iterator(test::tempDir()))
            files += e.path().filename().string().find("rt.safetensors") == 0;
        QCOMPARE(files, 1);
    }

    void headerLengthEndingIn0x80IsNotAPickle()
    {
        // One safetensors file in 256 starts with the byte 0x80 that pickles start with (its header length's low byte).
        for (int pad = 0; pad < 300; ++pad) {
            const std::string json
                = "{\"__metadata__\":{\"p\":\"" + std::string(static_cast<size_t>(pad), 'x') + "\"}}";
            if ((json.size() & 0xFF) != 0x80)
                continue;
            const auto p = write("x80.safetensors", header(json));
            auto w = io::openWeights(p);
            QCOMPARE(w->keys().size(), size_t(0));
            // A real legacy pickle is still named as one.
            const auto legacy = write("legacy.pt",
                std::string { '\x80', '\x02', '\x8a', '\x0a', 'l', '\xfc', '\x9c', 'F', '\xf9', ' ', 'j', '\xa8', 'P',
                    '\x19', '.' });
            QVERIFY(test::errorOf([&] { io::openWeights(legacy); }).find("legacy (pre-zip)") != std::string::npos);
            return;
        }
        QFAIL("no padding gave a header length ending in 0x80");
    }

    void loadsIntoAnyComputeDtype()
    {
        auto p = test::tempDir() / "half.safetensors";
        auto t = at::randn({ 4, 4 });
        io::writeSafeTensors(p, { { "w", t.to(at::kHalf) } });
        io::SafeTensorsFile f(p);
        auto asFloat = f.load("w").to(at::kFloat);
        QVERIFY(at::allclose(asFloat, t, 1e-2, 1e-2));
    }

    void zeroByteFile()
    {
        auto p = write("zero.safetensors", "");
        auto e = test::errorOf([&] { io::SafeTensorsFile f(p); });
        QVERIFY2(e.find("zero.safetensors") != std::string::npos && e.find("empty") != std::string::npos, e.c_str());
        auto e2 = test::errorOf([&] { io::openWeights(p); });
        QVERIFY2(e2.find("empty") != std::string::npos, e2.c_str());
    }

    void directory()
    {
        auto d = test::tempDir() / "adir";
        fs::create_directories(d);
        auto e = test::errorOf([&] { io::SafeTensorsFile f(d); });
        QVERIFY2(e.find("directory") != std::string::npos, e.c_str());
        auto e2 = test::errorOf([&] { io::openWeights(d); });
        QVERIFY2(e2.find("adir") != std::string::npos && e2.find("directory") != std::string::npos, e2.c_str());
    }

    void missingAndUnreadable()
    {
        auto e = test::errorOf([&] { io::openWeights(test::tempDir() / "nope.safetensors"); });
        QVERIFY2(e.find("nope.safetensors") != std::string::npos, e.c_str());
        // A socket cannot be opened for reading even by root; chmod 000 covers ordinary users.
        auto sockPath = test::tempDir() / "sock.safetensors";
        int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr {};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, sockPath.c_str(), sizeof(addr.sun_path) - 1);
        QCOMPARE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        auto e2 = test::errorOf([&] { io::SafeTensorsFile f(sockPath); });
        QVERIFY2(e2.find("sock.safetensors") != std::string::npos && e2.find("cannot open") != std::string::npos,
            e2.c_str());
        ::close(s);
        if (::geteuid() != 0) {
            auto p = write("locked.safetensors", header("{}"));
            fs::permissions(p, fs::perms::none);
            auto e3 = test::errorOf([&] { io::SafeTensorsFile f(p); });
            QVERIFY2(e3.find("cannot open") != std::string::npos, e3.c_str());
        }
    }

    void truncatedFile()
    {
        auto p = test::tempDir() / "full.safetensors";
        io::writeSafeTensors(p, { { "w", at::randn({ 64, 64 }) } });
        std::string bytes = test::readBytes(p);
        auto cut = write("cut.safetensors", bytes.substr(0, bytes.size() - 100));
        auto e = test::errorOf([&] { io::SafeTensorsFile f(cut); });
        QVERIFY2(e.find("cut.safetensors") != std::string::npos && e.find("beyond") != std::string::npos, e.c_str());
        auto tiny = write("tiny.safetensors", bytes.substr(0, 5));
        auto e2 = test::errorOf([&] { io::SafeTensorsFile f(tiny); });
        QVERIFY2(e2.find("truncated") != std::string::npos, e2.c_str());
        auto hdr = write("hdr.safetensors", bytes.substr(0, 20));
        auto e3 = test::errorOf([&] { io::SafeTensorsFile f(hdr); });
        QVERIFY2(e3.find("header claims") != std::string::npos, e3.c_str());
    }

    void headerLies()
    {
        // Shape says 4 floats, offsets span 8 bytes.
        auto p = write("shape.safetensors",
            header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}})") + std::string(16, '\0'));
        auto e = test::errorOf([&] { io::SafeTensorsFile f(p); });
        QVERIFY2(e.find("'w'") != std::string::npos && e.find("needs 16 bytes") != std::string::npos, e.c_str());
        // Offsets beyond the data.
        auto p2 = write("beyond.safetensors",
            header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})") + std::string(8, '\0'));
        auto e2 = test::errorOf([&] { io::SafeTensorsFile f(p2); });
        QVERIFY2(e2.find("beyond") != std::string::npos, e2.c_str());
        // Overlap.
        auto p3 = write("overlap.safetensors",
            header(
                R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})")
                + std::string(12, '\0'));
        auto e3 = test::errorOf([&] { io::SafeTensorsFile f(p3); });
        QVERIFY2(e3.find("overlap") != std::string::npos, e3.c_str());
        // Backwards / negative range.
        auto p4 = write("back.safetensors",
            header(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})") + std::string(12, '\0'));
        auto e4 = test::errorOf([&] { io::SafeTensorsFile f(p4); });
        QVERIFY2(e4.find("backwards") != std::string::npos, e4.c_str());
        auto p5 = write("neg.safetensors",
            header(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})") + std::string(4, '\0'));
        auto e5 = test::errorOf([&] { io::SafeTensorsFile f(p5); });
        QVERIFY2(e5.find("negative") != std::string::npos, e5.c_str());
        // Absurd shape (numel overflow).
        auto p6 = write("huge.safetensors",
            header(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})")
                + std::string(4, '\0'));
        auto e6 = test::errorOf([&] { io::SafeTensorsFile f(p6); });
        QVERIFY2(e6.find("absurd") != std::string::npos, e6.c_str());
        // Huge header length.
        std::string big(8, '\0');
        uint64_t n = 1ull << 40;
        std::memcpy(big.data(), &n, 8);
        auto p7 = write("bighdr.safetensors", big + "{}");
        auto e7 = test::errorOf([&] { io::SafeTensorsFile f(p7); });
        QVERIFY2(e7.find("exceeds") != std::string::npos, e7.c_str());
        // Not JSON.
        auto p8 = write("notjson.safetensors", header("{not json"));
        auto e8 = test::errorOf([&] { io::SafeTensorsFile f(p8); });
        QVERIFY2(e8.find("not valid JSON") != std::string::npos, e8.c_str());
    }

    void unknownDtype()
    {
        auto p = write("dtype.safetensors",
            header(R"({"w":{"dtype":"F8_E9M9","shape":[1],"data_offsets":[0,1]}})") + std::string(1, '\0'));
        auto e = test::errorOf([&] { io::SafeTensorsFile f(p); });
        QVERIFY2(e.find("F8_E9M9") != std::string::npos && e.find("dtype") != std::string::npos, e.c_str());
    }

    void nonFiniteWeightsWarn()
    {
        models::LoadReport rep;
        auto lin = std::make_shared<torch::nn::Module>();
        auto w = lin->register_parameter("weight", at::zeros({ 2, 2 }), false);
        auto p = test::tempDir() / "nan.safetensors";
        auto bad = at::ones({ 2, 2 });
        bad[0][1] = std::numeric_limits<float>::quiet_NaN();
        io::writeSafeTensors(p, { { "m.weight", bad } });
        io::SafeTensorsFile f(p);
        models::loadModule(*lin, f, "m.", rep);
        QVERIFY(rep.ok());
        QCOMPARE(rep.nonFinite.size(), size_t(1));
        QCOMPARE(QString::fromStdString(rep.nonFinite[0]), QString("m.weight"));
    }
};

QTEST_GUILESS_MAIN(TestSafeTensors)
#include "tst_safetensors.moc"

// PyTorch zip checkpoints through the restricted unpickler: real-layout files load; pickles that reach os.system,
// builtins.eval/exec, subprocess, importlib or any global off the allow-list are refused before anything runs.
#include "TestUtil.h"

#include "io/CkptFile.h"
#include "io/Pickle.h"
#include "io/WeightSource.h"
#include "util/Error.h"

#include <QtTest/QtTest>

#include <zip.h>

#include <cstring>

using namespace ls;
using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {

// Writes pickle opcodes (protocol 2), enough to express what torch.save produces.
struct PickleWriter {
    std::string s = "\x80\x02";
    PickleWriter& op(char c)
    {
        s.push_back(c);
        return *this;
    }
    PickleWriter& str(const std::string& v)
    {
        s.push_back('X');
        uint32_t n = static_cast<uint32_t>(v.size());
        s.append(reinterpret_cast<const char*>(&n), 4);
        s += v;
        return *this;
    }
    PickleWriter& integer(int32_t v)
    {
        s.push_back('J');
        s.append(reinterpret_cast<const char*>(&v), 4);
        return *this;
    }
    PickleWriter& global(const std::string& module, const std::string& name)
    {
        s += "c" + module + "\n" + name + "\n";
        return *this;
    }
    PickleWriter& tuple(const std::vector<int32_t>& v)
    {
        op('(');
        for (int32_t x : v)
            integer(x);
        return op('t');
    }
    // _rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, size, stride, False, OrderedDict())
    PickleWriter& tensor(const std::string& storageType, const std::string& key, int32_t numel, int32_t offset,
        const std::vector<int32_t>& size, const std::vector<int32_t>& stride)
    {
        global("torch._utils", "_rebuild_tensor_v2");
        op('(');
        op('(').str("storage").global("torch", storageType).str(key).str("cpu").integer(numel).op('t').op('Q');
        integer(offset).tuple(size).tuple(stride).op('\x89');
        global("collections", "OrderedDict").op(')').op('R');
        op('t').op('R');
        return *this;
    }
    std::string done() { return s + "."; }
};

fs::path writeZip(const std::string& name, const std::vector<std::pair<std::string, std::string>>& entries)
{
    auto p = test::tempDir() / name;
    fs::remove(p);
    int err = 0;
    zip_t* z = zip_open(p.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    for (const auto& [n, data] : entries) {
        auto* buf = static_cast<char*>(std::malloc(data.size() + 1));
        std::memcpy(buf, data.data(), data.size());
        zip_source_t* src = zip_source_buffer(z, buf, data.size(), 1);
        zip_int64_t idx = zip_file_add(z, n.c_str(), src, ZIP_FL_OVERWRITE);
        zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), ZIP_CM_STORE, 0);
    }
    zip_close(z);
    return p;
}

std::string floats(const std::vector<float>& v)
{
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

std::string stateDict(PickleWriter& w, const std::function<void(PickleWriter&)>& body)
{
    w.global("collections", "OrderedDict").op(')').op('R');
    w.op('(');
    body(w);
    w.op('u');
    return w.done();
}

} // namespace

class TestCkpt : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void loadsTensorsAndViews()
    {
        PickleWriter w;
        const std::string pkl = stateDict(w, [](PickleWriter& p) {
            p.str("a.weight").tensor("FloatStorage", "0", 6, 0, { 2, 3 }, { 3, 1 });
            p.str("a.bias").tensor("FloatStorage", "0", 6, 3, { 3 }, { 1 }); // a view into the same storage
            p.str("t.weight").tensor("FloatStorage", "0", 6, 0, { 3, 2 }, { 1, 3 }); // transposed strides
            p.str("step").integer(7); // non-tensor entries are ignored
        });
        auto file = writeZip("ok.ckpt",
            { { "archive/data.pkl", pkl }, { "archive/data/0", floats({ 1, 2, 3, 4, 5, 6 }) },
                { "archive/version", "3\n" } });
        auto src = io::openWeights(file);
        QCOMPARE(src->keys().size(), size_t(3));
        auto a = src->load("a.weight");
        QCOMPARE(a.sizes().vec(), (std::vector<int64_t> { 2, 3 }));
        QCOMPARE(a[1][2].item<float>(), 6.0f);
        QCOMPARE(src->load("a.bias")[0].item<float>(), 4.0f);
        QVERIFY(at::equal(src->load("t.weight"), a.t()));
    }

    void lightningStateDictAndHalf()
    {
        PickleWriter w;
        w.op('}').op('(').str("epoch").integer(3).str("state_dict");
        w.global("collections", "OrderedDict")
            .op(')')
            .op('R')
            .op('(')
            .str("w")
            .tensor("HalfStorage", "1", 2, 0, { 2 }, { 1 })
            .op('u');
        w.op('u');
        std::string halves(4, '\0');
        const uint16_t h[2] = { 0x3C00, 0x4000 }; // 1.0, 2.0
        std::memcpy(halves.data(), h, 4);
        auto file = writeZip("lightning.ckpt", { { "sd/data.pkl", w.done() }, { "sd/data/1", halves } });
        auto src = io::openWeights(file);
        auto t = src->load("w");
        QCOMPARE(t.scalar_type(), at::kHalf);
        QCOMPARE(t.to(at::kFloat)[1].item<float>(), 2.0f);
    }

    void refusesCodeExecution_data()
    {
        QTest::addColumn<QString>("module");
        QTest::addColumn<QString>("name");
        QTest::newRow("os.system") << "os"
                                   << "system";
        QTest::newRow("posix.system") << "posix"
                                      << "system";
        QTest::newRow("builtins.eval") << "builtins"
                                       << "eval";
        QTest::newRow("builtins.exec") << "builtins"
                                       << "exec";
        QTest::newRow("__builtin__.eval") << "__builtin__"
                                          << "eval";
        QTest::newRow("subprocess.Popen") << "subprocess"
                                          << "Popen";
        QTest::newRow("importlib.import_module") << "importlib"
                                                 << "import_module";
        QTest::newRow("builtins.getattr") << "builtins"
                                          << "getattr";
        QTest::newRow("torch.load") << "torch"
                                    << "load";
    }
    void refusesCodeExecution()
    {
        QFETCH(QString, module);
        QFETCH(QString, name);
        const fs::path marker = test::tempDir() / "pwned";
        fs::remove(marker);
        PickleWriter w;
        w.op('}').op('(').str("x");
        w.global(module.toStdString(), name.toStdString()).op('(').str("touch " + marker.string()).op('t').op('R');
        w.op('u');
        auto file = writeZip("evil.ckpt", { { "archive/data.pkl", w.done() } });
        auto e = test::errorOf([&] { io::openWeights(file); });
        const std::string full = module.toStdString() + "." + name.toStdString();
        QVERIFY2(e.find("refused") != std::string::npos && e.find(full) != std::string::npos
                && e.find("evil.ckpt") != std::string::npos,
            e.c_str());
        QVERIFY(!fs::exists(marker));
        QVERIFY(!io::pickle::isAllowedGlobal(module.toStdString(), name.toStdString()));
    }

    void stackGlobalIsCheckedToo()
    {
        // Protocol 4 STACK_GLOBAL builds the name from strings on the stack.
        std::string s = "\x80\x04";
        auto shortStr = [&](const std::string& v) {
            s.push_back('\x8c');
            s.push_back(static_cast<char>(v.size()));
            s += v;
        };
        shortStr("os");
        shortStr("system");
        s.push_back('\x93');
        s += ".";
        auto e = test::errorOf([&] { io::pickle::unpickle(s, "mem"); });
        QVERIFY2(e.find("os.system") != std::string::npos, e.c_str());
    }

    void refusesUnknownOpcodesAndGarbage()
    {
        auto e = test::errorOf([&] { io::pickle::unpickle("\x80\x02(i__main__\nEvil\n."s, "mem"); });
        QVERIFY2(e.find("opcode") != std::string::npos, e.c_str());
        auto e2 = test::errorOf([&] { io::pickle::unpickle("\x80\x02}q\x00(X\xff\xff\xff\x7f"s, "mem"); });
        QVERIFY2(e2.find("past the end") != std::string::npos, e2.c_str());
        auto e3 = test::errorOf([&] { io::pickle::unpickle("\x80\x02h\x05."s, "mem"); });
        QVERIFY2(e3.find("memo") != std::string::npos, e3.c_str());
        auto e4 = test::errorOf([&] { io::pickle::unpickle("\x80\x02s."s, "mem"); });
        QVERIFY2(e4.find("underflow") != std::string::npos, e4.c_str());
    }

    void cyclesAndDeepNesting()
    {
        // Found by fuzz_pickle/fuzz_ckpt (LeakSanitizer): a list appended to itself through the memo leaked.
        auto e = test::errorOf([&] {
            io::pickle::unpickle("\x80\x02]q\x00h\x00"
                                 "a."s,
                "mem");
        });
        QVERIFY2(e.find("contains itself") != std::string::npos && e.find("mem") != std::string::npos, e.c_str());
        // The same cycle left behind as garbage: the result is fine and nothing leaks (checked under
        // scripts/sanitize.sh).
        auto none = io::pickle::unpickle("\x80\x02]q\x00h\x00"
                                         "a0N."s,
            "mem");
        QVERIFY(none && none->type == io::pickle::Object::Type::None);
        // Shared (acyclic) references are fine: [x, x].
        auto shared = io::pickle::unpickle("\x80\x02]q\x00(]q\x01h\x01"
                                           "e."s,
            "mem");
        QCOMPARE(shared->items.size(), size_t(2));
        QCOMPARE(shared->items[0].get(), shared->items[1].get());
        // Nesting: 900 one-tuples load, 5000 are refused (freeing them would recurse that deep).
        auto nested = [](int n) { return "\x80\x02N"s + std::string(static_cast<size_t>(n), '\x85') + "."; };
        QVERIFY(io::pickle::unpickle(nested(900), "mem"));
        auto deep = test::errorOf([&] { io::pickle::unpickle(nested(5000), "mem"); });
        QVERIFY2(deep.find("nested more than 1000") != std::string::npos, deep.c_str());
    }

    void tensorOutsideStorage()
    {
        PickleWriter w;
        const std::string pkl
            = stateDict(w, [](PickleWriter& p) { p.str("w").tensor("FloatStorage", "0", 4, 2, { 4 }, { 1 }); });
        auto file = writeZip("oob.ckpt", { { "archive/data.pkl", pkl }, { "archive/data/0", floats({ 1, 2, 3, 4 }) } });
        auto e = test::errorOf([&] { io::openWeights(file); });
        QVERIFY2(e.find("reaches element") != std::string::npos, e.c_str());
        // Storage entry shorter than its declared numel.
        PickleWriter w2;
        const std::string pkl2
            = stateDict(w2, [](PickleWriter& p) { p.str("w").tensor("FloatStorage", "0", 1000, 0, { 1000 }, { 1 }); });
        auto file2 = writeZip("short.ckpt", { { "archive/data.pkl", pkl2 }, { "archive/data/0", floats({ 1, 2 }) } });
        auto e2 = test::errorOf([&] { io::openWeights(file2); });
        QVERIFY2(e2.find("needs") != std::string::npos, e2.c_str());
    }

    void absurdZipSizes()
    {
        PickleWriter w;
        const std::string pkl
            = stateDict(w, [](PickleWriter& p) { p.str("w").tensor("FloatStorage", "0", 4, 0, { 4 }, { 1 }); });
        auto file
            = writeZip("absurd.ckpt", { { "archive/data.pkl", pkl }, { "archive/data/0", floats({ 1, 2, 3, 4 }) } });
        // Patch every "uncompressed size" field of the data entry (local header and central directory) to 2 GiB.
        std::string bytes = test::readBytes(file);
        auto patch = [&](const char* sig, size_t sizeOffset, size_t nameOffset, size_t nameLenOffset) {
            for (size_t pos = 0; (pos = bytes.find(sig, pos)) != std::string::npos; pos += 4) {
                uint16_t nameLen = 0;
                std::memcpy(&nameLen, bytes.data() + pos + nameLenOffset, 2);
                if (bytes.compare(pos + nameOffset, nameLen, "archive/data/0") == 0) {
                    uint32_t huge = 0x7FFFFFF0u;
                    std::memcpy(bytes.data() + pos + sizeOffset, &huge, 4);
                }
            }
        };
        patch("PK\x03\x04", 22, 30, 26);
        patch("PK\x01\x02", 24, 46, 28);
        test::writeBytes(file, bytes);
        auto e = test::errorOf([&] { io::openWeights(file)->load("w"); });
        QVERIFY2(!e.empty() && e.find("absurd.ckpt") != std::string::npos, e.c_str());
    }

    void notAZip()
    {
        auto p = test::tempDir() / "fake.ckpt";
        test::writeBytes(p, "PK\x03\x04garbage that is not a zip");
        auto e = test::errorOf([&] { io::openWeights(p); });
        QVERIFY2(e.find("fake.ckpt") != std::string::npos, e.c_str());
        auto p2 = test::tempDir() / "legacy.pt";
        test::writeBytes(p2, "\x80\x02\x8a\x0alegacy");
        auto e2 = test::errorOf([&] { io::openWeights(p2); });
        QVERIFY2(e2.find("legacy") != std::string::npos, e2.c_str());
    }
};

QTEST_GUILESS_MAIN(TestCkpt)
#include "tst_ckpt.moc"

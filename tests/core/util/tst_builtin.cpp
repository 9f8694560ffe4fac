// The built-in replacements for zlib, OpenSSL's SHA-256 and utf8proc's UTF-8 coding (core/util/Builtin.h), used when
// core/ is built without those libraries (a GPU machine with PyTorch alone): checked against the libraries themselves.
#include "TestUtil.h"
#include "util/Builtin.h"
#include "util/Error.h"
#include "util/Sha256.h"

#ifdef LS_WITH_ZLIB
#include <zlib.h>
#endif

#include <QtTest/QtTest>

#include <fstream>
#include <random>

using namespace ls;

namespace {

std::string randomBytes(size_t n, uint32_t seed, bool text)
{
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    const char* words[] = { "latent ", "diffusion ", "a red circle ", "at the top left ", "\n", "0.1234 " };
    if (!text) {
        for (auto& c : s)
            c = static_cast<char>(rng() & 0xFF);
        return s;
    }
    s.clear();
    while (s.size() < n)
        s += words[rng() % 6];
    s.resize(n);
    return s;
}

std::string sha(const std::string& s)
{
    builtin::Sha256 h;
    h.update(s.data(), s.size());
    return h.hexDigest();
}

} // namespace

class TestBuiltin : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sha256()
    {
        QCOMPARE(sha(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        QCOMPARE(sha("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        QCOMPARE(sha(std::string(1000000, 'a')),
            std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
        // Every length around the 55/56/64-byte padding edges, fed in odd pieces, against ls::sha256 (OpenSSL where
        // built).
        for (size_t n = 0; n < 300; ++n) {
            const std::string s = randomBytes(n, static_cast<uint32_t>(n), false);
            builtin::Sha256 h;
            for (size_t i = 0; i < n; i += 7)
                h.update(s.data() + i, std::min<size_t>(7, n - i));
            QCOMPARE(h.hexDigest(), ls::sha256(s));
        }
    }

    void checksums()
    {
        QCOMPARE(builtin::crc32(0, "123456789", 9), 0xCBF43926u);
        QCOMPARE(builtin::adler32(1, "Wikipedia", 9), 0x11E60398u);
#ifdef LS_WITH_ZLIB
        const std::string s = randomBytes(200000, 3, false);
        QCOMPARE(builtin::crc32(0, s.data(), s.size()),
            static_cast<uint32_t>(::crc32(0, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size()))));
        QCOMPARE(builtin::adler32(1, s.data(), s.size()),
            static_cast<uint32_t>(::adler32(1, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size()))));
#endif
    }

#ifdef LS_WITH_ZLIB
    // zlib's own output at every level (stored, fixed and dynamic Huffman blocks, long matches) inflates to the input;
    // the stored-block writer's output is read back by zlib.
    void inflateMatchesZlib()
    {
        for (bool text : { true, false }) {
            for (size_t n : { size_t(0), size_t(1), size_t(70000), size_t(1 << 20) }) {
                const std::string s = randomBytes(n, 11, text);
                for (int level : { 0, 1, 6, 9 }) {
                    uLongf m = compressBound(static_cast<uLong>(n));
                    std::string z(m, '\0');
                    QCOMPARE(compress2(reinterpret_cast<Bytef*>(z.data()), &m, reinterpret_cast<const Bytef*>(s.data()),
                                 static_cast<uLong>(n), level),
                        Z_OK);
                    z.resize(m);
                    QVERIFY(builtin::zlibDecompress(z, "case", n + 1) == s);
                }
                const std::string stored = builtin::zlibStore(s);
                uLongf back = static_cast<uLongf>(n + 1);
                std::string out(back, '\0');
                QCOMPARE(uncompress(reinterpret_cast<Bytef*>(out.data()), &back,
                             reinterpret_cast<const Bytef*>(stored.data()), static_cast<uLong>(stored.size())),
                    Z_OK);
                out.resize(back);
                QVERIFY(out == s);
            }
        }
    }

    // The CLIP vocabulary's gzip file, as the tokenizer reads it without zlib.
    void gunzipClipVocabulary()
    {
        const auto path = std::filesystem::path(LS_SHARED_DIR) / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz";
        QVERIFY2(std::filesystem::exists(path), path.c_str());
        std::ifstream in(path, std::ios::binary);
        const std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        gzFile f = gzopen(path.c_str(), "rb");
        std::string want;
        char buf[1 << 16];
        int n;
        while ((n = gzread(f, buf, sizeof buf)) > 0)
            want.append(buf, static_cast<size_t>(n));
        gzclose(f);
        QVERIFY(want.size() > 1000000);
        QVERIFY(builtin::gunzip(raw, path.string(), 64u << 20) == want);
    }
#endif

    // Bad data is an error naming the source, never a crash or a silent wrong answer.
    void corruptData()
    {
        const std::string s = randomBytes(5000, 5, true);
        const std::string stored = builtin::zlibStore(s);
        auto rejects = [](const std::string& z, const char* why) {
            try {
                builtin::zlibDecompress(z, "sample.png", 1 << 20);
                QFAIL(why);
            } catch (const Error& e) {
                QVERIFY2(QString(e.what()).contains("sample.png"), e.what());
            }
        };
        rejects(stored.substr(0, stored.size() - 10), "truncated stream accepted");
        std::string flipped = stored;
        flipped[100] ^= 0x20;
        rejects(flipped, "checksum mismatch accepted");
        rejects("not zlib at all", "garbage accepted");
        try {
            builtin::zlibDecompress(stored, "big.png", 100);
            QFAIL("output limit ignored");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("larger than 100"), e.what());
        }
        try {
            builtin::gunzip(stored, "vocab.txt.gz", 1 << 20);
            QFAIL("zlib stream taken for gzip");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("vocab.txt.gz"), e.what());
        }
    }

    void utf8()
    {
        unsigned char buf[4];
        for (int32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x800 ? 1 : 37)) {
            if (cp >= 0xD800 && cp <= 0xDFFF)
                continue;
            const int n = builtin::utf8Encode(cp, buf);
            int32_t back = -1;
            QCOMPARE(builtin::utf8Decode(buf, static_cast<size_t>(n), back), n);
            QCOMPARE(back, cp);
        }
        int32_t cp = 0;
        const unsigned char overlong[] = { 0xC0, 0x80 }, surrogate[] = { 0xED, 0xA0, 0x80 }, cut[] = { 0xE2, 0x82 };
        QCOMPARE(builtin::utf8Decode(overlong, 2, cp), -1);
        QCOMPARE(builtin::utf8Decode(surrogate, 3, cp), -1);
        QCOMPARE(builtin::utf8Decode(cut, 2, cp), -1);
        const unsigned char euro[] = { 0xE2, 0x82, 0xAC };
        QCOMPARE(builtin::utf8Decode(euro, 3, cp), 3);
        QCOMPARE(cp, 0x20AC);
    }
};

QTEST_GUILESS_MAIN(TestBuiltin)
#include "tst_builtin.moc"

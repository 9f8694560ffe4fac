#include "util/Builtin.h"

#include "util/Error.h"

#include <array>
#include <cstring>

namespace ls::builtin {

// ---------------------------------------------------------------- SHA-256

namespace {

constexpr uint32_t kK[64] = { 0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
    0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138,
    0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70,
    0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
    0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa,
    0xa4506ceb, 0xbef9a3f7, 0xc67178f2 };

inline uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

} // namespace

Sha256::Sha256()
    : m_h { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
{
}

void Sha256::block(const uint8_t* p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
        w[i] = uint32_t(p[4 * i]) << 24 | uint32_t(p[4 * i + 1]) << 16 | uint32_t(p[4 * i + 2]) << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; ++i) {
        const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = m_h[0], b = m_h[1], c = m_h[2], d = m_h[3], e = m_h[4], f = m_h[5], g = m_h[6], h = m_h[7];
    for (int i = 0; i < 64; ++i) {
        const uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
        const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    m_h[0] += a, m_h[1] += b, m_h[2] += c, m_h[3] += d, m_h[4] += e, m_h[5] += f, m_h[6] += g, m_h[7] += h;
}

void Sha256::update(const void* data, size_t n)
{
    const auto* p = static_cast<const uint8_t*>(data);
    m_bytes += n;
    while (n > 0) {
        if (m_fill == 0 && n >= 64) {
            block(p);
            p += 64, n -= 64;
            continue;
        }
        const size_t take = std::min(n, 64 - m_fill);
        std::memcpy(m_buf + m_fill, p, take);
        m_fill += take, p += take, n -= take;
        if (m_fill == 64) {
            block(m_buf);
            m_fill = 0;
        }
    }
}

std::string Sha256::hexDigest()
{
    const uint64_t bits = m_bytes * 8;
    const uint8_t one = 0x80, zero = 0;
    update(&one, 1);
    while (m_fill != 56)
        update(&zero, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; ++i)
        len[i] = static_cast<uint8_t>(bits >> (56 - 8 * i));
    update(len, 8);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (uint32_t v : m_h)
        for (int s = 28; s >= 0; s -= 4)
            out.push_back(digits[(v >> s) & 15]);
    return out;
}

// ---------------------------------------------------------------- checksums

uint32_t crc32(uint32_t crc, const void* data, size_t n)
{
    static const auto table = [] {
        std::array<uint32_t, 256> t {};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    const auto* p = static_cast<const uint8_t*>(data);
    crc = ~crc;
    for (size_t i = 0; i < n; ++i)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

uint32_t adler32(uint32_t adler, const void* data, size_t n)
{
    const auto* p = static_cast<const uint8_t*>(data);
    uint32_t a = adler & 0xFFFF, b = adler >> 16;
    while (n > 0) {
        const size_t chunk = std::min<size_t>(n, 5552); // largest run without overflow before the modulo
        for (size_t i = 0; i < chunk; ++i)
            a += p[i], b += a;
        a %= 65521, b %= 65521;
        p += chunk, n -= chunk;
    }
    return b << 16 | a;
}

// ---------------------------------------------------------------- deflate

std::string zlibStore(const std::string& in)
{
    std::string out = "\x78\x01"; // deflate, 32K window, no dictionary, fastest (header check: 0x7801 % 31 == 0)
    size_t pos = 0;
    do {
        const size_t n = std::min<size_t>(in.size() - pos, 65535);
        const bool last = pos + n == in.size();
        out.push_back(static_cast<char>(last ? 1 : 0)); // BFINAL, BTYPE 00 (stored)
        const uint16_t len = static_cast<uint16_t>(n), nlen = static_cast<uint16_t>(~len);
        out.push_back(static_cast<char>(len & 0xFF));
        out.push_back(static_cast<char>(len >> 8));
        out.push_back(static_cast<char>(nlen & 0xFF));
        out.push_back(static_cast<char>(nlen >> 8));
        out.append(in, pos, n);
        pos += n;
    } while (pos < in.size());
    const uint32_t a = adler32(1, in.data(), in.size());
    for (int s = 24; s >= 0; s -= 8)
        out.push_back(static_cast<char>((a >> s) & 0xFF));
    return out;
}

namespace {

// A canonical Huffman code: symbol counts per length and the symbols in code order (as zlib's puff.c decodes).
struct Huffman {
    std::array<uint16_t, 16> count {};
    std::array<uint16_t, 320> symbol {};
};

class Inflater {
public:
    Inflater(const uint8_t* data, size_t n, const std::string& where, size_t limit)
        : m_in(data)
        , m_n(n)
        , m_where(where)
        , m_limit(limit)
    {
    }

    // Decodes one raw deflate stream; returns the bytes of input used (rounded up to a byte).
    size_t run(std::string& out)
    {
        m_out = &out;
        bool last = false;
        while (!last) {
            last = bits(1);
            switch (bits(2)) {
            case 0:
                stored();
                break;
            case 1:
                fixed();
                break;
            case 2:
                dynamic();
                break;
            default:
                bad("invalid deflate block type");
            }
        }
        return m_pos;
    }

private:
    [[noreturn]] void bad(const std::string& what)
    {
        fail(ErrorKind::Format, m_where + ": corrupt compressed data (" + what + ")");
    }

    int bits(int need)
    {
        uint32_t v = m_bitBuf;
        while (m_bitCount < need) {
            if (m_pos >= m_n)
                bad("data ends early");
            v |= uint32_t(m_in[m_pos++]) << m_bitCount;
            m_bitCount += 8;
        }
        m_bitBuf = v >> need;
        m_bitCount -= need;
        return static_cast<int>(v & ((1u << need) - 1));
    }

    void put(char c)
    {
        if (m_out->size() >= m_limit)
            bad("larger than " + std::to_string(m_limit) + " bytes");
        m_out->push_back(c);
    }

    void stored()
    {
        m_bitBuf = 0, m_bitCount = 0; // to a byte boundary
        if (m_pos + 4 > m_n)
            bad("data ends early");
        const unsigned len = m_in[m_pos] | m_in[m_pos + 1] << 8, nlen = m_in[m_pos + 2] | m_in[m_pos + 3] << 8;
        m_pos += 4;
        if (len != (~nlen & 0xFFFF))
            bad("stored block length check");
        if (m_pos + len > m_n)
            bad("data ends early");
        if (m_out->size() + len > m_limit)
            bad("larger than " + std::to_string(m_limit) + " bytes");
        m_out->append(reinterpret_cast<const char*>(m_in + m_pos), len);
        m_pos += len;
    }

    int decode(const Huffman& h)
    {
        int code = 0, first = 0, index = 0;
        for (int len = 1; len < 16; ++len) {
            code |= bits(1);
            const int count = h.count[static_cast<size_t>(len)];
            if (code - count < first)
                return h.symbol[static_cast<size_t>(index + (code - first))];
            index += count;
            first += count;
            first <<= 1;
            code <<= 1;
        }
        bad("invalid Huffman code");
    }

    static bool build(Huffman& h, const uint8_t* lengths, int n)
    {
        h.count.fill(0);
        for (int s = 0; s < n; ++s)
            ++h.count[lengths[s]];
        if (h.count[0] == n)
            return true; // no codes: only an error if one is used
        int left = 1;
        for (int len = 1; len < 16; ++len) {
            left <<= 1;
            left -= h.count[static_cast<size_t>(len)];
            if (left < 0)
                return false; // over-subscribed
        }
        std::array<uint16_t, 16> offs {};
        for (int len = 1; len < 15; ++len)
            offs[static_cast<size_t>(len + 1)]
                = static_cast<uint16_t>(offs[static_cast<size_t>(len)] + h.count[static_cast<size_t>(len)]);
        for (int s = 0; s < n; ++s)
            if (lengths[s])
                h.symbol[offs[lengths[s]]++] = static_cast<uint16_t>(s);
        return true;
    }

    void codes(const Huffman& lit, const Huffman& dist)
    {
        static const uint16_t lbase[29] = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67,
            83, 99, 115, 131, 163, 195, 227, 258 };
        static const uint8_t lext[29]
            = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 };
        static const uint16_t dbase[30] = { 1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513,
            769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577 };
        static const uint8_t dext[30]
            = { 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 };
        for (;;) {
            int sym = decode(lit);
            if (sym < 256) {
                put(static_cast<char>(sym));
            } else if (sym == 256) {
                return;
            } else {
                sym -= 257;
                if (sym >= 29)
                    bad("invalid length symbol");
                const size_t len = lbase[sym] + static_cast<size_t>(bits(lext[sym]));
                const int ds = decode(dist);
                if (ds >= 30)
                    bad("invalid distance symbol");
                const size_t d = dbase[ds] + static_cast<size_t>(bits(dext[ds]));
                if (d > m_out->size())
                    bad("distance too far back");
                for (size_t i = 0; i < len; ++i)
                    put((*m_out)[m_out->size() - d]);
            }
        }
    }

    void fixed()
    {
        static const auto tables = [] {
            std::pair<Huffman, Huffman> t;
            uint8_t l[288];
            int s = 0;
            for (; s < 144; ++s)
                l[s] = 8;
            for (; s < 256; ++s)
                l[s] = 9;
            for (; s < 280; ++s)
                l[s] = 7;
            for (; s < 288; ++s)
                l[s] = 8;
            build(t.first, l, 288);
            for (s = 0; s < 30; ++s)
                l[s] = 5;
            build(t.second, l, 30);
            return t;
        }();
        codes(tables.first, tables.second);
    }

    void dynamic()
    {
        static const uint8_t order[19] = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15 };
        const int nlen = bits(5) + 257, ndist = bits(5) + 1, ncode = bits(4) + 4;
        if (nlen > 286 || ndist > 30)
            bad("bad code counts");
        uint8_t lengths[320] = {};
        for (int i = 0; i < ncode; ++i)
            lengths[order[i]] = static_cast<uint8_t>(bits(3));
        Huffman lencode, lit, dist;
        if (!build(lencode, lengths, 19))
            bad("bad code lengths code");
        int index = 0;
        while (index < nlen + ndist) {
            int sym = decode(lencode);
            if (sym < 16) {
                lengths[index++] = static_cast<uint8_t>(sym);
                continue;
            }
            uint8_t len = 0;
            int repeat = 0;
            if (sym == 16) {
                if (index == 0)
                    bad("repeat with no first length");
                len = lengths[index - 1];
                repeat = 3 + bits(2);
            } else if (sym == 17) {
                repeat = 3 + bits(3);
            } else {
                repeat = 11 + bits(7);
            }
            if (index + repeat > nlen + ndist)
                bad("too many lengths");
            while (repeat--)
                lengths[index++] = len;
        }
        if (lengths[256] == 0)
            bad("no end-of-block code");
        if (!build(lit, lengths, nlen) || !build(dist, lengths + nlen, ndist))
            bad("bad literal or distance code");
        codes(lit, dist);
    }

    const uint8_t* m_in;
    size_t m_n, m_pos = 0;
    uint32_t m_bitBuf = 0;
    int m_bitCount = 0;
    std::string m_where;
    size_t m_limit;
    std::string* m_out = nullptr;
};

} // namespace

std::string zlibDecompress(const std::string& in, const std::string& where, size_t limit)
{
    const auto* p = reinterpret_cast<const uint8_t*>(in.data());
    if (in.size() < 6 || (p[0] & 0x0F) != 8 || ((p[0] << 8) | p[1]) % 31 != 0 || (p[1] & 0x20))
        fail(ErrorKind::Format, where + ": not a zlib stream");
    std::string out;
    const size_t used = 2 + Inflater(p + 2, in.size() - 2, where, limit).run(out);
    if (used + 4 > in.size())
        fail(ErrorKind::Format, where + ": corrupt compressed data (no checksum)");
    const uint32_t want
        = uint32_t(p[used]) << 24 | uint32_t(p[used + 1]) << 16 | uint32_t(p[used + 2]) << 8 | p[used + 3];
    if (adler32(1, out.data(), out.size()) != want)
        fail(ErrorKind::Format, where + ": corrupt compressed data (checksum)");
    return out;
}

std::string gunzip(const std::string& in, const std::string& where, size_t limit)
{
    const auto* p = reinterpret_cast<const uint8_t*>(in.data());
    std::string out;
    size_t pos = 0;
    while (pos < in.size()) {
        if (in.size() - pos < 18 || p[pos] != 0x1f || p[pos + 1] != 0x8b || p[pos + 2] != 8)
            fail(ErrorKind::Format, where + ": not gzip data");
        const uint8_t flags = p[pos + 3];
        size_t q = pos + 10;
        auto need = [&](size_t k) {
            if (q + k > in.size())
                fail(ErrorKind::Format, where + ": gzip header ends early");
        };
        if (flags & 4) { // FEXTRA
            need(2);
            q += 2 + (p[q] | p[q + 1] << 8);
        }
        for (int bit : { 8, 16 }) // FNAME, FCOMMENT: zero-terminated
            if (flags & bit) {
                while (need(1), p[q] != 0)
                    ++q;
                ++q;
            }
        if (flags & 2) // FHCRC
            q += 2;
        need(0);
        std::string member;
        q += Inflater(p + q, in.size() - q, where, limit - out.size()).run(member);
        need(8);
        const uint32_t crc = p[q] | p[q + 1] << 8 | p[q + 2] << 16 | uint32_t(p[q + 3]) << 24;
        if (crc32(0, member.data(), member.size()) != crc)
            fail(ErrorKind::Format, where + ": corrupt gzip data (checksum)");
        out += member;
        pos = q + 8;
    }
    return out;
}

// ---------------------------------------------------------------- UTF-8

int utf8Decode(const unsigned char* p, size_t left, int32_t& cp)
{
    if (left == 0)
        return -1;
    const unsigned char c = p[0];
    int n = 0;
    int32_t v = 0;
    if (c < 0x80)
        return cp = c, 1;
    if ((c & 0xE0) == 0xC0)
        n = 2, v = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
        n = 3, v = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
        n = 4, v = c & 0x07;
    else
        return -1;
    if (left < static_cast<size_t>(n))
        return -1;
    for (int i = 1; i < n; ++i) {
        if ((p[i] & 0xC0) != 0x80)
            return -1;
        v = (v << 6) | (p[i] & 0x3F);
    }
    static const int32_t minimum[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (v < minimum[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return -1; // overlong, out of range or a surrogate
    cp = v;
    return n;
}

int utf8Encode(int32_t cp, unsigned char out[4])
{
    if (cp < 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80)
        return out[0] = static_cast<unsigned char>(cp), 1;
    if (cp < 0x800) {
        out[0] = static_cast<unsigned char>(0xC0 | (cp >> 6));
        out[1] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = static_cast<unsigned char>(0xE0 | (cp >> 12));
        out[1] = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
        out[2] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = static_cast<unsigned char>(0xF0 | (cp >> 18));
    out[1] = static_cast<unsigned char>(0x80 | ((cp >> 12) & 0x3F));
    out[2] = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F));
    out[3] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
    return 4;
}

} // namespace ls::builtin

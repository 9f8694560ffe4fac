#pragma once
// Self-contained replacements for the small pieces core/ takes from zlib and OpenSSL, so that core/ and latent-cli
// build with libtorch alone (a GPU machine with PyTorch and nothing else: docs/gpu.md). Where the libraries are found
// they are used; these are always compiled and tested against them (tests/core/util/tst_builtin.cpp).
#include <cstddef>
#include <cstdint>
#include <string>

namespace ls::builtin {

// SHA-256 (FIPS 180-4), streaming.
class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t n);
    std::string hexDigest(); // lower-case hex; the object is spent afterwards
private:
    void block(const uint8_t* p);
    uint32_t m_h[8];
    uint8_t m_buf[64];
    size_t m_fill = 0;
    uint64_t m_bytes = 0;
};

uint32_t crc32(uint32_t crc, const void* data, size_t n); // zlib's crc32() (start with 0)
uint32_t adler32(uint32_t adler, const void* data, size_t n); // zlib's adler32() (start with 1)

// A zlib stream (RFC 1950) holding `in` in stored deflate blocks: valid for every reader, no compression.
std::string zlibStore(const std::string& in);
// Inflate (RFC 1951: stored, fixed and dynamic Huffman blocks). Fail with a message naming `where` on bad data or when
// the output would pass `limit` bytes.
std::string zlibDecompress(
    const std::string& in, const std::string& where, size_t limit); // RFC 1950 wrapper, Adler-32 checked
std::string gunzip(const std::string& in, const std::string& where, size_t limit); // RFC 1952 members, CRC-32 checked

// UTF-8: the code point at p (at most `left` bytes) and its length, or -1 for an invalid sequence; and the encoding.
int utf8Decode(const unsigned char* p, size_t left, int32_t& cp);
int utf8Encode(int32_t cp, unsigned char out[4]);

} // namespace ls::builtin

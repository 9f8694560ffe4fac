#include "util/Sha256.h"

#include "util/Builtin.h"
#include "util/Error.h"

#ifdef LS_WITH_OPENSSL
#include <openssl/evp.h>
#endif

#include <fstream>
#include <memory>
#include <vector>

namespace ls {

#ifdef LS_WITH_OPENSSL
namespace {
std::string hex(const unsigned char* d, unsigned n)
{
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (unsigned i = 0; i < n; ++i) {
        s.push_back(digits[d[i] >> 4]);
        s.push_back(digits[d[i] & 15]);
    }
    return s;
}
}

std::string sha256File(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(ErrorKind::Io, path.string() + ": cannot open to hash");
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx.get(), md, &n);
    return hex(md, n);
}

std::string sha256(const std::string& bytes)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr);
    return hex(md, n);
}
#else // built without OpenSSL: the project's own SHA-256
std::string sha256File(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(ErrorKind::Io, path.string() + ": cannot open to hash");
    builtin::Sha256 h;
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        h.update(buf.data(), static_cast<size_t>(in.gcount()));
    }
    return h.hexDigest();
}

std::string sha256(const std::string& bytes)
{
    builtin::Sha256 h;
    h.update(bytes.data(), bytes.size());
    return h.hexDigest();
}
#endif

} // namespace ls

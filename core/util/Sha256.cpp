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

namespace {

#ifdef LS_WITH_OPENSSL
// OpenSSL's SHA-256 (hardware-accelerated where the CPU has it), with the built-in one's interface.
class Hasher {
public:
    Hasher() { EVP_DigestInit_ex(m_ctx.get(), EVP_sha256(), nullptr); }
    void update(const void* data, size_t n) { EVP_DigestUpdate(m_ctx.get(), data, n); }
    std::string hexDigest()
    {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_DigestFinal_ex(m_ctx.get(), md, &n);
        static const char* digits = "0123456789abcdef";
        std::string s;
        for (unsigned i = 0; i < n; ++i) {
            s.push_back(digits[md[i] >> 4]);
            s.push_back(digits[md[i] & 15]);
        }
        return s;
    }

private:
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> m_ctx { EVP_MD_CTX_new(), EVP_MD_CTX_free };
};
#else // built without OpenSSL: the project's own SHA-256
using Hasher = builtin::Sha256;
#endif

} // namespace

std::string sha256File(const std::filesystem::path& path, uint64_t offset)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(ErrorKind::Io, path.string() + ": cannot open to hash");
    if (offset > 0 && !in.seekg(static_cast<std::streamoff>(offset)))
        fail(ErrorKind::Io, path.string() + ": cannot seek to byte " + std::to_string(offset) + " to hash");
    Hasher h;
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        h.update(buf.data(), static_cast<size_t>(in.gcount()));
    }
    return h.hexDigest();
}

std::string sha256(const std::string& bytes)
{
    Hasher h;
    h.update(bytes.data(), bytes.size());
    return h.hexDigest();
}

} // namespace ls

#include "text/Unicode.h"

#include "util/Builtin.h"

#ifdef LS_WITH_UTF8PROC
#include <utf8proc.h>
#endif

#include <cstdlib>

namespace ls::text {

#ifndef LS_WITH_UTF8PROC
// Built without utf8proc (a GPU machine with PyTorch alone): exact for ASCII prompts; other code points are letters,
// unnormalised, lower-cased only in Latin-1.
namespace {
using utf8proc_uint8_t = unsigned char;
using utf8proc_ssize_t = long;
using utf8proc_int32_t = int32_t;
enum {
    UTF8PROC_CATEGORY_LU,
    UTF8PROC_CATEGORY_LL,
    UTF8PROC_CATEGORY_LT,
    UTF8PROC_CATEGORY_LM,
    UTF8PROC_CATEGORY_LO,
    UTF8PROC_CATEGORY_ND,
    UTF8PROC_CATEGORY_NL,
    UTF8PROC_CATEGORY_NO,
    UTF8PROC_CATEGORY_OTHER
};
utf8proc_ssize_t utf8proc_iterate(const utf8proc_uint8_t* p, utf8proc_ssize_t left, utf8proc_int32_t* cp)
{
    return builtin::utf8Decode(p, static_cast<size_t>(left), *cp);
}
utf8proc_ssize_t utf8proc_encode_char(utf8proc_int32_t cp, utf8proc_uint8_t* buf)
{
    return builtin::utf8Encode(cp, buf);
}
int utf8proc_category(int32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? UTF8PROC_CATEGORY_LU
            : (c >= 'a' && c <= 'z')  ? UTF8PROC_CATEGORY_LL
            : (c >= '0' && c <= '9')  ? UTF8PROC_CATEGORY_ND
                                      : UTF8PROC_CATEGORY_OTHER;
    if (c == 0xAA || c == 0xB5 || c == 0xBA || (c >= 0xC0 && c != 0xD7 && c != 0xF7))
        return UTF8PROC_CATEGORY_LO;
    if (c == 0xB2 || c == 0xB3 || c == 0xB9 || (c >= 0xBC && c <= 0xBE))
        return UTF8PROC_CATEGORY_NO;
    return UTF8PROC_CATEGORY_OTHER;
}
int32_t utf8proc_tolower(int32_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ? c + 32 : c;
}
utf8proc_uint8_t* utf8proc_NFC(const utf8proc_uint8_t*) { return nullptr; } // unnormalised
} // namespace
#endif

CodePoints decodeUtf8(const std::string& s)
{
    CodePoints out;
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
    utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
    while (left > 0) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) { // invalid byte: U+FFFD, as Python's 'replace'
            cp = 0xFFFD;
            n = 1;
        }
        out.push_back(cp);
        p += n;
        left -= n;
    }
    return out;
}

std::string encodeUtf8(const CodePoints& cps)
{
    std::string out;
    utf8proc_uint8_t buf[4];
    for (int32_t cp : cps) {
        utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
        out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
    }
    return out;
}

std::string encodeUtf8(int32_t cp) { return encodeUtf8(CodePoints { cp }); }

bool isValidUtf8(const std::string& s)
{
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
    utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
    while (left > 0) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0)
            return false;
        p += n;
        left -= n;
    }
    return true;
}

// Python's \s for str patterns.
bool isSpace(int32_t c)
{
    return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680
        || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

bool isLetter(int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return true;
    default:
        return false;
    }
}

bool isNumber(int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

int32_t toLower(int32_t c) { return utf8proc_tolower(c); }

std::string lower(const std::string& s)
{
    CodePoints cps = decodeUtf8(s);
    for (auto& c : cps)
        c = utf8proc_tolower(c);
    return encodeUtf8(cps);
}

std::string nfc(const std::string& s)
{
    utf8proc_uint8_t* out = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()));
    if (!out)
        return s;
    std::string result = reinterpret_cast<char*>(out);
    std::free(out);
    return result;
}

} // namespace ls::text

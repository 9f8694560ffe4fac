#include "text/ClipTokenizer.h"

#include "util/Builtin.h"
#include "util/Error.h"

#include <nlohmann/json.hpp>
#ifdef LS_WITH_UTF8PROC
#include <utf8proc.h>
#endif
#ifdef LS_WITH_ZLIB
#include <zlib.h>
#endif

#include <algorithm>
#include <climits>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ls::text {

namespace fs = std::filesystem;

#ifndef LS_WITH_UTF8PROC
// Built without utf8proc (a GPU machine with PyTorch alone): exact for ASCII prompts; other code points are letters,
// unnormalised, lower-cased only in Latin-1.
namespace {
using utf8proc_uint8_t = unsigned char;
using utf8proc_ssize_t = long;
using utf8proc_int32_t = int32_t;
enum { UTF8PROC_CATEGORY_LU, UTF8PROC_CATEGORY_LL, UTF8PROC_CATEGORY_LT, UTF8PROC_CATEGORY_LM, UTF8PROC_CATEGORY_LO,
    UTF8PROC_CATEGORY_ND, UTF8PROC_CATEGORY_NL, UTF8PROC_CATEGORY_NO, UTF8PROC_CATEGORY_OTHER };
utf8proc_ssize_t utf8proc_iterate(const utf8proc_uint8_t* p, utf8proc_ssize_t left, utf8proc_int32_t* cp)
{
    return builtin::utf8Decode(p, static_cast<size_t>(left), *cp);
}
utf8proc_ssize_t utf8proc_encode_char(utf8proc_int32_t cp, utf8proc_uint8_t* buf) { return builtin::utf8Encode(cp, buf); }
int utf8proc_category(int32_t c)
{
    if (c < 0x80)
        return (c >= 'A' && c <= 'Z') ? UTF8PROC_CATEGORY_LU : (c >= 'a' && c <= 'z') ? UTF8PROC_CATEGORY_LL
            : (c >= '0' && c <= '9') ? UTF8PROC_CATEGORY_ND : UTF8PROC_CATEGORY_OTHER;
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

namespace {

using CodePoints = std::vector<int32_t>;

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
    return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a)
        || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

bool isLetter(int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: return true;
    default: return false;
    }
}

bool isNumber(int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: return true;
    default: return false;
    }
}

const int32_t kCp1252[32] = { 0x20AC, -1, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, -1, 0x017D, -1, -1, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
    0x0153, -1, 0x017E, 0x0178 };

// "sloppy-windows-1252" encoding of a code point, or -1.
int sloppy1252(int32_t cp)
{
    if (cp < 0x80 || (cp >= 0x80 && cp <= 0xFF))
        return cp;
    for (int i = 0; i < 32; ++i)
        if (kCp1252[i] == cp)
            return 0x80 + i;
    return -1;
}

std::string fixMojibake(const std::string& text)
{
    const CodePoints cps = decodeUtf8(text);
    bool suspicious = false;
    std::string bytes;
    for (size_t i = 0; i < cps.size(); ++i) {
        const int b = sloppy1252(cps[i]);
        if (b < 0)
            return text;
        if (cps[i] >= 0xC2 && cps[i] <= 0xF4)
            suspicious = true;
        bytes.push_back(static_cast<char>(b));
    }
    if (!suspicious || !isValidUtf8(bytes))
        return text;
    const CodePoints fixed = decodeUtf8(bytes);
    return fixed.size() < cps.size() ? bytes : text;
}

} // namespace

std::string htmlUnescape(const std::string& s)
{
    static const std::pair<const char*, int32_t> named[] = { { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
        { "apos", '\'' }, { "nbsp", 0xA0 }, { "copy", 0xA9 }, { "reg", 0xAE }, { "trade", 0x2122 }, { "hellip", 0x2026 },
        { "mdash", 0x2014 }, { "ndash", 0x2013 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "ldquo", 0x201C },
        { "rdquo", 0x201D }, { "eacute", 0xE9 }, { "egrave", 0xE8 }, { "aacute", 0xE1 }, { "agrave", 0xE0 },
        { "uuml", 0xFC }, { "ouml", 0xF6 }, { "auml", 0xE4 }, { "szlig", 0xDF }, { "ccedil", 0xE7 }, { "ntilde", 0xF1 },
        { "deg", 0xB0 }, { "times", 0xD7 }, { "euro", 0x20AC }, { "pound", 0xA3 }, { "yen", 0xA5 }, { "cent", 0xA2 } };
    std::string out;
    for (size_t i = 0; i < s.size();) {
        if (s[i] != '&') {
            out.push_back(s[i++]);
            continue;
        }
        const size_t semi = s.find(';', i);
        if (semi != std::string::npos && semi - i <= 10) {
            std::string ent = s.substr(i + 1, semi - i - 1);
            int32_t cp = -1;
            if (!ent.empty() && ent[0] == '#') {
                try {
                    if (ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X'))
                        cp = static_cast<int32_t>(std::stol(ent.substr(2), nullptr, 16));
                    else
                        cp = static_cast<int32_t>(std::stol(ent.substr(1)));
                } catch (const std::exception&) {
                    cp = -1;
                }
                if (cp <= 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    cp = cp < 0 ? -1 : 0xFFFD;
            } else {
                for (const auto& [n, v] : named)
                    if (ent == n)
                        cp = v;
            }
            if (cp >= 0) {
                out += encodeUtf8(cp);
                i = semi + 1;
                continue;
            }
        }
        out.push_back(s[i++]);
    }
    return out;
}

std::string fixText(const std::string& input)
{
    std::string s = input;
    if (!isValidUtf8(s))
        s = encodeUtf8(decodeUtf8(s));
    if (s.find('<') == std::string::npos)
        s = htmlUnescape(s);
    // Terminal escapes: ESC [ ... letter
    {
        std::string out;
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
                size_t j = i + 2;
                while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == ';'))
                    ++j;
                if (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) {
                    i = j;
                    continue;
                }
            }
            out.push_back(s[i]);
        }
        s = out;
    }
    s = fixMojibake(s);
    CodePoints out;
    const CodePoints cps = decodeUtf8(s);
    for (size_t i = 0; i < cps.size(); ++i) {
        const int32_t c = cps[i];
        switch (c) {
        case 0xFB00: out.insert(out.end(), { 'f', 'f' }); continue;
        case 0xFB01: out.insert(out.end(), { 'f', 'i' }); continue;
        case 0xFB02: out.insert(out.end(), { 'f', 'l' }); continue;
        case 0xFB03: out.insert(out.end(), { 'f', 'f', 'i' }); continue;
        case 0xFB04: out.insert(out.end(), { 'f', 'f', 'l' }); continue;
        case 0xFB06: out.insert(out.end(), { 's', 't' }); continue;
        case 0x0132: out.insert(out.end(), { 'I', 'J' }); continue;
        case 0x0133: out.insert(out.end(), { 'i', 'j' }); continue;
        default: break;
        }
        if (c >= 0xFF01 && c <= 0xFF5E) {
            out.push_back(c - 0xFEE0);
            continue;
        }
        if (c == 0x3000) {
            out.push_back(' ');
            continue;
        }
        if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) {
            out.push_back('\'');
            continue;
        }
        if (c >= 0x201C && c <= 0x201F) {
            out.push_back('"');
            continue;
        }
        if (c == '\r') {
            out.push_back('\n');
            if (i + 1 < cps.size() && cps[i + 1] == '\n')
                ++i;
            continue;
        }
        if (c == 0x2028 || c == 0x2029 || c == 0x85) {
            out.push_back('\n');
            continue;
        }
        if ((c >= 0 && c <= 8) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0xFEFF || (c >= 0x206A && c <= 0x206F)
            || (c >= 0xFFF9 && c <= 0xFFFC))
            continue;
        out.push_back(c);
    }
    std::string joined = encodeUtf8(out);
    utf8proc_uint8_t* nfc = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(joined.c_str()));
    if (nfc) {
        joined = reinterpret_cast<char*>(nfc);
        std::free(nfc);
    }
    return joined;
}

std::string whitespaceClean(const std::string& text)
{
    CodePoints out;
    bool pending = false;
    for (int32_t c : decodeUtf8(text)) {
        if (isSpace(c)) {
            pending = !out.empty();
            continue;
        }
        if (pending)
            out.push_back(' ');
        pending = false;
        out.push_back(c);
    }
    return encodeUtf8(out);
}

namespace {

std::string lower(const std::string& s)
{
    CodePoints cps = decodeUtf8(s);
    for (auto& c : cps)
        c = utf8proc_tolower(c);
    return encodeUtf8(cps);
}

// The CLIP pre-tokenisation regex, by hand:
// <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+   (IGNORECASE)
std::vector<std::string> pretokenize(const std::string& text)
{
    const CodePoints cps = decodeUtf8(text);
    std::vector<std::string> out;
    auto startsWith = [&](size_t i, const char* lit) {
        for (size_t k = 0; lit[k]; ++k)
            if (i + k >= cps.size() || utf8proc_tolower(cps[i + k]) != lit[k])
                return false;
        return true;
    };
    static const char* const specials[] = { "<|startoftext|>", "<|endoftext|>" };
    static const char* const contractions[] = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };
    size_t i = 0;
    while (i < cps.size()) {
        bool matched = false;
        for (const char* lit : specials) {
            if (startsWith(i, lit)) {
                const size_t n = std::strlen(lit);
                out.push_back(encodeUtf8(CodePoints(cps.begin() + i, cps.begin() + i + n)));
                i += n;
                matched = true;
                break;
            }
        }
        if (matched)
            continue;
        for (const char* lit : contractions) {
            if (startsWith(i, lit)) {
                const size_t n = std::strlen(lit);
                out.push_back(encodeUtf8(CodePoints(cps.begin() + i, cps.begin() + i + n)));
                i += n;
                matched = true;
                break;
            }
        }
        if (matched)
            continue;
        const int32_t c = cps[i];
        size_t j = i + 1;
        if (isLetter(c)) {
            while (j < cps.size() && isLetter(cps[j]))
                ++j;
        } else if (isNumber(c)) {
        } else if (isSpace(c)) {
            ++i;
            continue;
        } else {
            while (j < cps.size() && !isSpace(cps[j]) && !isLetter(cps[j]) && !isNumber(cps[j]))
                ++j;
        }
        out.push_back(encodeUtf8(CodePoints(cps.begin() + i, cps.begin() + j)));
        i = j;
    }
    return out;
}

std::vector<int32_t> byteStandIns()
{
    std::vector<int> bs;
    for (int b = '!'; b <= '~'; ++b)
        bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b)
        bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b)
        bs.push_back(b);
    std::vector<int32_t> cs(256, -1);
    for (int b : bs)
        cs[b] = b;
    int n = 0;
    for (int b = 0; b < 256; ++b)
        if (cs[b] < 0)
            cs[b] = 256 + n++;
    return cs;
}

std::string readMaybeGz(const fs::path& path)
{
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        fail(ErrorKind::Io, path.string() + ": vocabulary file not found");
#ifndef LS_WITH_ZLIB
    {
        std::ifstream in(path, std::ios::binary);
        if (!in)
            fail(ErrorKind::Io, path.string() + ": cannot open");
        std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (raw.size() > 2 && static_cast<unsigned char>(raw[0]) == 0x1f && static_cast<unsigned char>(raw[1]) == 0x8b)
            return builtin::gunzip(raw, path.string(), 64u << 20);
        return raw;
    }
#else
    gzFile f = gzopen(path.c_str(), "rb"); // reads plain files too
    if (!f)
        fail(ErrorKind::Io, path.string() + ": cannot open");
    std::string out;
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > (64u << 20)) {
            gzclose(f);
            fail(ErrorKind::Format, path.string() + ": vocabulary larger than 64 MiB, not a CLIP BPE file");
        }
    }
    const bool bad = n < 0;
    gzclose(f);
    if (bad)
        fail(ErrorKind::Format, path.string() + ": corrupt gzip data");
    return out;
#endif
}

} // namespace

void ClipTokenizer::buildFromMerges(const std::vector<std::pair<std::string, std::string>>& merges)
{
    const auto cs = byteStandIns();
    m_byteEncoder.assign(256, {});
    for (int b = 0; b < 256; ++b) {
        m_byteEncoder[b] = encodeUtf8(cs[b]);
        m_byteDecoder[m_byteEncoder[b]] = static_cast<unsigned char>(b);
    }
    // Vocabulary order of simple_tokenizer: stand-ins in bytes_to_unicode order, the same with </w>, merges, specials.
    std::vector<int> order;
    for (int b = '!'; b <= '~'; ++b)
        order.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b)
        order.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b)
        order.push_back(b);
    for (int b = 0; b < 256; ++b)
        if (std::find(order.begin(), order.end(), b) == order.end())
            order.push_back(b);
    m_decoder.clear();
    for (int b : order)
        m_decoder.push_back(m_byteEncoder[b]);
    for (int b : order)
        m_decoder.push_back(m_byteEncoder[b] + "</w>");
    for (size_t i = 0; i < merges.size(); ++i) {
        m_decoder.push_back(merges[i].first + merges[i].second);
        m_ranks[merges[i]] = static_cast<int>(i);
    }
    m_decoder.push_back("<|startoftext|>");
    m_decoder.push_back("<|endoftext|>");
    m_encoder.clear();
    for (size_t i = 0; i < m_decoder.size(); ++i)
        m_encoder.emplace(m_decoder[i], static_cast<int>(i));
}

ClipTokenizer ClipTokenizer::fromFile(const fs::path& path)
{
    const std::string data = readMaybeGz(path);
    std::vector<std::string> lines;
    std::stringstream ss(data);
    std::string line;
    while (std::getline(ss, line))
        lines.push_back(line);
    const size_t want = 49152 - 256 - 2; // merges[1 : 49152-256-2+1]
    if (lines.size() < want + 1)
        fail(ErrorKind::Format, path.string() + ": only " + std::to_string(lines.size()) + " lines; a CLIP BPE vocabulary has at least " + std::to_string(want + 1));
    std::vector<std::pair<std::string, std::string>> merges;
    for (size_t i = 1; i <= want; ++i) {
        const auto sp = lines[i].find(' ');
        if (sp == std::string::npos)
            fail(ErrorKind::Format, path.string() + ": line " + std::to_string(i + 1) + " is not a merge pair");
        merges.emplace_back(lines[i].substr(0, sp), lines[i].substr(sp + 1));
    }
    ClipTokenizer t;
    t.buildFromMerges(merges);
    return t;
}

ClipTokenizer ClipTokenizer::fromHuggingFace(const fs::path& vocabJson, const fs::path& mergesTxt)
{
    ClipTokenizer t = [&] {
        const std::string data = readMaybeGz(mergesTxt);
        std::vector<std::pair<std::string, std::string>> merges;
        std::stringstream ss(data);
        std::string line;
        bool first = true;
        while (std::getline(ss, line)) {
            if (first && line.rfind("#version", 0) == 0) {
                first = false;
                continue;
            }
            first = false;
            const auto sp = line.find(' ');
            if (sp != std::string::npos)
                merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
        }
        ClipTokenizer tk;
        tk.buildFromMerges(merges);
        return tk;
    }();
    std::ifstream in(vocabJson);
    if (!in)
        fail(ErrorKind::Io, vocabJson.string() + ": cannot open");
    nlohmann::json v;
    try {
        v = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        fail(ErrorKind::Format, vocabJson.string() + ": not valid JSON: " + e.what());
    }
    t.m_encoder.clear();
    t.m_decoder.assign(v.size(), {});
    if (!v.is_object())
        fail(ErrorKind::Format, vocabJson.string() + ": expected a JSON object of token -> id");
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (!it.value().is_number_integer())
            fail(ErrorKind::Format, vocabJson.string() + ": the id of '" + it.key() + "' is not an integer");
        const int id = it.value().get<int>();
        if (id < 0 || static_cast<size_t>(id) >= t.m_decoder.size())
            fail(ErrorKind::Format, vocabJson.string() + ": id out of range for '" + it.key() + "'");
        t.m_encoder[it.key()] = id;
        t.m_decoder[id] = it.key();
    }
    return t;
}

ClipTokenizer ClipTokenizer::find(const std::vector<fs::path>& candidates)
{
    std::string tried;
    for (const auto& c : candidates) {
        std::error_code ec;
        if (fs::is_directory(c, ec)) {
            for (const char* n : { "bpe_simple_vocab_16e6.txt.gz", "bpe_simple_vocab_16e6.txt" })
                if (fs::is_regular_file(c / n, ec))
                    return fromFile(c / n);
            if (fs::is_regular_file(c / "vocab.json", ec) && fs::is_regular_file(c / "merges.txt", ec))
                return fromHuggingFace(c / "vocab.json", c / "merges.txt");
        } else if (fs::is_regular_file(c, ec)) {
            return fromFile(c);
        }
        tried += "\n  " + c.string();
    }
    fail(ErrorKind::Io, "CLIP vocabulary (bpe_simple_vocab_16e6.txt.gz, or vocab.json + merges.txt) not found; looked in:" + tried
            + "\nSet its folder in the settings or with --vocab, or run packaging/fetch-clip-vocab.sh.");
}

std::vector<std::string> ClipTokenizer::bpe(const std::string& token) const
{
    if (auto it = m_cache.find(token); it != m_cache.end())
        return it->second;
    CodePoints cps = decodeUtf8(token);
    std::vector<std::string> word;
    for (int32_t c : cps)
        word.push_back(encodeUtf8(c));
    if (word.empty())
        return {};
    word.back() += "</w>";
    while (word.size() > 1) {
        int best = INT_MAX;
        size_t bestAt = 0;
        for (size_t i = 0; i + 1 < word.size(); ++i) {
            auto it = m_ranks.find({ word[i], word[i + 1] });
            if (it != m_ranks.end() && it->second < best) {
                best = it->second;
                bestAt = i;
            }
        }
        if (best == INT_MAX)
            break;
        const std::string first = word[bestAt], second = word[bestAt + 1];
        std::vector<std::string> merged;
        for (size_t i = 0; i < word.size();) {
            if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
                merged.push_back(first + second);
                i += 2;
            } else {
                merged.push_back(word[i]);
                ++i;
            }
        }
        word.swap(merged);
    }
    if (m_cache.size() < 100000)
        m_cache[token] = word;
    return word;
}

std::vector<int> ClipTokenizer::encode(const std::string& textIn, Cleaning cleaning) const
{
    std::string t = fixText(textIn);
    if (cleaning == Cleaning::OpenAI)
        t = htmlUnescape(htmlUnescape(t));
    t = lower(whitespaceClean(t));
    std::vector<int> ids;
    for (const std::string& piece : pretokenize(t)) {
        if (piece == "<|startoftext|>" || piece == "<|endoftext|>") {
            ids.push_back(piece == "<|startoftext|>" ? kBos : kEos);
            continue;
        }
        std::string mapped;
        for (unsigned char b : piece)
            mapped += m_byteEncoder[b];
        for (const std::string& part : bpe(mapped)) {
            auto it = m_encoder.find(part);
            if (it != m_encoder.end())
                ids.push_back(it->second);
        }
    }
    return ids;
}

std::vector<int> ClipTokenizer::padded(const std::vector<int>& ids, size_t length, int pad) const
{
    std::vector<int> out { kBos };
    for (size_t i = 0; i < ids.size() && out.size() < length - 1; ++i)
        out.push_back(ids[i]);
    out.push_back(kEos);
    while (out.size() < length)
        out.push_back(pad);
    return out;
}

std::string ClipTokenizer::decode(const std::vector<int>& ids) const
{
    std::string joined;
    for (int id : ids)
        if (id >= 0 && static_cast<size_t>(id) < m_decoder.size())
            joined += m_decoder[id];
    std::string bytes;
    for (int32_t c : decodeUtf8(joined)) {
        auto it = m_byteDecoder.find(encodeUtf8(c));
        if (it != m_byteDecoder.end())
            bytes.push_back(static_cast<char>(it->second));
    }
    std::string out;
    for (size_t i = 0; i < bytes.size();) {
        if (bytes.compare(i, 4, "</w>") == 0) {
            out.push_back(' ');
            i += 4;
        } else {
            out.push_back(bytes[i++]);
        }
    }
    return out;
}

} // namespace ls::text

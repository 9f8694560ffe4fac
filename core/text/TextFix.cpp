#include "text/TextFix.h"

#include "text/Unicode.h"

#include <cctype>
#include <exception>

namespace ls::text {

namespace {

const int32_t kCp1252[32] = { 0x20AC, -1, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, -1, 0x017D, -1, -1, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161,
    0x203A, 0x0153, -1, 0x017E, 0x0178 };

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
    static const std::pair<const char*, int32_t> named[] = { { "amp", '&' }, { "lt", '<' }, { "gt", '>' },
        { "quot", '"' }, { "apos", '\'' }, { "nbsp", 0xA0 }, { "copy", 0xA9 }, { "reg", 0xAE }, { "trade", 0x2122 },
        { "hellip", 0x2026 }, { "mdash", 0x2014 }, { "ndash", 0x2013 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 },
        { "ldquo", 0x201C }, { "rdquo", 0x201D }, { "eacute", 0xE9 }, { "egrave", 0xE8 }, { "aacute", 0xE1 },
        { "agrave", 0xE0 }, { "uuml", 0xFC }, { "ouml", 0xF6 }, { "auml", 0xE4 }, { "szlig", 0xDF }, { "ccedil", 0xE7 },
        { "ntilde", 0xF1 }, { "deg", 0xB0 }, { "times", 0xD7 }, { "euro", 0x20AC }, { "pound", 0xA3 }, { "yen", 0xA5 },
        { "cent", 0xA2 } };
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

namespace {

// One pass of ftfy's fixes over one line, in its order: HTML entities, mojibake... (terminal escapes first here: they
// cannot hold entities or mojibake, so the order does not change the result).
std::string fixOnce(std::string s, bool unescape)
{
    if (unescape)
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
        case 0xFB00:
            out.insert(out.end(), { 'f', 'f' });
            continue;
        case 0xFB01:
            out.insert(out.end(), { 'f', 'i' });
            continue;
        case 0xFB02:
            out.insert(out.end(), { 'f', 'l' });
            continue;
        case 0xFB03:
            out.insert(out.end(), { 'f', 'f', 'i' });
            continue;
        case 0xFB04:
            out.insert(out.end(), { 'f', 'f', 'l' });
            continue;
        case 0xFB06:
            out.insert(out.end(), { 's', 't' });
            continue;
        case 0x0132:
            out.insert(out.end(), { 'I', 'J' });
            continue;
        case 0x0133:
            out.insert(out.end(), { 'i', 'j' });
            continue;
        default:
            break;
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
        if ((c >= 0 && c <= 8) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F || c == 0xFEFF
            || (c >= 0x206A && c <= 0x206F) || (c >= 0xFFF9 && c <= 0xFFFC))
            continue;
        out.push_back(c);
    }
    return nfc(encodeUtf8(out));
}

} // namespace

// As ftfy.fix_text: line by line (each segment ends after its '\n'), HTML entities are unescaped only until the
// first line that holds a literal '<' (from there on for good), and each line's fixes repeat until it stops changing,
// so "&amp;amp;" becomes "&".
std::string fixText(const std::string& input)
{
    std::string s = input;
    if (!isValidUtf8(s))
        s = encodeUtf8(decodeUtf8(s));
    bool unescape = true;
    std::string out;
    for (size_t pos = 0; pos < s.size();) {
        const size_t newline = s.find('\n', pos);
        const size_t end = newline == std::string::npos ? s.size() : newline + 1;
        std::string segment = s.substr(pos, end - pos);
        if (segment.find('<') != std::string::npos)
            unescape = false;
        // Each pass removes at least one character or mapping when it changes anything; the bound only guards
        // against a fix that could oscillate.
        for (int pass = 0; pass < 64; ++pass) {
            std::string next = fixOnce(segment, unescape);
            if (next == segment)
                break;
            segment = std::move(next);
        }
        out += segment;
        pos = end;
    }
    return out;
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

} // namespace ls::text

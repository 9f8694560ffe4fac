#include "text/ClipTokenizer.h"

#include "text/TextFix.h"
#include "text/Unicode.h"
#include "util/Builtin.h"
#include "util/Error.h"

#include <nlohmann/json.hpp>
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

namespace {

// The CLIP pre-tokenisation regex, by hand:
// <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+   (IGNORECASE)
std::vector<std::string> pretokenize(const std::string& text)
{
    const CodePoints cps = decodeUtf8(text);
    std::vector<std::string> out;
    auto startsWith = [&](size_t i, const char* lit) {
        for (size_t k = 0; lit[k]; ++k)
            if (i + k >= cps.size() || toLower(cps[i + k]) != lit[k])
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
        fail(ErrorKind::Format,
            path.string() + ": only " + std::to_string(lines.size()) + " lines; a CLIP BPE vocabulary has at least "
                + std::to_string(want + 1));
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
    fail(ErrorKind::Io,
        "CLIP vocabulary (bpe_simple_vocab_16e6.txt.gz, or vocab.json + merges.txt) not found; looked in:" + tried
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

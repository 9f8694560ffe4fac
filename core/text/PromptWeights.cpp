#include "text/PromptWeights.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace ls::text {

namespace {

bool isSpaceChar(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Splits on \s*\bBREAK\b\s* as A1111's re_break.
std::vector<std::string> splitBreak(const std::string& s)
{
    std::vector<std::string> parts;
    size_t start = 0, i = 0;
    auto isWord = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    while ((i = s.find("BREAK", i)) != std::string::npos) {
        const bool leftOk = i == 0 || !isWord(s[i - 1]);
        const bool rightOk = i + 5 >= s.size() || !isWord(s[i + 5]);
        if (!leftOk || !rightOk) {
            i += 5;
            continue;
        }
        size_t l = i, r = i + 5;
        while (l > start && isSpaceChar(s[l - 1]))
            --l;
        while (r < s.size() && isSpaceChar(s[r]))
            ++r;
        parts.push_back(s.substr(start, l - start));
        start = r;
        i = r;
    }
    parts.push_back(s.substr(start));
    return parts;
}

} // namespace

std::vector<WeightedText> parsePromptAttention(const std::string& text)
{
    std::vector<WeightedText> res;
    std::vector<size_t> round, square;
    auto multiply = [&](size_t from, double m) {
        for (size_t p = from; p < res.size(); ++p)
            res[p].weight = res[p].weight * m;
    };
    // Tokens of re_attention: \( \) \[ \] \\ \ ( [ :weight) ) ] text :
    size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if (c == '\\') {
            if (i + 1 < text.size()
                && (text[i + 1] == '(' || text[i + 1] == ')' || text[i + 1] == '[' || text[i + 1] == ']'
                    || text[i + 1] == '\\')) {
                res.push_back({ std::string(1, text[i + 1]), 1.0f });
                i += 2;
            } else {
                res.push_back({ "", 1.0f }); // a lone backslash: the reference appends text[1:] == ""
                i += 1;
            }
            continue;
        }
        if (c == '(') {
            round.push_back(res.size());
            ++i;
            continue;
        }
        if (c == '[') {
            square.push_back(res.size());
            ++i;
            continue;
        }
        if (c == ':') {
            // :\s*([+-]?[.\d]+)\s*\)
            size_t j = i + 1;
            while (j < text.size() && isSpaceChar(text[j]))
                ++j;
            size_t numStart = j;
            if (j < text.size() && (text[j] == '+' || text[j] == '-'))
                ++j;
            size_t digits = j;
            while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.'))
                ++j;
            size_t numEnd = j;
            while (j < text.size() && isSpaceChar(text[j]))
                ++j;
            if (numEnd > digits && j < text.size() && text[j] == ')') {
                const std::string num = text.substr(numStart, numEnd - numStart);
                char* end = nullptr;
                const double w = std::strtod(num.c_str(), &end);
                const bool valid = end && *end == '\0';
                if (valid && !round.empty()) {
                    multiply(round.back(), w);
                    round.pop_back();
                    i = j + 1;
                    continue;
                }
                if (valid) {
                    // weight without an open bracket: the reference treats the whole match as plain text
                    const std::string whole = text.substr(i, j + 1 - i);
                    for (const auto& part : splitBreak(whole))
                        res.push_back({ part, 1.0f });
                    i = j + 1;
                    continue;
                }
            }
            res.push_back({ ":", 1.0f });
            ++i;
            continue;
        }
        if (c == ')' && !round.empty()) {
            multiply(round.back(), 1.1);
            round.pop_back();
            ++i;
            continue;
        }
        if (c == ']' && !square.empty()) {
            multiply(square.back(), 1 / 1.1);
            square.pop_back();
            ++i;
            continue;
        }
        if (c == ')' || c == ']') {
            res.push_back({ std::string(1, c), 1.0f });
            ++i;
            continue;
        }
        // [^\\()\[\]:]+
        size_t j = i;
        while (j < text.size() && text[j] != '\\' && text[j] != '(' && text[j] != ')' && text[j] != '['
            && text[j] != ']' && text[j] != ':')
            ++j;
        const auto parts = splitBreak(text.substr(i, j - i));
        for (size_t k = 0; k < parts.size(); ++k) {
            if (k > 0)
                res.push_back({ "BREAK", -1.0f });
            res.push_back({ parts[k], 1.0f });
        }
        i = j;
    }
    for (size_t p : round)
        multiply(p, 1.1);
    for (size_t p : square)
        multiply(p, 1 / 1.1);
    if (res.empty())
        res.push_back({ "", 1.0f });
    for (size_t k = 0; k + 1 < res.size();) {
        if (res[k].weight == res[k + 1].weight) {
            res[k].text += res[k + 1].text;
            res.erase(res.begin() + static_cast<std::ptrdiff_t>(k) + 1);
        } else {
            ++k;
        }
    }
    return res;
}

namespace {

bool wordChar(char c)
{
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'
        || (static_cast<unsigned char>(c) & 0x80);
}

std::string lower(std::string s)
{
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Where `name` occurs in `text` as a whole word (case insensitive), from `from` on; npos when nowhere.
size_t findWord(const std::string& lowText, const std::string& lowName, size_t from)
{
    if (lowName.empty())
        return std::string::npos;
    for (size_t at = lowText.find(lowName, from); at != std::string::npos; at = lowText.find(lowName, at + 1)) {
        const bool startOk = at == 0 || !wordChar(lowText[at - 1]);
        const size_t end = at + lowName.size();
        const bool endOk = end == lowText.size() || !wordChar(lowText[end]);
        if (startOk && endOk)
            return at;
    }
    return std::string::npos;
}

// The text's token ids with every embedding word replaced by its ids.
std::vector<int> encodeWithEmbeddings(
    const ClipTokenizer& tokenizer, const std::string& text, const std::vector<EmbeddingToken>* embeddings)
{
    if (!embeddings || embeddings->empty())
        return tokenizer.encode(text);
    const std::string low = lower(text);
    // the earliest embedding word, the longest name first where two start together
    size_t best = std::string::npos;
    const EmbeddingToken* which = nullptr;
    for (const auto& e : *embeddings) {
        const size_t at = findWord(low, lower(e.name), 0);
        if (at == std::string::npos)
            continue;
        if (at < best || (at == best && e.name.size() > which->name.size())) {
            best = at;
            which = &e;
        }
    }
    if (!which)
        return tokenizer.encode(text);
    std::vector<int> ids = tokenizer.encode(text.substr(0, best));
    for (int i = 0; i < which->count; ++i)
        ids.push_back(which->firstId + i);
    const auto rest = encodeWithEmbeddings(tokenizer, text.substr(best + which->name.size()), embeddings);
    ids.insert(ids.end(), rest.begin(), rest.end());
    return ids;
}

} // namespace

std::vector<std::string> embeddingNamesIn(const std::string& text, const std::vector<std::string>& names)
{
    std::vector<std::string> out;
    const std::string low = lower(text);
    for (const auto& n : names)
        if (findWord(low, lower(n), 0) != std::string::npos && std::find(out.begin(), out.end(), n) == out.end())
            out.push_back(n);
    return out;
}

std::vector<PromptChunk> tokenizePrompt(const ClipTokenizer& tokenizer, const std::string& prompt, int padId,
    int commaBacktrack, const std::vector<EmbeddingToken>* embeddings)
{
    constexpr size_t kChunk = 75;
    const auto commaIds = tokenizer.encode(",");
    const int comma = commaIds.empty() ? -1 : commaIds[0];
    std::vector<PromptChunk> chunks;
    PromptChunk cur;
    int lastComma = -1;
    auto nextChunk = [&]() {
        // [BOS] + tokens + [EOS] + padding: A1111 pads with EOS and then sets everything after the first EOS to the
        // pad id, and open_clip's tokenize pads after the EOS, so the end token always follows the words (padding
        // with EOS, CLIP ViT-L's, gives the same sequence either way).
        const size_t toAdd = kChunk - cur.tokens.size();
        cur.tokens.insert(cur.tokens.begin(), ClipTokenizer::kBos);
        cur.tokens.push_back(ClipTokenizer::kEos);
        cur.tokens.insert(cur.tokens.end(), toAdd, padId);
        cur.multipliers.insert(cur.multipliers.begin(), 1.0f);
        cur.multipliers.insert(cur.multipliers.end(), toAdd + 1, 1.0f);
        chunks.push_back(cur);
        cur = {};
        lastComma = -1;
    };
    for (const auto& part : parsePromptAttention(prompt)) {
        if (part.text == "BREAK" && part.weight == -1.0f) {
            nextChunk();
            continue;
        }
        const auto ids = encodeWithEmbeddings(tokenizer, part.text, embeddings);
        for (int token : ids) {
            if (token == comma) {
                lastComma = static_cast<int>(cur.tokens.size());
            } else if (commaBacktrack != 0 && cur.tokens.size() == kChunk && lastComma != -1
                && static_cast<int>(cur.tokens.size()) - lastComma <= commaBacktrack) {
                const size_t at = static_cast<size_t>(lastComma) + 1;
                std::vector<int> relocT(cur.tokens.begin() + static_cast<std::ptrdiff_t>(at), cur.tokens.end());
                std::vector<float> relocM(
                    cur.multipliers.begin() + static_cast<std::ptrdiff_t>(at), cur.multipliers.end());
                cur.tokens.resize(at);
                cur.multipliers.resize(at);
                nextChunk();
                cur.tokens = relocT;
                cur.multipliers = relocM;
            }
            if (cur.tokens.size() == kChunk)
                nextChunk();
            cur.tokens.push_back(token);
            cur.multipliers.push_back(static_cast<float>(part.weight));
        }
    }
    if (!cur.tokens.empty() || chunks.empty())
        nextChunk();
    return chunks;
}

} // namespace ls::text

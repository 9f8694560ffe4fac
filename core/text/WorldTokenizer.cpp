#include "text/WorldTokenizer.h"

#include "util/Error.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

namespace ls::text {

namespace {
const char* const kWords[] = { "a", "small", "large", "red", "green", "blue", "yellow", "circle", "square", "triangle",
    "at", "on", "in", "the", "top", "bottom", "left", "right", "center", "and" };
constexpr int kFirstWord = 2;
constexpr int kNumWords = sizeof(kWords) / sizeof(kWords[0]);
constexpr int kFirstLabel = kFirstWord + kNumWords;
constexpr int kFirstCoord = kFirstLabel + 12;

} // namespace

std::vector<std::string> WorldTokenizer::splitWords(const std::string& s)
{
    std::vector<std::string> out;
    std::string cur;
    for (char ch : s) {
        if (std::isalpha(static_cast<unsigned char>(ch))) {
            cur.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
        } else if (!cur.empty()) {
            out.push_back(cur);
            cur.clear();
        }
    }
    if (!cur.empty())
        out.push_back(cur);
    return out;
}

WorldTokenizer::WorldTokenizer()
    : m_words(std::begin(kWords), std::end(kWords))
{
}

int WorldTokenizer::vocabSize() const { return kFirstCoord + kGrid * kGrid; }

bool WorldTokenizer::parseLabel(const std::string& label, int& color, int& shape)
{
    color = -1;
    shape = -1;
    for (const auto& w : splitWords(label)) {
        std::string word = w;
        if (word.size() > 1 && word.back() == 's')
            word.pop_back(); // "circles"
        for (int c = 0; c < 4; ++c)
            if (word == kWorldColors[c])
                color = c;
        for (int s = 0; s < 3; ++s)
            if (word == kWorldShapes[s])
                shape = s;
    }
    return color >= 0 && shape >= 0;
}

int WorldTokenizer::labelToken(const std::string& label) const
{
    int color = -1, shape = -1;
    if (!parseLabel(label, color, shape))
        return -1;
    return kFirstLabel + color * 3 + shape;
}

int WorldTokenizer::coordToken(double x, double y) const
{
    const auto q = [](double v) { return std::clamp(static_cast<int>(std::lround(v * (kGrid - 1))), 0, kGrid - 1); };
    return kFirstCoord + q(y) * kGrid + q(x);
}

std::vector<int64_t> WorldTokenizer::encode(
    const std::string& caption, const std::vector<WorldBox>& boxes, std::vector<std::string>* unknown) const
{
    std::vector<int64_t> ids;
    for (const auto& w : splitWords(caption)) {
        auto it = std::find(m_words.begin(), m_words.end(), w);
        if (it == m_words.end()) {
            if (unknown)
                unknown->push_back(w);
            continue;
        }
        if (static_cast<int>(ids.size()) < kMaxCaption)
            ids.push_back(kFirstWord + (it - m_words.begin()));
    }
    if (!boxes.empty()) {
        ids.push_back(kSep);
        for (size_t i = 0; i < boxes.size() && static_cast<int>(i) < kMaxBoxes; ++i) {
            const int label = labelToken(boxes[i].label);
            if (label < 0)
                fail(ErrorKind::InvalidInput,
                    "box " + std::to_string(i) + ": '" + boxes[i].label
                        + "' does not name a colour (red, green, blue, yellow) and a shape (circle, square, triangle)");
            ids.push_back(label);
            ids.push_back(coordToken(boxes[i].x0, boxes[i].y0));
            ids.push_back(coordToken(boxes[i].x1, boxes[i].y1));
        }
    }
    ids.resize(kSequence, kPad);
    return ids;
}

} // namespace ls::text

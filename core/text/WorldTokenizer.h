#pragma once
// The bundled model's own tokenizer: one token sequence holding the caption's words, a separator, then per box a
// triple (label, top-left, bottom-right) on a 16x16 coordinate grid, as the LDM layout model encodes boxes.
// Needs no CLIP vocabulary.
#include <array>
#include <string>
#include <vector>

namespace ls::text {

// The world's colour and shape words, in the order of their indices (labels, layout channels, SyntheticWorld).
inline constexpr std::array<const char*, 4> kWorldColors { "red", "green", "blue", "yellow" };
inline constexpr std::array<const char*, 3> kWorldShapes { "circle", "square", "triangle" };

struct WorldBox {
    double x0, y0, x1, y1; // relative to the image, 0..1
    std::string label; // "red circle" (a colour and a shape word, in any order, other words ignored)
};

class WorldTokenizer {
public:
    static constexpr int kPad = 0;
    static constexpr int kSep = 1;
    static constexpr int kSequence = 48;
    static constexpr int kMaxCaption = 32;
    static constexpr int kMaxBoxes = 5;
    static constexpr int kGrid = 16;

    WorldTokenizer();
    int vocabSize() const;
    const std::vector<std::string>& words() const { return m_words; }

    // Caption and boxes -> kSequence ids (caption truncated to kMaxCaption, at most kMaxBoxes boxes).
    // Words outside the vocabulary are skipped and listed in *unknown when given.
    std::vector<int64_t> encode(const std::string& caption, const std::vector<WorldBox>& boxes = {},
        std::vector<std::string>* unknown = nullptr) const;
    // -1 when the label names no known colour + shape.
    int labelToken(const std::string& label) const;
    // The colour (0..3) and shape (0..2) a label names, in any order, other words ignored ("red circles" too).
    static bool parseLabel(const std::string& label, int& color, int& shape);
    // Lower-case words of a text (letters only; anything else separates words).
    static std::vector<std::string> splitWords(const std::string& s);
    int coordToken(double x, double y) const;

private:
    std::vector<std::string> m_words;
};

} // namespace ls::text

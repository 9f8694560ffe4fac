#pragma once
// AUTOMATIC1111 prompt syntax: (word) x1.1, ((word)) x1.21, (word:1.3), [word] /1.1, \( \) \[ \] escapes, BREAK, and
// the 75-token chunking that lets prompts run past CLIP's 77 positions (chunks are encoded separately and their
// embeddings concatenated; a chunk breaks after the last comma when one is within 20 tokens).
#include "text/ClipTokenizer.h"

#include <string>
#include <vector>

namespace ls::text {

struct WeightedText {
    std::string text;
    double weight = 1.0; // -1 marks BREAK
    bool operator==(const WeightedText&) const = default;
};

std::vector<WeightedText> parsePromptAttention(const std::string& prompt);

struct PromptChunk {
    std::vector<int> tokens; // 77: BOS, up to 75 tokens, EOS, padding (the pad id; CLIP ViT-L pads with EOS)
    std::vector<float> multipliers; // 77
};

// A textual-inversion embedding as the tokenizer sees it: a word of the prompt equal to `name` (whole word, case
// insensitive; word characters are letters, digits, '_' and '-') stands for `count` vectors, given the ids firstId,
// firstId + 1, ... past the vocabulary (the text encoder looks them up in its extra token rows).
struct EmbeddingToken {
    std::string name;
    int firstId = 0;
    int count = 1;
};

// Splits a prompt into 77-token chunks with per-token multipliers (at least one chunk, even for "").
std::vector<PromptChunk> tokenizePrompt(const ClipTokenizer& tokenizer, const std::string& prompt,
    int padId = ClipTokenizer::kEos, int commaBacktrack = 20, const std::vector<EmbeddingToken>* embeddings = nullptr);

// Which of `names` the text uses as whole words (case insensitive), each once, in the order of `names`.
std::vector<std::string> embeddingNamesIn(const std::string& text, const std::vector<std::string>& names);

} // namespace ls::text

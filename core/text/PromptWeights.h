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
    std::vector<int> tokens;        // 77: BOS, 75 tokens or padding, EOS
    std::vector<float> multipliers; // 77
};

// Splits a prompt into 77-token chunks with per-token multipliers (at least one chunk, even for "").
std::vector<PromptChunk> tokenizePrompt(const ClipTokenizer& tokenizer, const std::string& prompt, int padId = ClipTokenizer::kEos,
    int commaBacktrack = 20);

} // namespace ls::text

#pragma once
// The CLIP byte-level BPE tokenizer (openai/CLIP simple_tokenizer, and Hugging Face CLIPTokenizer's variant of the
// cleaning), from bpe_simple_vocab_16e6.txt(.gz) or a Hugging Face vocab.json + merges.txt pair.
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace ls::text {

class ClipTokenizer {
public:
    enum class Cleaning {
        OpenAI, // ftfy-style fixes, html.unescape twice, whitespace collapse, lower
        HuggingFace, // ftfy-style fixes, whitespace collapse, lower (no extra html.unescape)
    };
    static constexpr int kBos = 49406;
    static constexpr int kEos = 49407;

    // Reads bpe_simple_vocab_16e6.txt or .txt.gz; throws an Io error naming the path.
    static ClipTokenizer fromFile(const std::filesystem::path& path);
    // Hugging Face tokenizer folder files.
    static ClipTokenizer fromHuggingFace(
        const std::filesystem::path& vocabJson, const std::filesystem::path& mergesTxt);
    // Looks for the vocabulary in the usual places (a model folder's tokenizer/, a configured path, the user data
    // folder); the error names every place that was tried.
    static ClipTokenizer find(const std::vector<std::filesystem::path>& candidates);

    // Token ids without BOS/EOS, untruncated.
    std::vector<int> encode(const std::string& text, Cleaning cleaning = Cleaning::HuggingFace) const;
    // [BOS] + ids[:length-2] + [EOS] + [pad]*..., pad = EOS (FrozenCLIPEmbedder).
    std::vector<int> padded(const std::vector<int>& ids, size_t length = 77, int pad = kEos) const;
    std::string decode(const std::vector<int>& ids) const;
    size_t vocabSize() const { return m_decoder.size(); }

private:
    void buildFromMerges(const std::vector<std::pair<std::string, std::string>>& merges);
    std::vector<std::string> bpe(const std::string& token) const;

    std::unordered_map<std::string, int> m_encoder;
    std::vector<std::string> m_decoder;
    std::map<std::pair<std::string, std::string>, int> m_ranks;
    std::vector<std::string> m_byteEncoder; // byte -> UTF-8 of its stand-in code point
    std::unordered_map<std::string, unsigned char> m_byteDecoder;
    mutable std::unordered_map<std::string, std::vector<std::string>> m_cache;
};

} // namespace ls::text

#pragma once
// Turns prompts into cross-attention context: CLIP (SD1), OpenCLIP (SD2) or both (SDXL: CLIP ViT-L and bigG side by
// side, with bigG's pooled vector) with A1111 emphasis weights, BREAK and 75-token chunks (embeddings concatenated);
// box tokens for the layout2img model.
#include "models/LatentModel.h"
#include "text/ClipTokenizer.h"
#include "text/PromptWeights.h"
#include "text/LayoutTokens.h"
#include "text/WorldTokenizer.h"

#include <memory>

namespace ls::pipeline {

class Conditioner {
public:
    // embeddings: textual-inversion words the prompts may use; their vectors are the text encoder's extra token rows
    // (nn::EmbeddingImpl::extra), set by the caller.
    Conditioner(models::LatentModel& model, std::shared_ptr<const text::ClipTokenizer> tokenizer,
        const std::vector<text::EmbeddingToken>* embeddings = nullptr);
    // [1, 77 * chunks, D]; emphasis applied, then the mean restored (A1111).
    at::Tensor encodePrompt(const std::string& prompt, int clipSkip = 1);
    // SDXL: bigG's pooled vector [1, P] of the first chunk of the prompt encodePrompt read last (as A1111).
    const at::Tensor& pooled() const { return m_pooled; }
    // Pads the shorter of two contexts with encodings of the empty prompt so they can be batched.
    void matchLengths(at::Tensor& a, at::Tensor& b, int clipSkip = 1);
    bool needsTokenizer() const;
    // The bundled model: caption plus boxes as one token sequence -> [1, 48, D].
    at::Tensor encodeWorld(const std::string& caption, const std::vector<text::WorldBox>& boxes = {});
    // The BERT token encoder (the bundled model, layout2img): one token sequence -> [1, T, D] on the CPU.
    at::Tensor encodeTokens(const std::vector<int64_t>& ids);

private:
    at::Tensor encodeIds(const at::Tensor& ids, int clipSkip); // [k, 77] -> [k, 77, D]
    at::Tensor encodeSdxl(const std::string& prompt);
    models::LatentModel& m_model;
    std::shared_ptr<const text::ClipTokenizer> m_tokenizer;
    const std::vector<text::EmbeddingToken>* m_embeddings = nullptr;
    at::Tensor m_pooled;
};

} // namespace ls::pipeline

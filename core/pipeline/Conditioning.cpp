#include "pipeline/Conditioning.h"

#include "models/sdxl/SdxlConditioning.h"
#include "text/PromptWeights.h"
#include "util/Error.h"

namespace ls::pipeline {

namespace {

// A1111's emphasis: each token's vectors times its weight, then the mean of the whole restored.
at::Tensor emphasise(const at::Tensor& z, const at::Tensor& multipliers)
{
    auto originalMean = z.mean();
    auto w = z * multipliers.to(z.scalar_type());
    return w * (originalMean / w.mean());
}

} // namespace

Conditioner::Conditioner(models::LatentModel& model, std::shared_ptr<const text::ClipTokenizer> tokenizer,
    const std::vector<text::EmbeddingToken>* embeddings)
    : m_model(model)
    , m_tokenizer(std::move(tokenizer))
    , m_embeddings(embeddings)
{
}

bool Conditioner::needsTokenizer() const { return m_model.clip || m_model.openclip; }

at::Tensor Conditioner::encodeIds(const at::Tensor& ids, int clipSkip)
{
    // On the model's device; the condition comes back to the CPU with the rest of the pipeline's tensors.
    if (m_model.clip)
        return m_model.clip->forward(ids.to(m_model.device()), clipSkip).cpu();
    if (m_model.openclip)
        return m_model.openclip->forward(ids.to(m_model.device()), clipSkip)
            .cpu(); // SD2 uses the penultimate layer: skip 1 by default
    fail(ErrorKind::Unsupported, "this model has no text encoder");
}

at::Tensor Conditioner::encodeWorld(const std::string& caption, const std::vector<text::WorldBox>& boxes)
{
    static const text::WorldTokenizer tok;
    return encodeTokens(tok.encode(caption, boxes));
}

at::Tensor Conditioner::encodeTokens(const std::vector<int64_t>& ids)
{
    return m_model.bert(at::tensor(ids, at::TensorOptions().dtype(at::kLong)).unsqueeze(0).to(m_model.device())).cpu();
}

at::Tensor Conditioner::encodePrompt(const std::string& prompt, int clipSkip)
{
    if (m_model.config.family == models::Family::Synthetic)
        return encodeWorld(prompt);
    if (!m_tokenizer)
        fail(ErrorKind::InvalidInput, "this model needs the CLIP vocabulary to read prompts");
    if (models::isSdxl(m_model.config.family))
        return encodeSdxl(prompt);
    const int pad = m_model.openclip ? 0 : text::ClipTokenizer::kEos; // OpenCLIP pads with '!' (id 0)
    const auto chunks = text::tokenizePrompt(*m_tokenizer, prompt, pad, 20, m_embeddings);
    std::vector<int64_t> ids;
    std::vector<float> mult;
    bool weighted = false;
    for (const auto& c : chunks) {
        ids.insert(ids.end(), c.tokens.begin(), c.tokens.end());
        mult.insert(mult.end(), c.multipliers.begin(), c.multipliers.end());
        for (float w : c.multipliers)
            weighted = weighted || w != 1.0f;
    }
    const int64_t k = static_cast<int64_t>(chunks.size());
    auto idT = at::tensor(ids, at::TensorOptions().dtype(at::kLong)).view({ k, 77 });
    const int skip = m_model.openclip ? clipSkip : clipSkip; // OpenCLIP: 1 = penultimate already
    auto z = encodeIds(idT, skip); // [k, 77, D]
    if (weighted)
        z = emphasise(z, at::tensor(mult, at::TensorOptions().dtype(at::kFloat)).view({ k, 77, 1 }));
    return z.reshape({ 1, k * 77, z.size(2) });
}

at::Tensor Conditioner::encodeSdxl(const std::string& prompt)
{
    // One tokenisation per tower: they differ only in the padding (CLIP ViT-L pads with the end token, bigG with 0).
    const auto chunksL = text::tokenizePrompt(*m_tokenizer, prompt, models::sdxl::kClipLPad, 20, m_embeddings);
    const auto chunksG = text::tokenizePrompt(*m_tokenizer, prompt, models::sdxl::kClipGPad, 20, m_embeddings);
    std::vector<int64_t> idsL, idsG;
    std::vector<float> mult;
    bool weighted = false;
    for (size_t i = 0; i < chunksL.size(); ++i) {
        idsL.insert(idsL.end(), chunksL[i].tokens.begin(), chunksL[i].tokens.end());
        idsG.insert(idsG.end(), chunksG[i].tokens.begin(), chunksG[i].tokens.end());
        mult.insert(mult.end(), chunksL[i].multipliers.begin(), chunksL[i].multipliers.end());
        for (float w : chunksL[i].multipliers)
            weighted = weighted || w != 1.0f;
    }
    const int64_t k = static_cast<int64_t>(chunksL.size());
    const auto longs = at::TensorOptions().dtype(at::kLong);
    const auto dev = m_model.device();
    auto t = models::sdxl::encodeText(
        m_model, at::tensor(idsL, longs).view({ k, 77 }).to(dev), at::tensor(idsG, longs).view({ k, 77 }).to(dev));
    auto z = t.context.cpu();
    if (weighted) {
        // Per tower, as A1111 weights each embedder's output on its own; the pooled vector stays unweighted.
        auto mt = at::tensor(mult, at::TensorOptions().dtype(at::kFloat)).view({ k, 77, 1 });
        const int64_t wl = m_model.config.cond == models::CondStage::SdxlBase ? m_model.config.clip.hiddenSize : 0;
        std::vector<at::Tensor> parts;
        if (wl > 0)
            parts.push_back(emphasise(z.narrow(2, 0, wl), mt));
        parts.push_back(emphasise(z.narrow(2, wl, z.size(2) - wl), mt));
        z = at::cat(parts, 2);
    }
    m_pooled = t.pooled.narrow(0, 0, 1).cpu();
    return z.reshape({ 1, k * 77, z.size(2) });
}

void Conditioner::matchLengths(at::Tensor& a, at::Tensor& b, int clipSkip)
{
    if (a.size(1) == b.size(1))
        return;
    auto empty = encodePrompt("", clipSkip);
    while (a.size(1) < b.size(1))
        a = at::cat({ a, empty }, 1);
    while (b.size(1) < a.size(1))
        b = at::cat({ b, empty }, 1);
}

} // namespace ls::pipeline

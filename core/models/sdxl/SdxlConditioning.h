#pragma once
// SDXL's conditioning (sgm GeneralConditioner, Stability-AI/generative-models): the text towers' cross-attention
// context (CLIP ViT-L hidden state of layer L-1 and OpenCLIP bigG's penultimate state, concatenated; the refiner has
// bigG alone) and the vector condition y: bigG's pooled embedding followed by sinusoidal embeddings of the original
// size, the crop's top-left corner and the target size (the refiner: an aesthetic score instead of the target size).
#include "models/LatentModel.h"

namespace ls::models::sdxl {

// Token ids of one 77-token chunk for each tower: CLIP ViT-L pads with the end token (49407), bigG with 0.
inline constexpr int kClipLPad = 49407;
inline constexpr int kClipGPad = 0;
// ConcatTimestepEmbedderND(256): each number n -> [cos(n f_k), sin(n f_k)], f_k = 10000^(-k/128), concatenated in
// input order. numbers [B, k] -> [B, 256 k].
inline constexpr int64_t kSizeEmbeddingWidth = 256;
at::Tensor sizeEmbedding(const at::Tensor& numbers);

struct TextEmbedding {
    at::Tensor context; // [B, 77, wL + wG] (base) or [B, 77, wG] (refiner)
    at::Tensor pooled; // [B, P]
};
// clipLIds: [B, 77] (ignored by the refiner), clipGIds [B, 77]; on the model's device, results there too.
TextEmbedding encodeText(LatentModel& m, const at::Tensor& clipLIds, const at::Tensor& clipGIds);

// The size/crop/aesthetic part of the vector condition, in pixels (sgm orders pairs height first).
struct MicroConditions {
    double originalHeight = 1024, originalWidth = 1024;
    double cropTop = 0, cropLeft = 0;
    double targetHeight = 1024, targetWidth = 1024;
    double aestheticScore = 6.0; // the refiner only
};
// The micro-conditions of a picture of w x h generated whole: original = target = its size, no crop.
MicroConditions forSize(int width, int height, double aestheticScore = 6.0);

// y = cat(pooled, emb(original), emb(crop), emb(target or aesthetic score)) [B, adm_in_channels].
at::Tensor vectorCondition(Family family, const at::Tensor& pooled, const MicroConditions& mc);
// The same from per-image numbers: original [B, 2] (h, w), crop [B, 2] (top, left), last: target [B, 2] (h, w) or
// the refiner's aesthetic score [B, 1].
at::Tensor vectorCondition(
    const at::Tensor& pooled, const at::Tensor& original, const at::Tensor& crop, const at::Tensor& last);

} // namespace ls::models::sdxl

#include "models/sdxl/SdxlConditioning.h"

#include "util/Error.h"

namespace ls::models::sdxl {

at::Tensor sizeEmbedding(const at::Tensor& numbers)
{
    auto n = numbers.dim() == 1 ? numbers.unsqueeze(1) : numbers; // [B, k]
    const int64_t b = n.size(0), k = n.size(1);
    auto emb = timestepEmbedding(n.reshape({ b * k }).to(at::kFloat), kSizeEmbeddingWidth); // [(B k), 256]
    return emb.reshape({ b, k * kSizeEmbeddingWidth });
}

TextEmbedding encodeText(LatentModel& m, const at::Tensor& clipLIds, const at::Tensor& clipGIds)
{
    if (!m.openclip)
        fail(ErrorKind::Unsupported, "this model has no SDXL text encoders");
    auto g = m.openclip->forwardPooled(clipGIds);
    TextEmbedding out;
    out.pooled = g.pooled;
    if (m.config.cond == CondStage::SdxlBase) {
        auto l = m.clip->hidden(clipLIds, m.config.clip.numLayers - 1); // layer "hidden", layer_idx 11 of 12
        out.context = at::cat({ l, g.penultimate.to(l.scalar_type()) }, 2);
    } else {
        out.context = g.penultimate;
    }
    return out;
}

MicroConditions forSize(int width, int height, double aestheticScore)
{
    MicroConditions mc;
    mc.originalHeight = mc.targetHeight = height;
    mc.originalWidth = mc.targetWidth = width;
    mc.aestheticScore = aestheticScore;
    return mc;
}

at::Tensor vectorCondition(
    const at::Tensor& pooled, const at::Tensor& original, const at::Tensor& crop, const at::Tensor& last)
{
    auto dev = pooled.device();
    return at::cat({ pooled.to(at::kFloat), sizeEmbedding(original).to(dev), sizeEmbedding(crop).to(dev),
                       sizeEmbedding(last).to(dev) },
        1);
}

at::Tensor vectorCondition(Family family, const at::Tensor& pooled, const MicroConditions& mc)
{
    const int64_t b = pooled.size(0);
    const auto f64 = at::TensorOptions().dtype(at::kDouble);
    auto pair = [&](double a, double c) { return at::tensor({ a, c }, f64).view({ 1, 2 }).expand({ b, 2 }); };
    auto last = family == Family::SDXLRefiner ? at::full({ b, 1 }, mc.aestheticScore, f64)
                                              : pair(mc.targetHeight, mc.targetWidth);
    return vectorCondition(pooled, pair(mc.originalHeight, mc.originalWidth), pair(mc.cropTop, mc.cropLeft), last);
}

} // namespace ls::models::sdxl

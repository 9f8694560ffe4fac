#pragma once
// Cheap previews: a linear latent -> RGB projection (a per-model 4x3 table, as stable-diffusion.cpp and A1111 do),
// fitted once by least squares against the real decoder for models without a published table.
#include "models/LatentModel.h"
#include "util/Image.h"

namespace ls::pipeline {

class LatentPreviewer {
public:
    explicit LatentPreviewer(models::LatentModel& model);
    Image project(const at::Tensor& latent, int index = 0) const; // latent [B, C, h, w] (scaled) -> RGB at latent size
private:
    at::Tensor m_weights; // [C, 3]
    at::Tensor m_bias; // [3]
};

} // namespace ls::pipeline

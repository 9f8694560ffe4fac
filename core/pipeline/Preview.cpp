#include "pipeline/Preview.h"

#include "pipeline/ImageOps.h"

#include <torch/csrc/autograd/grad_mode.h>

namespace ls::pipeline {

LatentPreviewer::LatentPreviewer(models::LatentModel& model)
{
    torch::NoGradGuard noGrad;
    const auto& fs = model.config.firstStage;
    const int64_t c = fs.embedDim;
    const bool sdLike = !fs.vq && c == 4 && std::abs(model.config.scaleFactor - 0.18215) < 1e-6 && fs.ch == 128;
    if (sdLike) {
        // Published SD1/SD2 VAE factors (rows = latent channels), output in [-1, 1].
        m_weights = at::tensor({ 0.3512f, 0.2297f, 0.3227f, 0.3250f, 0.4974f, 0.2350f, -0.2829f, 0.1762f, 0.2721f,
                                   -0.2120f, -0.2616f, -0.7177f })
                        .view({ 4, 3 });
        m_bias = at::zeros({ 3 });
        return;
    }
    const bool sdxlLike = !fs.vq && c == 4 && std::abs(model.config.scaleFactor - 0.13025) < 1e-6 && fs.ch == 128;
    if (sdxlLike) {
        // The SDXL VAE's factors (as ComfyUI's latent_formats.SDXL), output in [-1, 1].
        m_weights = at::tensor({ 0.3651f, 0.4232f, 0.4341f, -0.2533f, -0.0042f, 0.1068f, 0.1076f, 0.1111f, -0.0362f,
                                   -0.3165f, -0.2492f, -0.2188f })
                        .view({ 4, 3 });
        m_bias = at::tensor({ 0.1084f, -0.0175f, -0.0011f });
        return;
    }
    // Fit: decode random latents, average-pool the image to latent size, solve least squares [z, 1] W = rgb.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
    auto z = at::randn({ 2, c, 16, 16 }, gen, at::TensorOptions().dtype(at::kFloat));
    auto img = model.firstStage->decode(z.to(model.device(), model.options.dtype().toScalarType()), true)
                   .to(at::kCPU, at::kFloat);
    const int64_t f = img.size(2) / 16;
    auto small = at::avg_pool2d(img, { f, f }); // [2, 3, 16, 16]
    auto zs = (z * model.config.scaleFactor).permute({ 0, 2, 3, 1 }).reshape({ -1, c });
    auto a = at::cat({ zs, at::ones({ zs.size(0), 1 }) }, 1); // [N, C+1]
    auto b = small.permute({ 0, 2, 3, 1 }).reshape({ -1, 3 }); // [N, 3]
    auto sol = at::matmul(at::pinverse(a), b); // [C+1, 3]
    m_weights = sol.narrow(0, 0, c).contiguous();
    m_bias = sol[c].contiguous();
}

Image LatentPreviewer::project(const at::Tensor& latent, int index) const
{
    auto z = latent[index].detach().to(at::kFloat).cpu().permute({ 1, 2, 0 }); // [h, w, C]
    auto rgb = at::matmul(z, m_weights) + m_bias; // [h, w, 3]
    return tensorToImage(rgb.permute({ 2, 0, 1 }).unsqueeze(0));
}

} // namespace ls::pipeline

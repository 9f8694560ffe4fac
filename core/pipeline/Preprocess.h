#pragma once
// Control-image preprocessors that need no model, as the ControlNet scripts compute them with OpenCV (Debian's
// imgproc; without it core/ still builds and these throw Unsupported).
#include <ATen/ATen.h>

namespace ls::pipeline {

// True when this build has OpenCV's imgproc.
bool hasCanny();

// cv2.Canny(image, low, high) on an RGB uint8 image [H, W, 3] (per pixel the channel with the largest |dx| + |dy|,
// 3x3 Sobel, L1 norm): edges [H, W] uint8 (0 or 255).
at::Tensor canny(const at::Tensor& rgb, double low, double high);

// The inpaint ControlNet's inputs (ControlNet-v1-1 gradio_inpaint.py): mask [H, W] uint8 (255 = repaint) blurred with
// a Gaussian of sigma `blur` (float32); the hint = image / 255 with pixels whose blurred mask is over 0.5 set to
// exactly -1 ([1, 3, H, W]); the latent mask (INTER_AREA to H/8 x W/8, 1 = keep).
struct InpaintHint {
    at::Tensor maskPixel; // [H, W] float32 in [0, 1]
    at::Tensor maskLatent; // [H/8, W/8] float32, the blurred mask averaged
    at::Tensor hint; // [1, 3, H, W]
    at::Tensor keep; // [1, 1, H/8, W/8] = 1 - maskLatent
};
InpaintHint inpaintHint(const at::Tensor& rgb, const at::Tensor& mask, double blur);

} // namespace ls::pipeline

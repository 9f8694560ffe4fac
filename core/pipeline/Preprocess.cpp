#include "pipeline/Preprocess.h"

#include "util/Error.h"

#ifdef LS_WITH_OPENCV
#include <opencv2/imgproc.hpp>
#endif

namespace ls::pipeline {

#ifdef LS_WITH_OPENCV

namespace {

cv::Mat wrap(const at::Tensor& t, int type)
{
    return cv::Mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), type, t.data_ptr());
}

at::Tensor checkedRgb(const at::Tensor& rgb)
{
    if (rgb.dim() != 3 || rgb.size(2) != 3 || rgb.scalar_type() != at::kByte)
        fail(ErrorKind::InvalidInput, "preprocessor: expected an RGB uint8 image [H, W, 3]");
    return rgb.contiguous();
}

} // namespace

bool hasCanny() { return true; }

at::Tensor canny(const at::Tensor& rgb0, double low, double high)
{
    auto rgb = checkedRgb(rgb0);
    auto out = at::zeros({ rgb.size(0), rgb.size(1) }, at::TensorOptions().dtype(at::kByte));
    cv::Mat dst = wrap(out, CV_8UC1);
    cv::Canny(wrap(rgb, CV_8UC3), dst, low, high);
    return out;
}

InpaintHint inpaintHint(const at::Tensor& rgb0, const at::Tensor& mask0, double blur)
{
    auto rgb = checkedRgb(rgb0);
    const int h = static_cast<int>(rgb.size(0)), w = static_cast<int>(rgb.size(1));
    if (mask0.dim() != 2 || mask0.size(0) != h || mask0.size(1) != w)
        fail(ErrorKind::InvalidInput, "inpaint hint: the mask must be [H, W] like the image");
    InpaintHint r;
    r.maskPixel = (mask0.to(at::kFloat) / 255.0f).contiguous();
    cv::Mat mp = wrap(r.maskPixel, CV_32FC1);
    cv::GaussianBlur(mp, mp, cv::Size(0, 0), blur);
    r.maskLatent = at::zeros({ h / 8, w / 8 }, at::TensorOptions().dtype(at::kFloat));
    cv::Mat ml = wrap(r.maskLatent, CV_32FC1);
    cv::resize(mp, ml, cv::Size(w / 8, h / 8), 0, 0, cv::INTER_AREA);
    auto img = rgb.to(at::kFloat).permute({ 2, 0, 1 }).unsqueeze(0) / 255.0f; // [1, 3, H, W]
    auto masked = (r.maskPixel > 0.5f).view({ 1, 1, h, w }).expand_as(img);
    r.hint = at::where(masked, at::full_like(img, -1.0f), img);
    r.keep = (1.0f - r.maskLatent).view({ 1, 1, h / 8, w / 8 });
    return r;
}

#else

bool hasCanny() { return false; }

at::Tensor canny(const at::Tensor&, double, double)
{
    fail(ErrorKind::Unsupported, "canny: this build has no OpenCV (imgproc)");
}

InpaintHint inpaintHint(const at::Tensor&, const at::Tensor&, double)
{
    fail(ErrorKind::Unsupported, "inpaint hint: this build has no OpenCV (imgproc)");
}

#endif

} // namespace ls::pipeline

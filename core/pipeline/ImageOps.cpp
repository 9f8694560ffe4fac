#include "pipeline/ImageOps.h"

#include "util/Error.h"

#include <cmath>

namespace ls::pipeline {

Image toRgb(const Image& img)
{
    if (img.channels == 3)
        return img;
    Image out(img.width, img.height, 3);
    for (size_t i = 0; i < static_cast<size_t>(img.width) * img.height; ++i) {
        const uint8_t* s = img.pixels.data() + i * img.channels;
        uint8_t* d = out.pixels.data() + i * 3;
        if (img.channels == 1)
            d[0] = d[1] = d[2] = s[0];
        else
            d[0] = s[0], d[1] = s[1], d[2] = s[2];
    }
    return out;
}

at::Tensor imageToTensor(const Image& img0)
{
    const Image img = toRgb(img0);
    auto t = at::from_blob(const_cast<uint8_t*>(img.pixels.data()), { img.height, img.width, 3 }, at::kByte)
                 .to(at::kFloat);
    return (t.permute({ 2, 0, 1 }).unsqueeze(0) / 127.5 - 1.0).contiguous();
}

Image tensorToImage(const at::Tensor& t)
{
    auto x = ((t.detach().to(at::kFloat).cpu()[0] + 1.0) * 127.5)
                 .clamp(0, 255)
                 .round()
                 .to(at::kByte)
                 .permute({ 1, 2, 0 })
                 .contiguous();
    Image img(static_cast<int>(x.size(1)), static_cast<int>(x.size(0)), 3);
    std::memcpy(img.pixels.data(), x.data_ptr<uint8_t>(), img.pixels.size());
    return img;
}

at::Tensor maskToTensor(const Image& m)
{
    auto t = at::from_blob(const_cast<uint8_t*>(m.pixels.data()), { m.height, m.width, m.channels }, at::kByte);
    return (t.select(2, 0).to(at::kFloat) / 255.0).unsqueeze(0).unsqueeze(0).contiguous();
}

Image tensorToMask(const at::Tensor& m)
{
    auto x = (m.detach().to(at::kFloat).cpu()[0][0] * 255.0).clamp(0, 255).round().to(at::kByte).contiguous();
    Image img(static_cast<int>(x.size(1)), static_cast<int>(x.size(0)), 1);
    std::memcpy(img.pixels.data(), x.data_ptr<uint8_t>(), img.pixels.size());
    return img;
}

at::Tensor growMask(const at::Tensor& mask, int px)
{
    if (px == 0)
        return mask;
    const int64_t k = 2 * std::abs(px) + 1;
    if (px > 0)
        return at::max_pool2d(mask, { k, k }, { 1, 1 }, { std::abs(px), std::abs(px) });
    return 1 - at::max_pool2d(1 - mask, { k, k }, { 1, 1 }, { std::abs(px), std::abs(px) });
}

at::Tensor blurMask(const at::Tensor& mask, int radius)
{
    if (radius <= 0)
        return mask;
    const double sigma = std::max(0.5, radius / 2.0);
    const int64_t r = static_cast<int64_t>(std::ceil(sigma * 3));
    auto x = at::arange(-r, r + 1, at::TensorOptions().dtype(at::kFloat));
    auto g = at::exp(-(x * x) / (2 * sigma * sigma));
    g = g / g.sum();
    auto padded = at::replication_pad2d(mask, { r, r, r, r });
    auto h = at::conv2d(padded, g.view({ 1, 1, 1, -1 }));
    return at::conv2d(h, g.view({ 1, 1, -1, 1 }));
}

namespace {

// Mean over [i - r, i + r] along `dim`, the edge values extended.
at::Tensor boxBlur(const at::Tensor& t, int64_t r, int64_t dim)
{
    const int64_t n = t.size(dim);
    const auto idx = at::arange(-r - 1, n + r, at::TensorOptions().dtype(at::kLong)).clamp(0, n - 1);
    auto c = at::cumsum(t.index_select(dim, idx).to(at::kDouble), dim);
    return ((c.narrow(dim, 2 * r + 1, n) - c.narrow(dim, 0, n)) / static_cast<double>(2 * r + 1)).to(t.scalar_type());
}

at::Tensor gaussianApprox(at::Tensor t, double sigma)
{
    // three passes of a box of width w (odd): variance 3 (w^2 - 1) / 12 = sigma^2
    const int64_t r = std::max<int64_t>(1, std::lround((std::sqrt(4.0 * sigma * sigma + 1.0) - 1.0) / 2.0));
    for (int pass = 0; pass < 3; ++pass)
        t = boxBlur(boxBlur(t, r, 3), r, 2);
    return t;
}

} // namespace

at::Tensor seamWeights(int h, int w, int overlap, bool top, bool bottom, bool left, bool right)
{
    auto ramp = [&](int len, bool lowEdge, bool highEdge) {
        auto v = at::ones({ len });
        const int o = std::min(overlap, len);
        if (o > 0) {
            auto r1 = (at::arange(overlap, at::TensorOptions().dtype(at::kFloat)) + 1) / (overlap + 1);
            if (lowEdge)
                v.narrow(0, 0, o).copy_(r1.narrow(0, 0, o));
            if (highEdge)
                v.narrow(0, len - o, o).copy_(r1.flip(0).narrow(0, 0, o));
        }
        return v;
    };
    return (ramp(h, top, bottom).view({ -1, 1 }) * ramp(w, left, right).view({ 1, -1 })).view({ 1, 1, h, w });
}

at::Tensor fillMasked(const at::Tensor& image, const at::Tensor& mask01)
{
    const auto keep = (mask01 < 0.5).to(at::kFloat);
    const auto premultiplied = at::cat({ (image + 1) / 2 * keep, keep }, 1);
    auto rgb = at::zeros_like(image);
    auto alpha = at::zeros_like(keep);
    for (const auto& [radius, repeats] : { std::pair { 256, 1 }, { 64, 1 }, { 16, 2 }, { 4, 4 }, { 2, 2 }, { 0, 1 } }) {
        const auto b = radius > 0 ? gaussianApprox(premultiplied, radius) : premultiplied;
        const auto a = b.narrow(1, 3, 1).clamp(0, 1);
        const auto colour = at::where(a > 1e-6, b.narrow(1, 0, 3) / a.clamp_min(1e-6), at::zeros_like(image));
        for (int k = 0; k < repeats; ++k) { // colour with alpha a over what is there
            const auto outA = a + alpha * (1 - a);
            rgb = at::where(outA > 1e-6, (colour * a + rgb * alpha * (1 - a)) / outA.clamp_min(1e-6), rgb);
            alpha = outA;
        }
    }
    return rgb.clamp(0, 1) * 2 - 1;
}

namespace {
double lanczos3(double x)
{
    x = std::abs(x);
    if (x < 1e-12)
        return 1.0;
    if (x >= 3.0)
        return 0.0;
    const double px = M_PI * x;
    return 3.0 * std::sin(px) * std::sin(px / 3.0) / (px * px);
}

// Weights matrix [out, in] for one axis.
at::Tensor lanczosMatrix(int in, int out)
{
    const double scale = static_cast<double>(in) / out;
    const double support = 3.0 * std::max(1.0, scale);
    auto w = at::zeros({ out, in }, at::TensorOptions().dtype(at::kFloat));
    auto acc = w.accessor<float, 2>();
    for (int o = 0; o < out; ++o) {
        const double center = (o + 0.5) * scale;
        const int lo = std::max(0, static_cast<int>(std::floor(center - support)));
        const int hi = std::min(in - 1, static_cast<int>(std::ceil(center + support)));
        double sum = 0;
        for (int i = lo; i <= hi; ++i) {
            const double v = lanczos3((i + 0.5 - center) / std::max(1.0, scale));
            acc[o][i] = static_cast<float>(v);
            sum += v;
        }
        for (int i = lo; i <= hi; ++i)
            acc[o][i] = static_cast<float>(acc[o][i] / sum);
    }
    return w;
}
} // namespace

Image resizeLanczos(const Image& img, int width, int height)
{
    if (width <= 0 || height <= 0)
        fail(ErrorKind::InvalidInput, "resize: target size must be positive");
    auto t = at::from_blob(const_cast<uint8_t*>(img.pixels.data()), { img.height, img.width, img.channels }, at::kByte)
                 .to(at::kFloat);
    auto wy = lanczosMatrix(img.height, height);
    auto wx = lanczosMatrix(img.width, width);
    auto r = at::einsum("oh,hwc->owc", { wy, t });
    r = at::einsum("pw,owc->opc", { wx, r });
    r = r.round().clamp(0, 255).to(at::kByte).contiguous();
    Image out(width, height, img.channels);
    std::memcpy(out.pixels.data(), r.data_ptr<uint8_t>(), out.pixels.size());
    return out;
}

Image cropImage(const Image& img, int x, int y, int w, int h)
{
    if (x < 0 || y < 0 || w <= 0 || h <= 0 || x + w > img.width || y + h > img.height)
        fail(ErrorKind::InvalidInput,
            "crop " + std::to_string(w) + "x" + std::to_string(h) + " at " + std::to_string(x) + "," + std::to_string(y)
                + " does not fit a " + std::to_string(img.width) + "x" + std::to_string(img.height) + " image");
    Image out(w, h, img.channels);
    const size_t row = static_cast<size_t>(w) * img.channels;
    for (int r = 0; r < h; ++r)
        std::copy_n(img.at(x, y + r), row, out.at(0, r));
    return out;
}

void pasteImage(Image& dst, const Image& src, int x, int y)
{
    if (x < 0 || y < 0 || x + src.width > dst.width || y + src.height > dst.height || src.channels != dst.channels)
        fail(ErrorKind::InvalidInput,
            "paste " + std::to_string(src.width) + "x" + std::to_string(src.height) + "x" + std::to_string(src.channels)
                + " at " + std::to_string(x) + "," + std::to_string(y) + " does not fit a " + std::to_string(dst.width)
                + "x" + std::to_string(dst.height) + "x" + std::to_string(dst.channels) + " image");
    const size_t row = static_cast<size_t>(src.width) * src.channels;
    for (int r = 0; r < src.height; ++r)
        std::copy_n(src.at(0, r), row, dst.at(x, y + r));
}

Image firstChannel(const Image& img)
{
    if (img.channels == 1)
        return img;
    Image out(img.width, img.height, 1);
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x)
            *out.at(x, y) = img.at(x, y)[0];
    return out;
}

Image composite(const Image& init0, const Image& gen0, const at::Tensor& mask01)
{
    const Image init = toRgb(init0), gen = toRgb(gen0);
    if (init.width != gen.width || init.height != gen.height)
        fail(ErrorKind::Internal, "composite: image sizes differ");
    auto m = mask01.detach().to(at::kFloat).cpu().contiguous();
    const float* mp = m.data_ptr<float>();
    Image out = init;
    for (size_t i = 0; i < static_cast<size_t>(init.width) * init.height; ++i) {
        const float a = std::clamp(mp[i], 0.0f, 1.0f);
        if (a <= 0.0f)
            continue; // bit-identical outside the (feathered) mask
        for (int c = 0; c < 3; ++c) {
            const float v = init.pixels[i * 3 + c] * (1 - a) + gen.pixels[i * 3 + c] * a;
            out.pixels[i * 3 + c] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.0f, 255.0f)));
        }
    }
    return out;
}

std::pair<Image, Image> outpaintCanvas(const Image& img0, int left, int top, int right, int bottom, int overlap)
{
    const Image img = toRgb(img0);
    const int w = img.width + left + right, h = img.height + top + bottom;
    auto t = imageToTensor(img);
    auto filled = at::replication_pad2d(t, { left, right, top, bottom });
    // Blur only the new area so the stretched streaks become soft colour fields.
    auto newArea = at::ones({ 1, 1, h, w });
    newArea.narrow(2, top, img.height).narrow(3, left, img.width).zero_();
    const int radius = std::max(4, std::max({ left, top, right, bottom }) / 4);
    auto blurred = at::cat({ blurMask(filled.narrow(1, 0, 1), radius), blurMask(filled.narrow(1, 1, 1), radius),
                               blurMask(filled.narrow(1, 2, 1), radius) },
        1);
    auto canvas = filled * (1 - newArea) + blurred * newArea;
    Image out = tensorToImage(canvas);
    for (int y = 0; y < img.height; ++y) // the original pixels, exactly
        std::memcpy(out.at(left, top + y), img.at(0, y), static_cast<size_t>(img.width) * 3);
    auto mask = growMask(newArea, overlap);
    return { out, tensorToMask(mask) };
}

std::array<int, 4> maskBounds(const at::Tensor& mask01)
{
    auto m = (mask01[0][0] >= 0.5);
    auto rows = m.any(1).nonzero();
    auto cols = m.any(0).nonzero();
    if (rows.numel() == 0)
        return { 0, 0, 0, 0 };
    return { static_cast<int>(cols.min().item<int64_t>()), static_cast<int>(rows.min().item<int64_t>()),
        static_cast<int>(cols.max().item<int64_t>()) + 1, static_cast<int>(rows.max().item<int64_t>()) + 1 };
}

} // namespace ls::pipeline

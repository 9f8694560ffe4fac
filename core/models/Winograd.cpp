#include "models/Winograd.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace ls::nn {

namespace {

bool enabledByEnvironment()
{
    static const bool on = [] {
        const char* v = std::getenv("LS_WINOGRAD");
        return !(v && std::string(v) == "0");
    }();
    return on;
}

// U = G g G^T for every filter, laid out [16, K, C] (position of the 4x4 transformed tile, output, input channel).
at::Tensor transformFilters(const at::Tensor& w)
{
    const int64_t k = w.size(0), c = w.size(1);
    auto wc = w.contiguous();
    auto u = at::empty({ 16, k, c }, w.options());
    const float* wp = wc.data_ptr<float>();
    float* up = u.data_ptr<float>();
    const int64_t plane = k * c;
    at::parallel_for(0, plane, 256, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
            const float* g = wp + i * 9;
            float t[4][3]; // G g
            for (int j = 0; j < 3; ++j) {
                t[0][j] = g[j];
                t[1][j] = 0.5f * (g[j] + g[3 + j] + g[6 + j]);
                t[2][j] = 0.5f * (g[j] - g[3 + j] + g[6 + j]);
                t[3][j] = g[6 + j];
            }
            for (int a = 0; a < 4; ++a) { // (G g) G^T
                up[(a * 4 + 0) * plane + i] = t[a][0];
                up[(a * 4 + 1) * plane + i] = 0.5f * (t[a][0] + t[a][1] + t[a][2]);
                up[(a * 4 + 2) * plane + i] = 0.5f * (t[a][0] - t[a][1] + t[a][2]);
                up[(a * 4 + 3) * plane + i] = t[a][2];
            }
        }
    });
    return u;
}

} // namespace

bool winogradApplies(const at::Tensor& x, const at::Tensor& weight, int64_t stride, int64_t padding)
{
    if (stride != 1 || padding != 1 || weight.dim() != 4 || weight.size(2) != 3 || weight.size(3) != 3 || x.dim() != 4)
        return false;
    if (!x.device().is_cpu() || x.scalar_type() != at::kFloat || weight.scalar_type() != at::kFloat || x.size(1) != weight.size(1))
        return false;
    if (at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad()))
        return false;
    // Small layers (the first and last convolutions, tiny latents) stay with the direct method.
    return weight.size(0) >= 32 && weight.size(1) >= 32 && x.size(2) * x.size(3) >= 256 && enabledByEnvironment();
}

at::Tensor winogradConv3x3(const at::Tensor& x0, const at::Tensor& weight, const at::Tensor& bias)
{
    auto x = x0.contiguous();
    const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), k = weight.size(0);
    const int64_t th = (h + 1) / 2, tw = (w + 1) / 2;
    const auto u = transformFilters(weight);
    auto y = at::empty({ n, k, h, w }, x.options());
    const float* xp = x.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    auto bc = bias.defined() ? bias.contiguous() : at::Tensor();
    const float* bp = bc.defined() ? bc.data_ptr<float>() : nullptr;
    // Bands of tile rows keep the transformed input and products near 32 MB each whatever the image size.
    const int64_t tilesPerBand = std::max<int64_t>(tw, (int64_t(32) << 20) / (64 * std::max(c, k)));
    const int64_t bandRows = std::max<int64_t>(1, tilesPerBand / tw);
    const int64_t pw = 2 * tw + 2; // padded row width
    for (int64_t img = 0; img < n; ++img) {
        for (int64_t ty0 = 0; ty0 < th; ty0 += bandRows) {
            const int64_t rows = std::min(bandRows, th - ty0), tiles = rows * tw;
            auto v = at::empty({ 16, c, tiles }, x.options());
            float* vp = v.data_ptr<float>();
            at::parallel_for(0, c, 1, [&](int64_t c0, int64_t c1) {
                // The band's input rows with a zero border: tile (r, tx) reads rows 2r..2r+3, columns 2tx..2tx+3.
                std::vector<float> pad(static_cast<size_t>((2 * rows + 2) * pw));
                for (int64_t ch = c0; ch < c1; ++ch) {
                    const float* plane = xp + (img * c + ch) * h * w;
                    std::fill(pad.begin(), pad.end(), 0.0f);
                    for (int64_t r = 0; r < 2 * rows + 2; ++r) {
                        const int64_t yy = 2 * ty0 - 1 + r;
                        if (yy >= 0 && yy < h)
                            std::memcpy(pad.data() + r * pw + 1, plane + yy * w, static_cast<size_t>(w) * sizeof(float));
                    }
                    float* out = vp + ch * tiles;
                    const int64_t stride = c * tiles; // between transformed positions
                    for (int64_t r = 0; r < rows; ++r) {
                        const float* d0 = pad.data() + 2 * r * pw;
                        const float *d1 = d0 + pw, *d2 = d1 + pw, *d3 = d2 + pw;
                        for (int64_t tx = 0; tx < tw; ++tx) {
                            const int64_t o = 2 * tx;
                            float t[4][4]; // B^T d
                            for (int j = 0; j < 4; ++j) {
                                t[0][j] = d0[o + j] - d2[o + j];
                                t[1][j] = d1[o + j] + d2[o + j];
                                t[2][j] = d2[o + j] - d1[o + j];
                                t[3][j] = d1[o + j] - d3[o + j];
                            }
                            float* dst = out + r * tw + tx;
                            for (int i = 0; i < 4; ++i) { // (B^T d) B
                                dst[(i * 4 + 0) * stride] = t[i][0] - t[i][2];
                                dst[(i * 4 + 1) * stride] = t[i][1] + t[i][2];
                                dst[(i * 4 + 2) * stride] = t[i][2] - t[i][1];
                                dst[(i * 4 + 3) * stride] = t[i][1] - t[i][3];
                            }
                        }
                    }
                }
            });
            const auto m = at::bmm(u, v); // [16, K, tiles]
            const float* mp = m.data_ptr<float>();
            at::parallel_for(0, k, 1, [&](int64_t k0, int64_t k1) {
                const int64_t stride = k * tiles;
                for (int64_t kk = k0; kk < k1; ++kk) {
                    float* out = yp + (img * k + kk) * h * w;
                    const float b = bp ? bp[kk] : 0.0f;
                    const float* src = mp + kk * tiles;
                    for (int64_t r = 0; r < rows; ++r) {
                        const int64_t yy = 2 * (ty0 + r);
                        for (int64_t tx = 0; tx < tw; ++tx) {
                            const float* s = src + r * tw + tx;
                            float a[2][4]; // A^T m
                            for (int j = 0; j < 4; ++j) {
                                const float m0 = s[j * stride], m1 = s[(4 + j) * stride], m2 = s[(8 + j) * stride], m3 = s[(12 + j) * stride];
                                a[0][j] = m0 + m1 + m2;
                                a[1][j] = m1 - m2 - m3;
                            }
                            const int64_t xx = 2 * tx;
                            for (int i = 0; i < 2 && yy + i < h; ++i) { // (A^T m) A
                                float* row = out + (yy + i) * w;
                                row[xx] = a[i][0] + a[i][1] + a[i][2] + b;
                                if (xx + 1 < w)
                                    row[xx + 1] = a[i][1] - a[i][2] - a[i][3] + b;
                            }
                        }
                    }
                }
            });
        }
    }
    return y;
}

} // namespace ls::nn

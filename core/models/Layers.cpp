#include "models/Layers.h"

#include "models/Accel.h"

namespace ls::nn {

LinearImpl::LinearImpl(int64_t in, int64_t out, bool hasBias, const Options& o)
{
    weight = register_parameter("weight", at::empty({ out, in }, o), false);
    if (hasBias)
        bias = register_parameter("bias", at::empty({ out }, o), false);
}

at::ScalarType computeType(const at::TensorOptions& storage)
{
    const auto t = storage.dtype().toScalarType();
    return storage.device().is_cpu() && (t == at::kHalf || t == at::kBFloat16) ? at::kFloat : t;
}

at::ScalarType computeType(const at::Tensor& w) { return computeType(w.options()); }

at::Tensor LinearImpl::forward(const at::Tensor& x) { return at::linear(x, like(weight, x), like(bias, x)); }

Conv2dImpl::Conv2dImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride_, int64_t padding_, const Options& o)
    : stride(stride_)
    , padding(padding_)
{
    weight = register_parameter("weight", at::empty({ out, in, kernel, kernel }, o), false);
    bias = register_parameter("bias", at::empty({ out }, o), false);
}

at::Tensor Conv2dImpl::forward(const at::Tensor& x)
{
    return at::conv2d(x, like(weight, x), like(bias, x), { stride, stride }, { padding, padding });
}

at::Tensor Conv2dImpl::forwardUpsampled2x(const at::Tensor& x)
{
    const int64_t h = x.size(2), w = x.size(3);
    auto wt = like(weight, x), b = like(bias, x);
    const bool grad = at::GradMode::is_enabled() && (x.requires_grad() || wt.requires_grad());
    if (grad || stride != 1 || padding != 1 || wt.size(2) != 3 || wt.size(3) != 3)
        return at::conv2d(at::upsample_nearest2d(x, { 2 * h, 2 * w }), wt, b, { stride, stride }, { padding, padding });
    // Output row 2i reads upsampled rows 2i-1, 2i, 2i+1 = input rows i-1, i, i: taps (w0, w1 + w2) on rows (i-1, i);
    // output row 2i+1 reads input rows i, i, i+1: taps (w0 + w1, w2) on rows (i, i+1). The same for columns.
    auto taps = [](const at::Tensor& k, int64_t dim, int parity) {
        return parity == 0 ? at::stack({ k.select(dim, 0), k.select(dim, 1) + k.select(dim, 2) }, dim)
                           : at::stack({ k.select(dim, 0) + k.select(dim, 1), k.select(dim, 2) }, dim);
    };
    auto xp = at::constant_pad_nd(x, { 1, 1, 1, 1 }, 0);
    auto y = at::empty({ x.size(0), wt.size(0), 2 * h, 2 * w }, x.options());
    auto phases = y.view({ x.size(0), wt.size(0), h, 2, w, 2 });
    for (int a = 0; a < 2; ++a) {
        auto rows = taps(wt, 2, a);
        for (int c = 0; c < 2; ++c)
            phases.select(5, c).select(3, a).copy_(
                at::conv2d(xp.narrow(2, a, h + 1).narrow(3, c, w + 1), taps(rows, 3, c).contiguous(), b));
    }
    return y;
}

Conv1x1dImpl::Conv1x1dImpl(int64_t in, int64_t out, const Options& o)
{
    weight = register_parameter("weight", at::empty({ out, in, 1 }, o), false);
    bias = register_parameter("bias", at::empty({ out }, o), false);
}

at::Tensor Conv1x1dImpl::forward(const at::Tensor& x)
{
    return at::conv1d(x, like(weight, x), like(bias, x)); // [B, Cin, T] -> [B, Cout, T]
}

GroupNormImpl::GroupNormImpl(int64_t groups_, int64_t channels, double eps_, const Options& o)
    : groups(groups_)
    , eps(eps_)
{
    weight = register_parameter("weight", at::empty({ channels }, o), false);
    bias = register_parameter("bias", at::empty({ channels }, o), false);
}

at::Tensor GroupNormImpl::forward(const at::Tensor& x)
{
    return at::group_norm(x, groups, like(weight, x), like(bias, x), eps);
}

LayerNormImpl::LayerNormImpl(int64_t dim, double eps_, const Options& o)
    : eps(eps_)
{
    weight = register_parameter("weight", at::empty({ dim }, o), false);
    bias = register_parameter("bias", at::empty({ dim }, o), false);
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x)
{
    return at::layer_norm(x, { weight.size(0) }, like(weight, x), like(bias, x), eps);
}

EmbeddingImpl::EmbeddingImpl(int64_t count, int64_t dim, const Options& o)
{
    weight = register_parameter("weight", at::empty({ count, dim }, o), false);
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids)
{
    const auto type = computeType(weight);
    at::Tensor out;
    const int64_t count = weight.size(0);
    if (extra.defined() && ids.numel() > 0 && ids.max().item<int64_t>() >= count) {
        const auto isExtra = (ids >= count).unsqueeze(-1);
        const auto base = at::embedding(weight, ids.clamp_max(count - 1));
        const auto more
            = at::embedding(extra.to(weight.device(), weight.scalar_type()), (ids - count).clamp(0, extra.size(0) - 1));
        out = at::where(isExtra, more, base);
    } else {
        out = at::embedding(weight, ids);
    }
    return out.scalar_type() == type ? out : out.to(type);
}

at::Tensor attention(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale, const c10::optional<at::Tensor>& mask)
{
    // q [B, H, Tq, D], k/v [B, H, Tk, D]
    if (accel::useSdpa(q)) // fused kernels on a GPU (flash / memory-efficient): the score matrix is never stored
        return accel::sdpa(q, k, v, scale, mask);
    const int64_t tq = q.size(2);
    const int64_t tk = k.size(2);
    // Bound the score matrix to about 64M elements per chunk so large images never materialise it whole.
    const int64_t budget = int64_t(1) << 26;
    const int64_t perRow = std::max<int64_t>(1, q.size(0) * q.size(1) * tk);
    const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(tq, budget / perRow));
    auto kt = k.transpose(-1, -2);
    if (chunk >= tq) {
        auto s = at::matmul(q, kt).mul_(scale);
        if (mask)
            s.add_(*mask);
        return at::matmul(s.softmax(-1), v);
    }
    std::vector<at::Tensor> parts;
    for (int64_t i = 0; i < tq; i += chunk) {
        auto qi = q.narrow(2, i, std::min(chunk, tq - i));
        auto s = at::matmul(qi, kt).mul_(scale);
        if (mask)
            s.add_(mask->narrow(-2, i, qi.size(2)));
        parts.push_back(at::matmul(s.softmax(-1), v));
    }
    return at::cat(parts, 2);
}

} // namespace ls::nn

namespace ls::nn {

std::shared_ptr<torch::nn::Module> container(torch::nn::Module& parent, const std::string& dottedPath)
{
    torch::nn::Module* cur = &parent;
    std::shared_ptr<torch::nn::Module> curPtr;
    size_t start = 0;
    while (start <= dottedPath.size()) {
        size_t dot = dottedPath.find('.', start);
        std::string seg = dottedPath.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        auto children = cur->named_children();
        if (auto* found = children.find(seg)) {
            curPtr = *found;
        } else {
            curPtr = cur->register_module(seg, std::make_shared<torch::nn::Module>());
        }
        cur = curPtr.get();
        if (dot == std::string::npos)
            break;
        start = dot + 1;
    }
    return curPtr;
}

} // namespace ls::nn

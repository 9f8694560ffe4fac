#include "models/Layers.h"

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
    auto out = at::embedding(weight, ids);
    return out.scalar_type() == type ? out : out.to(type);
}

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
    const c10::optional<at::Tensor>& mask)
{
    // q [B, H, Tq, D], k/v [B, H, Tk, D]
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

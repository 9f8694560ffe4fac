#include "models/Loader.h"

#include "util/Error.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

namespace ls::models {

std::string LoadReport::describe(const std::string& file, size_t maxPerList) const
{
    std::string s = file + ": the weights do not fit the model";
    auto list = [&](const char* title, const std::vector<std::string>& v) {
        if (v.empty())
            return;
        s += "\n  " + std::to_string(v.size()) + " " + title + ":";
        for (size_t i = 0; i < v.size() && i < maxPerList; ++i)
            s += "\n    " + v[i];
        if (v.size() > maxPerList)
            s += "\n    ... and " + std::to_string(v.size() - maxPerList) + " more";
    };
    list("missing key(s)", missing);
    list("unexpected key(s)", unexpected);
    list("wrongly shaped key(s)", wrongShape);
    return s;
}

void loadModule(torch::nn::Module& module, const io::WeightSource& source, const std::string& prefix,
    LoadReport& report, const LoadOptions& options)
{
    torch::NoGradGuard noGrad;
    std::set<std::string> used;
    auto take = [&](const std::string& name, at::Tensor& dst) {
        const std::string key = prefix + name;
        if (!source.contains(key)) {
            if (!options.optional.count(name))
                report.missing.push_back(key);
            return;
        }
        used.insert(key);
        const io::TensorInfo info = source.info(key);
        if (info.shape != dst.sizes().vec()) {
            report.wrongShape.push_back(
                key + ": file " + io::shapeToString(info.shape) + " vs model " + io::shapeToString(dst.sizes().vec()));
            return;
        }
        if (dst.is_meta())
            return;
        at::Tensor src = source.load(key);
        if (options.checkFinite && at::isFloatingType(src.scalar_type()) && !at::isfinite(src).all().item<bool>())
            report.nonFinite.push_back(key);
        dst.copy_(src);
        src = at::Tensor();
        source.release(key);
    };
    for (auto& item : module.named_parameters(true))
        take(item.key(), item.value());
    for (auto& item : module.named_buffers(true))
        take(item.key(), item.value());
    for (const std::string& key : source.keys()) {
        if (key.rfind(prefix, 0) != 0 || used.count(key))
            continue;
        if (options.ignore && options.ignore(key.substr(prefix.size())))
            continue;
        report.unexpected.push_back(key);
    }
}

std::vector<std::pair<std::string, std::vector<int64_t>>> moduleKeys(torch::nn::Module& module, bool withBuffers)
{
    std::vector<std::pair<std::string, std::vector<int64_t>>> out;
    for (auto& item : module.named_parameters(true))
        out.emplace_back(item.key(), item.value().sizes().vec());
    if (withBuffers)
        for (auto& item : module.named_buffers(true))
            out.emplace_back(item.key(), item.value().sizes().vec());
    return out;
}

} // namespace ls::models

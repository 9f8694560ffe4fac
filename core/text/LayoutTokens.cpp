#include "text/LayoutTokens.h"

#include "util/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace ls::text {

using nlohmann::json;

LayoutObject LayoutObject::fromJson(const json& j)
{
    LayoutObject o;
    if (!j.contains("category_no") || !j.contains("bbox"))
        fail(ErrorKind::InvalidInput, "layout object needs category_no and bbox");
    o.categoryNo = j["category_no"].get<int64_t>();
    o.bbox = j["bbox"].get<std::array<double, 4>>();
    auto flag = [&](const char* k) { return j.contains(k) && j[k].is_boolean() && j[k].get<bool>(); };
    o.isGroupOf = flag("is_group_of");
    o.isOccluded = flag("is_occluded");
    o.isDepiction = flag("is_depiction");
    o.isInside = flag("is_inside");
    return o;
}

LayoutTokenBuilder LayoutTokenBuilder::fromJson(const json& j)
{
    LayoutTokenBuilder b;
    b.noObjectClasses = j.value("no_object_classes", b.noObjectClasses);
    b.noMaxObjects = j.value("no_max_objects", b.noMaxObjects);
    b.noTokens = j.value("no_tokens", b.noTokens);
    b.encodeCrop = j.value("encode_crop", b.encodeCrop);
    b.useGroupParameter = j.value("use_group_parameter", b.useGroupParameter);
    b.useAdditionalParameters = j.value("use_additional_parameters", b.useAdditionalParameters);
    return b;
}

int64_t LayoutTokenBuilder::gridSize() const { return static_cast<int64_t>(std::sqrt(static_cast<double>(noTokens))); }

int64_t LayoutTokenBuilder::coordToken(double x, double y) const
{
    const int64_t s = gridSize();
    const auto r = [&](double v) { return static_cast<int64_t>(std::nearbyint(v * static_cast<double>(s - 1))); };
    return r(y) * s + r(x);
}

std::vector<int64_t> LayoutTokenBuilder::build(const std::vector<LayoutObject>& input,
    const std::optional<std::array<double, 4>>& cropIn, bool flip, const std::vector<int>& permutation) const
{
    std::vector<LayoutObject> objs(
        input.begin(), input.begin() + std::min<size_t>(input.size(), static_cast<size_t>(noMaxObjects)));
    if (!permutation.empty()) {
        if (permutation.size() != objs.size())
            fail(ErrorKind::InvalidInput, "layout permutation length differs from the object count");
        std::vector<LayoutObject> p;
        for (int j : permutation)
            p.push_back(objs.at(static_cast<size_t>(j)));
        objs.swap(p);
    }
    const std::array<double, 4> crop = cropIn.value_or(std::array<double, 4> { 0, 0, 1, 1 });
    const auto [cx, cy, cw, ch] = crop;
    auto clamp01 = [](double v) { return std::clamp(v, 0.0, 1.0); };
    std::vector<int64_t> tokens;
    int64_t kept = 0;
    for (const auto& o : objs) {
        const auto [x, y, w, h] = o.bbox;
        // intersection area with the crop must be > 0
        const double ix = std::max(0.0, std::min(x + w, cx + cw) - std::max(x, cx));
        const double iy = std::max(0.0, std::min(y + h, cy + ch) - std::max(y, cy));
        if (!(ix * iy > 0))
            continue;
        double x0, y0, bw, bh;
        if (encodeCrop) {
            x0 = clamp01(x);
            y0 = clamp01(y);
            bw = std::min(w, 1 - x0);
            bh = std::min(h, 1 - y0);
        } else {
            x0 = clamp01((x - cx) / cw);
            y0 = clamp01((y - cy) / ch);
            bw = std::min(w / cw, 1 - x0);
            bh = std::min(h / ch, 1 - y0);
        }
        if (flip)
            x0 = 1 - (x0 + bw);
        int64_t modifier = 0;
        if (useGroupParameter && o.isGroupOf)
            modifier |= 1;
        if (useAdditionalParameters)
            modifier |= (o.isOccluded ? 2 : 0) | (o.isDepiction ? 4 : 0) | (o.isInside ? 8 : 0);
        tokens.push_back(o.categoryNo + noObjectClasses * modifier);
        tokens.push_back(coordToken(x0, y0));
        tokens.push_back(coordToken(x0 + bw, y0 + bh));
        ++kept;
    }
    for (int64_t i = kept; i < noMaxObjects; ++i)
        tokens.insert(tokens.end(), { none(), none(), none() });
    if (encodeCrop) {
        double fx = cx;
        if (flip)
            fx = 1 - (cx + cw);
        tokens.push_back(coordToken(fx, cy));
        tokens.push_back(coordToken(fx + cw, cy + ch));
    }
    return tokens;
}

} // namespace ls::text

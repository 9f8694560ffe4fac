#pragma once
// Box tokens of the LDM layout2img model (taming ObjectsBoundingBoxConditionalBuilder): per object a triple
// (class representation, top-left token, bottom-right token), padded to no_max_objects, plus two crop tokens.
#include <nlohmann/json_fwd.hpp>

#include <array>
#include <optional>
#include <vector>

namespace ls::text {

struct LayoutObject {
    int64_t categoryNo = 0;
    std::array<double, 4> bbox {}; // x0, y0, w, h relative to the image
    bool isGroupOf = false, isOccluded = false, isDepiction = false, isInside = false;
    static LayoutObject fromJson(const nlohmann::json& j);
};

struct LayoutTokenBuilder {
    int64_t noObjectClasses = 340;
    int64_t noMaxObjects = 30;
    int64_t noTokens = 8192;
    bool encodeCrop = true;
    bool useGroupParameter = true;
    bool useAdditionalParameters = true;

    static LayoutTokenBuilder fromJson(const nlohmann::json& j);
    int64_t gridSize() const; // int(sqrt(no_tokens))
    int64_t none() const { return noTokens - 1; }
    int64_t sequenceLength() const { return noMaxObjects * 3 + (encodeCrop ? 2 : 0); }
    // tok(x, y) = round(y*(S-1))*S + round(x*(S-1)), round half to even.
    int64_t coordToken(double x, double y) const;
    // crop = (x, y, w, h) or none; permutation = the training-time shuffle order (identity when empty).
    std::vector<int64_t> build(const std::vector<LayoutObject>& objects,
        const std::optional<std::array<double, 4>>& crop = {}, bool flip = false,
        const std::vector<int>& permutation = {}) const;
};

} // namespace ls::text

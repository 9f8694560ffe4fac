#include "text/WorldLayout.h"

#include <algorithm>
#include <cmath>

namespace ls::text {

std::vector<float> rasteriseWorldLayout(const std::vector<WorldBox>& boxes, int h, int w)
{
    std::vector<float> map(static_cast<size_t>(kWorldLayoutChannels) * h * w, 0.0f);
    for (const auto& b : boxes) {
        int color = -1, shape = -1;
        if (!WorldTokenizer::parseLabel(b.label, color, shape))
            continue;
        const double x0 = std::clamp(std::min(b.x0, b.x1), 0.0, 1.0) * w,
                     x1 = std::clamp(std::max(b.x0, b.x1), 0.0, 1.0) * w;
        const double y0 = std::clamp(std::min(b.y0, b.y1), 0.0, 1.0) * h,
                     y1 = std::clamp(std::max(b.y0, b.y1), 0.0, 1.0) * h;
        for (int y = 0; y < h; ++y) {
            const double cy = std::max(0.0, std::min<double>(y + 1, y1) - std::max<double>(y, y0));
            if (cy <= 0)
                continue;
            for (int x = 0; x < w; ++x) {
                const double cx = std::max(0.0, std::min<double>(x + 1, x1) - std::max<double>(x, x0));
                const float cover = static_cast<float>(cx * cy);
                if (cover <= 0)
                    continue;
                for (int ch : { color, 4 + shape }) {
                    float& v = map[(static_cast<size_t>(ch) * h + y) * w + x];
                    v = std::max(v, cover);
                }
            }
        }
    }
    return map;
}

std::vector<WorldBox> layoutFromCaption(const std::string& caption)
{
    std::vector<WorldBox> out;
    std::vector<std::string> phrases(1);
    for (const auto& word : WorldTokenizer::splitWords(caption)) {
        if (word == "and")
            phrases.emplace_back();
        else
            phrases.back() += word + " ";
    }
    for (const auto& phrase : phrases) {
        int color = -1, shape = -1, size = 1, row = 1, col = 1;
        bool placed = false;
        if (!WorldTokenizer::parseLabel(phrase, color, shape))
            continue;
        for (const auto& word : WorldTokenizer::splitWords(phrase)) {
            if (word == "small")
                size = 0;
            else if (word == "top")
                row = 0, placed = true;
            else if (word == "bottom")
                row = 2, placed = true;
            else if (word == "left")
                col = 0, placed = true;
            else if (word == "right")
                col = 2, placed = true;
            else if (word == "center" || word == "centre" || word == "middle")
                placed = true;
        }
        if (!placed)
            continue;
        // The tight box of the pixels the world's object covers by more than half (SyntheticWorld's box()): a circle or
        // a triangle of radius r spans r - 1 pixels either side of its centre pixel, a square of half-side 0.88 r
        // about 0.88 r - 0.5.
        const double r = kWorldRadius[static_cast<size_t>(size)];
        const double half = shape == 1 ? std::round(0.88 * r - 0.5) : r - 1;
        const double cx = worldCellCentre(col), cy = worldCellCentre(row), n = kWorldPixels;
        out.push_back({ (cx - half) / n, (cy - half) / n, (cx + half + 1) / n, (cy + half + 1) / n,
            std::string(kWorldColors[static_cast<size_t>(color)]) + " " + kWorldShapes[static_cast<size_t>(shape)] });
    }
    return out;
}

} // namespace ls::text

#include "train/SyntheticWorld.h"

#include <algorithm>
#include <cmath>
#include <queue>

namespace ls::train {

namespace {

uint64_t splitmix(uint64_t& s)
{
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

bool inside(const WorldObject& o, double x, double y)
{
    const double r = kSizeRadius[o.size];
    const double dx = x - o.cx, dy = y - o.cy;
    switch (o.shape) {
    case 0:
        return dx * dx + dy * dy <= r * r;
    case 1:
        return std::abs(dx) <= r * 0.88 && std::abs(dy) <= r * 0.88;
    default: { // upward triangle inside the square [-r, r]
        if (dy > r * 0.9 || dy < -r)
            return false;
        const double t = (dy + r) / (1.9 * r); // 0 at the apex, 1 at the base
        return std::abs(dx) <= t * r;
    }
    }
}

} // namespace

std::array<int, 4> WorldObject::box() const
{
    // The tight box of the pixels the shape covers by more than half (same 3x3 samples as render()): what a viewer,
    // and the detector, sees.
    const int r = kSizeRadius[size] + 1;
    std::array<int, 4> b { kWorldSize, kWorldSize, -1, -1 };
    for (int y = cy - r; y <= cy + r; ++y) {
        for (int x = cx - r; x <= cx + r; ++x) {
            int covered = 0;
            for (int sy = 0; sy < 3; ++sy)
                for (int sx = 0; sx < 3; ++sx)
                    covered += inside(*this, x + (sx + 0.5) / 3.0 - 0.5, y + (sy + 0.5) / 3.0 - 0.5);
            if (covered >= 5)
                b = { std::min(b[0], x), std::min(b[1], y), std::max(b[2], x + 1), std::max(b[3], y + 1) };
        }
    }
    return b;
}

std::string WorldObject::phrase() const
{
    return std::string("a ") + kSizeNames[size] + " " + kColorNames[color] + " " + kShapeNames[shape] + " "
        + kCellPhrases[cell];
}

std::string WorldObject::label() const { return std::string(kColorNames[color]) + " " + kShapeNames[shape]; }

std::string Scene::caption() const
{
    std::string s;
    for (size_t i = 0; i < objects.size(); ++i)
        s += (i ? " and " : "") + objects[i].phrase();
    return s;
}

uint64_t Scene::key() const
{
    uint64_t k = 1469598103934665603ull ^ static_cast<uint64_t>(background);
    for (const auto& o : objects) {
        const uint64_t v = static_cast<uint64_t>(o.shape) | (static_cast<uint64_t>(o.color) << 4)
            | (static_cast<uint64_t>(o.size) << 8) | (static_cast<uint64_t>(o.cell) << 12);
        k = (k ^ v) * 1099511628211ull;
        k ^= k >> 29;
    }
    return k;
}

bool isHeldOut(const Scene& s)
{
    uint64_t k = s.key();
    return splitmix(k) % 10 == 0;
}

Scene makeScene(Split split, uint64_t index, int minObjects, int maxObjects)
{
    uint64_t state = (split == Split::Train ? 0x1234ull : 0xABCDull) * 1000003ull + index * 7919ull;
    for (int attempt = 0;; ++attempt) {
        Scene s;
        s.background = static_cast<int>(splitmix(state) % kBackgrounds.size());
        const int n
            = minObjects + static_cast<int>(splitmix(state) % static_cast<uint64_t>(maxObjects - minObjects + 1));
        std::vector<int> cells { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
        for (int i = 8; i > 0; --i)
            std::swap(cells[i], cells[splitmix(state) % static_cast<uint64_t>(i + 1)]);
        for (int i = 0; i < n; ++i) {
            WorldObject o;
            o.shape = static_cast<int>(splitmix(state) % 3);
            o.color = static_cast<int>(splitmix(state) % 4);
            o.size = static_cast<int>(splitmix(state) % 2);
            o.cell = cells[i];
            const int jitter = o.size == 0 ? 3 : 1;
            o.cx = text::worldCellCentre(o.cell % 3) + static_cast<int>(splitmix(state) % (2 * jitter + 1)) - jitter;
            o.cy = text::worldCellCentre(o.cell / 3) + static_cast<int>(splitmix(state) % (2 * jitter + 1)) - jitter;
            s.objects.push_back(o);
        }
        if (isHeldOut(s) == (split == Split::HeldOut))
            return s;
        if (attempt > 10000)
            return s;
    }
}

Image render(const Scene& s)
{
    Image img(kWorldSize, kWorldSize, 3);
    const auto& bg = kBackgrounds[s.background];
    for (int y = 0; y < kWorldSize; ++y) {
        for (int x = 0; x < kWorldSize; ++x) {
            double acc[3] = { 0, 0, 0 };
            // 3x3 supersampling for soft edges
            for (int sy = 0; sy < 3; ++sy) {
                for (int sx = 0; sx < 3; ++sx) {
                    const double px = x + (sx + 0.5) / 3.0, py = y + (sy + 0.5) / 3.0;
                    std::array<uint8_t, 3> c = bg;
                    for (const auto& o : s.objects)
                        if (inside(o, px - 0.5, py - 0.5))
                            c = kColors[o.color];
                    for (int k = 0; k < 3; ++k)
                        acc[k] += c[k];
                }
            }
            for (int k = 0; k < 3; ++k)
                img.at(x, y)[k] = static_cast<uint8_t>(std::lround(acc[k] / 9.0));
        }
    }
    return img;
}

double iou(const std::array<int, 4>& a, const std::array<int, 4>& b)
{
    const int ix = std::max(0, std::min(a[2], b[2]) - std::max(a[0], b[0]));
    const int iy = std::max(0, std::min(a[3], b[3]) - std::max(a[1], b[1]));
    const double inter = static_cast<double>(ix) * iy;
    const double ua
        = static_cast<double>(a[2] - a[0]) * (a[3] - a[1]) + static_cast<double>(b[2] - b[0]) * (b[3] - b[1]) - inter;
    return ua > 0 ? inter / ua : 0.0;
}

std::vector<Detection> detect(const Image& img)
{
    const int w = img.width, h = img.height;
    std::vector<int> label(static_cast<size_t>(w) * h, -1);
    // Nearest palette colour per pixel; pixels far from every object colour are background.
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            const uint8_t* p = img.at(x, y);
            int best = -1;
            double bestD = 1e9;
            for (int c = 0; c < 4; ++c) {
                double d = 0;
                for (int k = 0; k < 3; ++k)
                    d += (p[k] - kColors[c][k]) * (p[k] - kColors[c][k]);
                if (d < bestD) {
                    bestD = d;
                    best = c;
                }
            }
            double bgD = 1e9;
            for (const auto& b : kBackgrounds) {
                double d = 0;
                for (int k = 0; k < 3; ++k)
                    d += (p[k] - b[k]) * (p[k] - b[k]);
                bgD = std::min(bgD, d);
            }
            if (bestD < bgD) // nearer the object colour than any background: covered by more than half
                label[static_cast<size_t>(y) * w + x] = best;
        }
    }
    std::vector<Detection> out;
    std::vector<char> seen(label.size(), 0);
    for (int y = 0; y < h; ++y) {
        for (int x = 0; x < w; ++x) {
            const size_t i = static_cast<size_t>(y) * w + x;
            if (label[i] < 0 || seen[i])
                continue;
            const int c = label[i];
            Detection d;
            d.color = c;
            d.box = { x, y, x + 1, y + 1 };
            std::queue<std::pair<int, int>> q;
            q.push({ x, y });
            seen[i] = 1;
            double sx = 0, sy = 0;
            while (!q.empty()) {
                auto [cx, cy] = q.front();
                q.pop();
                ++d.pixels;
                sx += cx;
                sy += cy;
                d.box = { std::min(d.box[0], cx), std::min(d.box[1], cy), std::max(d.box[2], cx + 1),
                    std::max(d.box[3], cy + 1) };
                const int nx[4] = { cx - 1, cx + 1, cx, cx }, ny[4] = { cy, cy, cy - 1, cy + 1 };
                for (int k = 0; k < 4; ++k) {
                    if (nx[k] < 0 || ny[k] < 0 || nx[k] >= w || ny[k] >= h)
                        continue;
                    const size_t j = static_cast<size_t>(ny[k]) * w + nx[k];
                    if (!seen[j] && label[j] == c) {
                        seen[j] = 1;
                        q.push({ nx[k], ny[k] });
                    }
                }
            }
            if (d.pixels < 20)
                continue; // specks
            const int bw = d.box[2] - d.box[0], bh = d.box[3] - d.box[1];
            const double fill = d.pixels / static_cast<double>(bw * bh);
            // Corners tell the shapes apart even when small: a square fills all four, the upward triangle only the
            // bottom two, a circle none.
            auto filled = [&](int px, int py) { return label[static_cast<size_t>(py) * w + px] == c; };
            const bool tl = filled(d.box[0], d.box[1]), tr = filled(d.box[2] - 1, d.box[1]);
            const bool bl = filled(d.box[0], d.box[3] - 1), br = filled(d.box[2] - 1, d.box[3] - 1);
            const int corners = tl + tr + bl + br;
            if (corners >= 3 && fill > 0.8)
                d.shape = 1;
            else if ((bl && br && !tl && !tr) || fill < 0.68)
                d.shape = 2;
            else
                d.shape = 0;
            d.size = std::max(bw, bh) >= 14 ? 1 : 0;
            const double mx = sx / d.pixels, my = sy / d.pixels;
            const int col = std::clamp(static_cast<int>(mx / (w / 3.0)), 0, 2),
                      row = std::clamp(static_cast<int>(my / (h / 3.0)), 0, 2);
            d.cell = row * 3 + col;
            out.push_back(d);
        }
    }
    return out;
}

} // namespace ls::train

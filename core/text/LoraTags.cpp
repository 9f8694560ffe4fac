#include "text/LoraTags.h"

#include "util/Error.h"

#include <cmath>
#include <cstdlib>

namespace ls::text {

namespace {

std::string trim(const std::string& s)
{
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos)
        return {};
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

double number(const std::string& v, const std::string& tag)
{
    const std::string t = trim(v);
    char* end = nullptr;
    const double d = std::strtod(t.c_str(), &end);
    if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(d))
        fail(ErrorKind::InvalidInput, tag + ": '" + t + "' is not a number (write <lora:NAME:0.8>)");
    return d;
}

} // namespace

std::string extractLoraTags(const std::string& prompt, std::vector<LoraTag>* tags)
{
    std::string out;
    size_t i = 0;
    while (i < prompt.size()) {
        size_t kind = 0;
        if (prompt.compare(i, 6, "<lora:") == 0)
            kind = 6;
        else if (prompt.compare(i, 6, "<lyco:") == 0)
            kind = 6;
        if (!kind) {
            out += prompt[i++];
            continue;
        }
        const size_t close = prompt.find('>', i);
        if (close == std::string::npos)
            fail(ErrorKind::InvalidInput, "'" + prompt.substr(i, 40) + "' has no closing '>'");
        const std::string tag = prompt.substr(i, close - i + 1);
        std::vector<std::string> parts;
        const std::string body = prompt.substr(i + kind, close - i - kind);
        size_t s = 0;
        for (size_t k = 0; k <= body.size(); ++k)
            if (k == body.size() || body[k] == ':') {
                parts.push_back(body.substr(s, k - s));
                s = k + 1;
            }
        LoraTag t;
        t.name = trim(parts[0]);
        if (t.name.empty())
            fail(ErrorKind::InvalidInput, tag + " names no LoRA (write <lora:NAME:0.8>)");
        std::vector<std::string> positional;
        bool te = false, unet = false;
        for (size_t k = 1; k < parts.size(); ++k) {
            const std::string p = trim(parts[k]);
            const auto eq = p.find('=');
            if (eq == std::string::npos) {
                positional.push_back(p);
                continue;
            }
            const std::string key = trim(p.substr(0, eq));
            if (key == "te") {
                t.textWeight = number(p.substr(eq + 1), tag);
                te = true;
            } else if (key == "unet") {
                t.unetWeight = number(p.substr(eq + 1), tag);
                unet = true;
            } else {
                fail(ErrorKind::InvalidInput, tag + ": unknown setting '" + key + "' (known: te, unet)");
            }
        }
        if (positional.size() > 2)
            fail(ErrorKind::InvalidInput, tag + ": at most two weights (text encoder, UNet)");
        if (!te && !positional.empty())
            t.textWeight = number(positional[0], tag);
        if (!unet)
            t.unetWeight = positional.size() > 1 ? number(positional[1], tag) : t.textWeight;
        if (tags)
            tags->push_back(t);
        i = close + 1;
    }
    return out;
}

} // namespace ls::text

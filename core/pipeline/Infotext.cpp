#include "pipeline/Infotext.h"

#include "util/Error.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <sstream>

namespace ls::pipeline {

namespace {

std::string quoteIfNeeded(const std::string& v)
{
    if (v.find_first_of(",:\n") == std::string::npos)
        return v;
    return nlohmann::json(v).dump();
}

std::string number(double v)
{
    if (std::abs(v - std::round(v)) < 1e-9)
        return std::to_string(static_cast<long long>(std::llround(v)));
    std::ostringstream os;
    os << v;
    return os.str();
}

} // namespace

std::string buildInfotext(const GenerationRequest& r, int64_t seed, const std::string& modelName, const std::string& modelHash, int width, int height,
    const std::vector<std::pair<std::string, std::string>>& extra)
{
    std::string out = r.prompt;
    if (!r.negativePrompt.empty())
        out += "\nNegative prompt: " + r.negativePrompt;
    std::vector<std::pair<std::string, std::string>> kv;
    kv.emplace_back("Steps", std::to_string(r.steps));
    kv.emplace_back("Sampler", r.sampler);
    if (r.schedule != "Automatic")
        kv.emplace_back("Schedule type", r.schedule);
    kv.emplace_back("CFG scale", number(r.cfgScale));
    kv.emplace_back("Seed", std::to_string(seed));
    kv.emplace_back("Size", std::to_string(width) + "x" + std::to_string(height));
    if (!modelHash.empty())
        kv.emplace_back("Model hash", modelHash);
    if (!modelName.empty())
        kv.emplace_back("Model", modelName);
    if (r.mode == JobMode::Img2Img || r.mode == JobMode::Inpaint)
        kv.emplace_back("Denoising strength", number(r.strength));
    if (r.mode == JobMode::Txt2Img && r.hiresScale > 1) {
        kv.emplace_back("Denoising strength", number(r.hiresStrength));
        kv.emplace_back("Hires upscale", number(r.hiresScale));
        if (r.hiresSteps > 0)
            kv.emplace_back("Hires steps", std::to_string(r.hiresSteps));
        kv.emplace_back("Hires upscaler", "Lanczos");
    }
    if (r.mode == JobMode::Inpaint) {
        kv.emplace_back("Mask blur", std::to_string(r.maskBlur));
        if (r.onlyMasked)
            kv.emplace_back("Inpaint area", "Only masked");
    }
    if (r.clipSkip > 1)
        kv.emplace_back("Clip skip", std::to_string(r.clipSkip));
    if (r.sampler == "DDIM" && r.eta != 0)
        kv.emplace_back("Eta DDIM", number(r.eta));
    kv.insert(kv.end(), extra.begin(), extra.end());
    kv.emplace_back("Version", std::string("latent-studio ") + LS_VERSION);
    std::string line;
    for (const auto& [k, v] : kv)
        line += (line.empty() ? "" : ", ") + k + ": " + quoteIfNeeded(v);
    return out + "\n" + line;
}

std::string ParsedInfotext::get(const std::string& key, const std::string& def) const
{
    for (const auto& [k, v] : params)
        if (k == key)
            return v;
    return def;
}

ParsedInfotext parseInfotext(const std::string& text)
{
    ParsedInfotext p;
    std::vector<std::string> lines;
    std::stringstream ss(text);
    std::string l;
    while (std::getline(ss, l))
        lines.push_back(l);
    // The last line holds the parameters when it has at least three "Key: value" pairs (A1111's rule).
    std::string last = lines.empty() ? "" : lines.back();
    auto parsePairs = [](const std::string& s) {
        std::vector<std::pair<std::string, std::string>> out;
        size_t i = 0;
        while (i < s.size()) {
            while (i < s.size() && s[i] == ' ')
                ++i;
            const size_t colon = s.find(':', i);
            if (colon == std::string::npos)
                break;
            std::string key = s.substr(i, colon - i);
            i = colon + 1;
            while (i < s.size() && s[i] == ' ')
                ++i;
            std::string value;
            if (i < s.size() && s[i] == '"') {
                size_t j = i + 1;
                while (j < s.size() && s[j] != '"') {
                    if (s[j] == '\\')
                        ++j;
                    ++j;
                }
                try {
                    value = nlohmann::json::parse(s.substr(i, j + 1 - i)).get<std::string>();
                } catch (const nlohmann::json::exception&) {
                    value = s.substr(i + 1, j - i - 1);
                }
                i = j + 1;
                const size_t comma = s.find(',', i);
                i = comma == std::string::npos ? s.size() : comma + 1;
            } else {
                const size_t comma = s.find(',', i);
                value = s.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
                i = comma == std::string::npos ? s.size() : comma + 1;
            }
            while (!value.empty() && value.back() == ' ')
                value.pop_back();
            out.emplace_back(key, value);
        }
        return out;
    };
    auto pairs = parsePairs(last);
    if (pairs.size() >= 3) {
        p.params = pairs;
        lines.pop_back();
    }
    bool inNegative = false;
    for (const auto& line : lines) {
        if (line.rfind("Negative prompt:", 0) == 0) {
            inNegative = true;
            std::string v = line.substr(16);
            if (!v.empty() && v[0] == ' ')
                v.erase(0, 1);
            p.negativePrompt = v;
            continue;
        }
        std::string& target = inNegative ? p.negativePrompt : p.prompt;
        target += (target.empty() && !inNegative ? "" : "\n") + line;
    }
    return p;
}

GenerationRequest requestFromInfotext(const ParsedInfotext& p, GenerationRequest r)
{
    r.prompt = p.prompt;
    r.negativePrompt = p.negativePrompt;
    auto toInt = [&](const std::string& key, int def) {
        const std::string v = p.get(key);
        if (v.empty())
            return def;
        try {
            return std::stoi(v);
        } catch (const std::exception&) {
            fail(ErrorKind::InvalidInput, "infotext: '" + key + "' is not a number: " + v);
        }
    };
    auto toDouble = [&](const std::string& key, double def) {
        const std::string v = p.get(key);
        if (v.empty())
            return def;
        try {
            return std::stod(v);
        } catch (const std::exception&) {
            fail(ErrorKind::InvalidInput, "infotext: '" + key + "' is not a number: " + v);
        }
    };
    r.steps = toInt("Steps", r.steps);
    r.cfgScale = toDouble("CFG scale", r.cfgScale);
    const std::string seed = p.get("Seed");
    if (!seed.empty())
        r.seed = std::stoll(seed);
    std::string sampler = p.get("Sampler", r.sampler);
    for (const char* sched : { "Karras", "Exponential" }) {
        const std::string suffix = std::string(" ") + sched;
        if (sampler.size() > suffix.size() && sampler.compare(sampler.size() - suffix.size(), suffix.size(), suffix) == 0) {
            sampler.resize(sampler.size() - suffix.size());
            r.schedule = sched;
        }
    }
    r.sampler = sampler;
    r.schedule = p.get("Schedule type", r.schedule);
    const std::string size = p.get("Size");
    if (const auto x = size.find('x'); x != std::string::npos) {
        r.width = std::stoi(size.substr(0, x));
        r.height = std::stoi(size.substr(x + 1));
    }
    r.strength = toDouble("Denoising strength", r.strength);
    if (!p.get("Hires upscale").empty()) { // the size is the first pass's; the strength the second's
        r.hiresScale = toDouble("Hires upscale", r.hiresScale);
        r.hiresSteps = toInt("Hires steps", r.hiresSteps);
        r.hiresStrength = r.strength;
    }
    r.clipSkip = toInt("Clip skip", r.clipSkip);
    r.maskBlur = toInt("Mask blur", r.maskBlur);
    r.modelName = p.get("Model", r.modelName);
    return r;
}

} // namespace ls::pipeline

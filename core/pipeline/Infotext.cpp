#include "pipeline/Infotext.h"

#include "pipeline/SamplerNames.h"
#include "util/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
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

std::string buildInfotext(const GenerationRequest& r, int64_t seed, const std::string& modelName,
    const std::string& modelHash, int width, int height, const std::vector<std::pair<std::string, std::string>>& extra)
{
    // LoRAs given beside the prompt (--lora) are written into it as the tags A1111 users type
    std::string out = r.prompt;
    for (const auto& l : r.loras) {
        std::string tag = "<lora:" + l.name + ":" + number(l.textWeight);
        if (l.unetWeight != l.textWeight)
            tag += ":" + number(l.unetWeight);
        out += (out.empty() || out.back() == ' ' ? "" : " ") + tag + ">";
    }
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
    if (r.mode == JobMode::Txt2Img && r.hiresEnabled()) {
        kv.emplace_back("Denoising strength", number(r.hiresStrength));
        if (r.hiresWidth > 0 || r.hiresHeight > 0)
            kv.emplace_back("Hires resize", std::to_string(r.hiresWidth) + "x" + std::to_string(r.hiresHeight));
        else
            kv.emplace_back("Hires upscale", number(r.hiresScale));
        if (r.hiresSteps > 0)
            kv.emplace_back("Hires steps", std::to_string(r.hiresSteps));
        kv.emplace_back("Hires upscaler", "Lanczos");
        if (!r.hiresSampler.empty() && r.hiresSampler != r.sampler)
            kv.emplace_back("Hires sampler", r.hiresSampler);
        if (!r.hiresPrompt.empty() && r.hiresPrompt != r.prompt)
            kv.emplace_back("Hires prompt", r.hiresPrompt);
        if (!r.hiresNegativePrompt.empty() && r.hiresNegativePrompt != r.negativePrompt)
            kv.emplace_back("Hires negative prompt", r.hiresNegativePrompt);
        if (r.hiresCfgScale > 0 && r.hiresCfgScale != r.cfgScale)
            kv.emplace_back("Hires CFG Scale", number(r.hiresCfgScale));
    }
    if (r.mode == JobMode::Inpaint) {
        kv.emplace_back("Mask blur", std::to_string(r.maskBlur));
        if (r.onlyMasked) {
            kv.emplace_back("Inpaint area", "Only masked");
            kv.emplace_back("Masked area padding", std::to_string(r.onlyMaskedPadding));
        }
        if (r.maskedContent != "original")
            kv.emplace_back("Masked content", r.maskedContent);
        if (r.softInpainting)
            kv.emplace_back("Soft inpainting", "differential");
    }
    if (r.clipSkip > 1)
        kv.emplace_back("Clip skip", std::to_string(r.clipSkip));
    if (r.fastDecode) // A1111's key for its sd_vae_decode_method setting
        kv.emplace_back("VAE Decoder", "TAESD");
    if (r.sampler == "DDIM" && r.eta != 0)
        kv.emplace_back("Eta DDIM", number(r.eta));
    if (samplerUsesAncestralEta(r.sampler) && r.etaAncestral != 1.0)
        kv.emplace_back("Eta", number(r.etaAncestral));
    kv.insert(kv.end(), extra.begin(), extra.end());
    kv.emplace_back("Version", std::string("latent-studio ") + LS_VERSION);
    std::string line;
    for (const auto& [k, v] : kv)
        line += (line.empty() ? "" : ", ") + k + ": " + quoteIfNeeded(v);
    return out + "\n" + line;
}

std::string ParsedInfotext::get(const std::string& key, const std::string& def) const
{
    for (auto it = params.rbegin(); it != params.rend(); ++it) // a later value wins, as in A1111's dict
        if (it->first == key)
            return it->second;
    return def;
}

bool ParsedInfotext::has(const std::string& key) const
{
    for (const auto& kv : params)
        if (kv.first == key)
            return true;
    return false;
}

namespace {

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string strip(const std::string& s)
{
    size_t b = 0, e = s.size();
    while (b < e && isSpace(s[b]))
        ++b;
    while (e > b && isSpace(s[e - 1]))
        --e;
    return s.substr(b, e - b);
}

// Python's \w on UTF-8 text: ASCII letters, digits, '_', and (approximately) every non-ASCII character.
bool isWord(char c)
{
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool isKeyChar(char c) { return isWord(c) || c == ' ' || c == '-' || c == '/'; }

// One match of AUTOMATIC1111's parameter pattern at i,
//   \s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)
// filling key/value and returning the end of the match, or npos when it does not match at i.
size_t matchParam(const std::string& s, size_t i, std::string& key, std::string& value)
{
    const size_t n = s.size();
    while (i < n && isSpace(s[i]))
        ++i;
    if (i >= n || !isWord(s[i]))
        return std::string::npos;
    size_t k = i + 1;
    while (k < n && isKeyChar(s[k]))
        ++k;
    if (k < i + 2 || k >= n || s[k] != ':') // the key class holds no ':', so no shorter key can end at one either
        return std::string::npos;
    key = s.substr(i, k - i);
    size_t v = k + 1;
    while (v < n && isSpace(s[v]))
        ++v;
    auto endsValue = [&](size_t j) { return j == n || s[j] == ',' || (s[j] == '\n' && j + 1 == n); };
    if (v < n && s[v] == '"') { // a quoted value: escapes are a backslash and any character but a newline
        size_t j = v + 1;
        while (j < n) {
            if (s[j] == '\\' && j + 1 < n && s[j + 1] != '\n')
                j += 2;
            else if (s[j] != '\\' && s[j] != '"')
                ++j;
            else
                break;
        }
        if (j < n && s[j] == '"' && j > v + 1 && endsValue(j + 1)) {
            value = s.substr(v, j + 1 - v);
            return j + 1 < n && s[j + 1] == ',' ? j + 2 : j + 1;
        }
    }
    size_t j = v;
    while (j < n && s[j] != ',')
        ++j;
    value = s.substr(v, j - v);
    return j < n ? j + 1 : j;
}

// re.findall of that pattern: scans on one character after a failed attempt.
std::vector<std::pair<std::string, std::string>> findParams(const std::string& s)
{
    std::vector<std::pair<std::string, std::string>> out;
    size_t i = 0;
    while (i < s.size()) {
        std::string key, value;
        const size_t e = matchParam(s, i, key, value);
        if (e == std::string::npos) {
            ++i;
            continue;
        }
        out.emplace_back(std::move(key), std::move(value));
        i = e;
    }
    return out;
}

} // namespace

ParsedInfotext parseInfotext(const std::string& text)
{
    // AUTOMATIC1111's parse_generation_parameters: the stripped text's last line holds the parameters when the
    // pattern finds at least three there; every other line is stripped, and "Negative prompt:" starts the negative.
    ParsedInfotext p;
    std::vector<std::string> lines;
    const std::string all = strip(text);
    size_t start = 0;
    while (true) {
        const size_t nl = all.find('\n', start);
        lines.push_back(all.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
        if (nl == std::string::npos)
            break;
        start = nl + 1;
    }
    auto pairs = findParams(lines.back());
    if (pairs.size() >= 3)
        lines.pop_back();
    else
        pairs.clear();
    bool negative = false;
    for (auto line : lines) {
        line = strip(line);
        if (line.rfind("Negative prompt:", 0) == 0) {
            negative = true;
            line = strip(line.substr(16));
        }
        std::string& target = negative ? p.negativePrompt : p.prompt;
        target += (target.empty() ? "" : "\n") + line; // as A1111 joins them
    }
    for (auto& [k, v] : pairs) {
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
            try {
                v = nlohmann::json::parse(v).get<std::string>();
            } catch (const nlohmann::json::exception&) {
                // A1111's unquote keeps the text as it is
            }
        }
        p.params.emplace_back(k, v);
    }
    return p;
}

namespace {

// The values of one parsed infotext, read as numbers and sizes; bad values are errors naming the key.
struct Values {
    const ParsedInfotext& p;
    std::string text(const std::string& key) const { return p.get(key); }
    int toInt(const std::string& key, int def) const
    {
        const std::string v = p.get(key);
        if (v.empty())
            return def;
        try {
            size_t used = 0;
            const double d = std::stod(v, &used); // A1111 writes some integers as 32.0
            if (used != v.size() || d != std::floor(d) || std::abs(d) > 1e9)
                throw std::invalid_argument(v);
            return static_cast<int>(d);
        } catch (const std::exception&) {
            fail(ErrorKind::InvalidInput, "infotext: '" + key + "' is not a whole number: " + v);
        }
    }
    double toDouble(const std::string& key, double def) const
    {
        const std::string v = p.get(key);
        if (v.empty())
            return def;
        try {
            size_t used = 0;
            const double d = std::stod(v, &used);
            if (used != v.size() || !std::isfinite(d))
                throw std::invalid_argument(v);
            return d;
        } catch (const std::exception&) {
            fail(ErrorKind::InvalidInput, "infotext: '" + key + "' is not a number: " + v);
        }
    }
    bool toSize(const std::string& key, int& w, int& h) const
    {
        const std::string v = p.get(key);
        if (v.empty())
            return false;
        const auto x = v.find('x');
        const bool digits = x != std::string::npos && x > 0 && x + 1 < v.size()
            && std::all_of(
                v.begin(), v.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == 'x'; })
            && v.find('x', x + 1) == std::string::npos && x < 6 && v.size() - x - 1 < 6;
        if (!digits)
            fail(ErrorKind::InvalidInput, "infotext: '" + key + "' is not WIDTHxHEIGHT: " + v);
        w = std::stoi(v.substr(0, x));
        h = std::stoi(v.substr(x + 1));
        return true;
    }
};

// A1111's hires fix: on for a strength with an upscale, an upscaler or a resize. The size is the first pass's; the
// strength the second's.
void readHires(const Values& v, GenerationRequest& r, std::vector<std::string>& left)
{
    const auto& p = v.p;
    if (!p.has("Denoising strength") || !(p.has("Hires upscale") || p.has("Hires upscaler") || p.has("Hires resize")))
        return;
    r.hiresScale = v.toDouble("Hires upscale", 1.0);
    int hw = 0, hh = 0;
    if (v.toSize("Hires resize", hw, hh)) {
        r.hiresWidth = hw;
        r.hiresHeight = hh;
        if (hw == 0 && hh == 0 && r.hiresScale <= 1.0)
            r.hiresScale = 2.0; // A1111's default upscale
    } else if (!p.has("Hires upscale")) {
        r.hiresScale = 2.0;
    }
    r.hiresSteps = v.toInt("Hires steps", 0);
    r.hiresStrength = r.strength;
    const std::string upscaler = v.text("Hires upscaler");
    if (!upscaler.empty() && upscaler != "Lanczos" && upscaler != "None")
        left.push_back("Hires upscaler: " + upscaler + " (Lanczos is used)");
    if (p.has("Hires sampler")) {
        const std::string hs = v.text("Hires sampler");
        std::string hsSchedule = r.schedule;
        r.hiresSampler = hs == "Use same sampler" ? std::string() : canonicalSampler(hs, &hsSchedule);
        if (hsSchedule != r.schedule)
            left.push_back("Hires sampler: " + hs + " (the first pass's schedule is used)");
    }
    r.hiresPrompt = v.text("Hires prompt");
    r.hiresNegativePrompt = v.text("Hires negative prompt");
    r.hiresCfgScale = v.toDouble("Hires CFG Scale", 0.0);
}

// Everything else an A1111 picture may say: what describes the picture is fine, what changes it is reported.
void listUnhonoured(const ParsedInfotext& p, std::vector<std::string>& left)
{
    static const std::vector<std::string> honoured { "Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size",
        "Denoising strength", "Hires upscale", "Hires resize", "Hires steps", "Hires upscaler", "Hires sampler",
        "Hires prompt", "Hires negative prompt", "Hires CFG Scale", "Clip skip", "Mask blur", "Inpaint area",
        "Masked area padding", "Masked content", "Soft inpainting", "VAE Decoder", "Eta DDIM", "Eta", "Model",
        "Model hash", "Version", "Lora hashes", "TI hashes", "VAE", "VAE hash" };
    for (const auto& [k, v] : p.params) {
        if (std::find(honoured.begin(), honoured.end(), k) != honoured.end())
            continue;
        if ((k == "Variation seed strength" || k == "Schedule rho" || k == "Schedule max sigma"
                || k == "Schedule min sigma")
            && (v == "0" || v == "0.0"))
            continue;
        if ((k == "Masked content" && v == "original") || (k == "Mask mode" && v == "Inpaint masked")
            || (k == "RNG" && v == "CPU"))
            continue;
        const std::string item = k + ": " + v;
        if (std::find(left.begin(), left.end(), item) == left.end())
            left.push_back(item);
    }
}

} // namespace

void dropHiresPassForOtherJobs(GenerationRequest& r, std::vector<std::string>* unhonoured)
{
    if (r.mode == JobMode::Txt2Img || !r.hiresEnabled())
        return;
    r.hiresScale = 1.0;
    r.hiresWidth = r.hiresHeight = 0;
    if (unhonoured)
        unhonoured->push_back("the hires pass (" + std::string(jobModeName(r.mode)) + " has none)");
}

GenerationRequest requestFromInfotext(
    const ParsedInfotext& p, GenerationRequest r, std::vector<std::string>* unhonoured)
{
    const Values v { p };
    std::vector<std::string> left; // keys this request cannot carry out
    r.prompt = p.prompt;
    r.negativePrompt = p.negativePrompt;
    r.steps = v.toInt("Steps", r.steps);
    r.cfgScale = v.toDouble("CFG scale", r.cfgScale);
    if (!v.text("Seed").empty())
        r.seed = static_cast<int64_t>(v.toDouble("Seed", 0));
    if (p.has("Sampler"))
        r.sampler = canonicalSampler(v.text("Sampler"), &r.schedule);
    if (p.has("Schedule type"))
        r.schedule = canonicalSchedule(v.text("Schedule type"));
    v.toSize("Size", r.width, r.height);
    r.strength = v.toDouble("Denoising strength", r.strength);
    readHires(v, r, left);
    r.clipSkip = v.toInt("Clip skip", r.clipSkip);
    r.maskBlur = v.toInt("Mask blur", r.maskBlur);
    if (p.has("Inpaint area"))
        r.onlyMasked = v.text("Inpaint area") == "Only masked";
    r.onlyMaskedPadding = v.toInt("Masked area padding", r.onlyMaskedPadding);
    r.maskedContent = p.get("Masked content", r.maskedContent);
    if (p.has("Soft inpainting"))
        r.softInpainting = p.get("Soft inpainting") == "differential";
    if (p.has("VAE Decoder"))
        r.fastDecode = p.get("VAE Decoder") == "TAESD";
    r.eta = v.toDouble("Eta DDIM", r.eta);
    r.etaAncestral = v.toDouble("Eta", r.etaAncestral);
    r.modelName = p.get("Model", r.modelName);
    listUnhonoured(p, left);
    dropHiresPassForOtherJobs(r, &left);
    if (unhonoured)
        *unhonoured = std::move(left);
    return r;
}

} // namespace ls::pipeline

#include "pipeline/SamplerNames.h"

#include "pipeline/GenerationRequest.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

namespace ls::pipeline {

namespace {

std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string trimmed(const std::string& s)
{
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos)
        return {};
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Our name, then AUTOMATIC1111's aliases (sd_samplers_kdiffusion / sd_samplers_timesteps / sd_schedulers).
const std::vector<std::pair<std::string, std::vector<std::string>>>& samplerAliases()
{
    static const std::vector<std::pair<std::string, std::vector<std::string>>> t {
        { "DDIM", { "ddim" } },
        { "PLMS", { "plms" } },
        { "Euler", { "k_euler" } },
        { "Euler a", { "k_euler_a", "k_euler_ancestral" } },
        { "Heun", { "k_heun" } },
        { "LMS", { "k_lms" } },
        { "DPM2", { "k_dpm_2" } },
        { "DPM2 a", { "k_dpm_2_a" } },
        { "DPM++ 2S a", { "k_dpmpp_2s_a" } },
        { "DPM++ 2M", { "k_dpmpp_2m" } },
        { "DPM++ SDE", { "k_dpmpp_sde" } },
        { "DPM++ 2M SDE", { "k_dpmpp_2m_sde" } },
        { "UniPC", { "unipc" } },
        { "LCM", { "k_lcm", "lcm" } },
    };
    return t;
}

constexpr size_t kScheduleCount = 5;

const std::vector<std::pair<std::string, std::vector<std::string>>>& scheduleAliases()
{
    static const std::vector<std::pair<std::string, std::vector<std::string>>> t {
        { "Automatic", { "automatic" } },
        { "Uniform", { "uniform" } },
        { "Karras", { "karras" } },
        { "Exponential", { "exponential" } },
        { "SGM Uniform", { "sgm_uniform", "SGMUniform" } }, // the schedules we have end here (kScheduleCount)
        // A1111's other schedules: recognised so that a combined name splits, then reported as unsupported by
        // validation
        { "Polyexponential", { "polyexponential" } },
        { "KL Optimal", { "kl_optimal" } },
        { "Align Your Steps", { "align_your_steps" } },
        { "Simple", { "simple" } },
        { "Normal", { "normal" } },
        { "Beta", { "beta" } },
    };
    return t;
}

// Our name for `name` in the table (case-insensitive, aliases included), or empty.
std::string lookup(const std::vector<std::pair<std::string, std::vector<std::string>>>& table, const std::string& name)
{
    const std::string l = lower(name);
    for (const auto& [ours, aliases] : table) {
        if (lower(ours) == l)
            return ours;
        for (const auto& a : aliases)
            if (lower(a) == l)
                return ours;
    }
    return {};
}

} // namespace

std::string canonicalSampler(const std::string& name, std::string* schedule)
{
    const std::string n = trimmed(name);
    if (auto s = lookup(samplerAliases(), n); !s.empty())
        return s;
    // "DPM++ 2M Karras": the longest schedule name (or alias) that ends the name after a space, as A1111 splits it.
    for (const auto& [ours, aliases] : scheduleAliases()) {
        std::vector<std::string> options = aliases;
        options.push_back(ours);
        for (const auto& o : options) {
            if (n.size() <= o.size() + 1 || n[n.size() - o.size() - 1] != ' '
                || lower(n.substr(n.size() - o.size())) != lower(o))
                continue;
            const auto s = lookup(samplerAliases(), trimmed(n.substr(0, n.size() - o.size() - 1)));
            if (s.empty())
                continue;
            if (schedule)
                *schedule = ours;
            return s;
        }
    }
    return name;
}

std::string canonicalSchedule(const std::string& name)
{
    const auto s = lookup(scheduleAliases(), trimmed(name));
    return s.empty() ? name : s;
}

bool samplerUsesAncestralEta(const std::string& sampler)
{
    for (const char* s : { "Euler a", "DPM2 a", "DPM++ 2S a", "DPM++ SDE", "DPM++ 2M SDE" })
        if (sampler == s)
            return true;
    return false;
}

namespace {
std::vector<std::string> aliasesIn(
    const std::vector<std::pair<std::string, std::vector<std::string>>>& table, const std::string& name)
{
    for (const auto& [ours, aliases] : table)
        if (ours == name)
            return aliases;
    return {};
}
} // namespace

std::vector<std::string> samplerAliasNames(const std::string& name) { return aliasesIn(samplerAliases(), name); }
std::vector<std::string> scheduleAliasNames(const std::string& name) { return aliasesIn(scheduleAliases(), name); }

std::vector<std::string> samplerNames()
{
    std::vector<std::string> names;
    for (const auto& [ours, aliases] : samplerAliases())
        names.push_back(ours);
    return names;
}

std::vector<std::string> scheduleNames()
{
    std::vector<std::string> names;
    for (size_t i = 0; i < kScheduleCount; ++i)
        names.push_back(scheduleAliases()[i].first);
    return names;
}

} // namespace ls::pipeline

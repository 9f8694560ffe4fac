#include "pipeline/SamplerNames.h"

#include "pipeline/GenerationRequest.h"
#include "pipeline/Names.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

namespace ls::pipeline {

const std::vector<SamplerSpec>& samplerTable()
{
    // A1111's aliases from sd_samplers_kdiffusion / sd_samplers_timesteps; Karras by default where A1111's sampler
    // entry sets scheduler "karras" (the DPM family and UniPC).
    static const std::vector<SamplerSpec> t {
        { Sampler::Ddim, "DDIM", { "ddim" }, false, false },
        { Sampler::Plms, "PLMS", { "plms" }, false, false },
        { Sampler::Euler, "Euler", { "k_euler" }, false, false },
        { Sampler::EulerA, "Euler a", { "k_euler_a", "k_euler_ancestral" }, true, false },
        { Sampler::Heun, "Heun", { "k_heun" }, false, false },
        { Sampler::Lms, "LMS", { "k_lms" }, false, false },
        { Sampler::Dpm2, "DPM2", { "k_dpm_2" }, false, true },
        { Sampler::Dpm2A, "DPM2 a", { "k_dpm_2_a" }, true, true },
        { Sampler::Dpmpp2SA, "DPM++ 2S a", { "k_dpmpp_2s_a" }, true, true },
        { Sampler::Dpmpp2M, "DPM++ 2M", { "k_dpmpp_2m" }, false, true },
        { Sampler::DpmppSde, "DPM++ SDE", { "k_dpmpp_sde" }, true, true },
        { Sampler::Dpmpp2MSde, "DPM++ 2M SDE", { "k_dpmpp_2m_sde" }, true, true },
        { Sampler::UniPC, "UniPC", { "unipc" }, false, true },
        { Sampler::Lcm, "LCM", { "k_lcm", "lcm" }, false, false },
    };
    return t;
}

const SamplerSpec& samplerSpec(Sampler s)
{
    for (const auto& spec : samplerTable())
        if (spec.id == s)
            return spec;
    return samplerTable().front(); // unreachable: every Sampler has a row
}

namespace {

std::string trimmed(const std::string& s)
{
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos)
        return {};
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// The sampler table as (name, aliases) pairs for the name lookups.
const NameTable& samplerAliases()
{
    static const NameTable t = [] {
        NameTable names;
        for (const auto& s : samplerTable())
            names.emplace_back(s.name, s.aliases);
        return names;
    }();
    return t;
}

constexpr size_t kScheduleCount = 5;

const NameTable& scheduleAliases()
{
    static const NameTable t {
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

} // namespace

std::string canonicalSampler(const std::string& name, std::string* schedule)
{
    const std::string n = trimmed(name);
    if (auto s = lookupName(samplerAliases(), n); !s.empty())
        return s;
    // "DPM++ 2M Karras": the longest schedule name (or alias) that ends the name after a space, as A1111 splits it.
    for (const auto& [ours, aliases] : scheduleAliases()) {
        std::vector<std::string> options = aliases;
        options.push_back(ours);
        for (const auto& o : options) {
            if (n.size() <= o.size() + 1 || n[n.size() - o.size() - 1] != ' '
                || asciiLower(n.substr(n.size() - o.size())) != asciiLower(o))
                continue;
            const auto s = lookupName(samplerAliases(), trimmed(n.substr(0, n.size() - o.size() - 1)));
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
    const auto s = lookupName(scheduleAliases(), trimmed(name));
    return s.empty() ? name : s;
}

bool samplerUsesAncestralEta(const std::string& sampler)
{
    const auto s = findSampler(sampler);
    return s && samplerSpec(*s).ancestralEta;
}

namespace {
std::vector<std::string> aliasesIn(const NameTable& table, const std::string& name)
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

std::optional<Sampler> findSampler(const std::string& name)
{
    const std::string ours = lookupName(samplerAliases(), trimmed(name));
    for (const auto& spec : samplerTable())
        if (spec.name == ours)
            return spec.id;
    return std::nullopt;
}

std::optional<Schedule> findSchedule(const std::string& name)
{
    static const Schedule ids[kScheduleCount]
        = { Schedule::Automatic, Schedule::Uniform, Schedule::Karras, Schedule::Exponential, Schedule::SgmUniform };
    const std::string ours = lookupName(scheduleAliases(), trimmed(name));
    for (size_t i = 0; i < kScheduleCount; ++i)
        if (scheduleAliases()[i].first == ours)
            return ids[i];
    return std::nullopt;
}

const std::string& scheduleName(Schedule s) { return scheduleAliases().at(static_cast<size_t>(s)).first; }

} // namespace ls::pipeline

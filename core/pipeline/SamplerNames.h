#pragma once
// Sampler and schedule names as users, AUTOMATIC1111's infotexts and its API write them, mapped to ours (the A1111
// labels of samplerNames()/scheduleNames()). Torch-free.
#include <optional>
#include <string>
#include <vector>

namespace ls::pipeline {

enum class Sampler {
    Ddim,
    Plms,
    Euler,
    EulerA,
    Heun,
    Lms,
    Dpm2,
    Dpm2A,
    Dpmpp2SA,
    Dpmpp2M,
    DpmppSde,
    Dpmpp2MSde,
    UniPC,
    Lcm
};
enum class Schedule { Automatic, Uniform, Karras, Exponential, SgmUniform };

// The one sampler table: our name (A1111's label), A1111's other names for it, and what the pipeline needs to know of
// it. Validation, the CLI, the app, the server, the infotext and the sampler dispatch all read it.
struct SamplerSpec {
    Sampler id;
    std::string name;
    std::vector<std::string> aliases;
    bool ancestralEta; // takes A1111's "Eta" (the ancestral and SDE samplers)
    bool karrasByDefault; // the "Automatic" schedule means Karras sigmas (as A1111 sets it per sampler)
};
const std::vector<SamplerSpec>& samplerTable();
const SamplerSpec& samplerSpec(Sampler s);
// Our name or one of A1111's, any case; none for a name we do not have.
std::optional<Sampler> findSampler(const std::string& name);
// The schedules we have (A1111's names and aliases, any case); none for others, including A1111 schedules we lack.
std::optional<Schedule> findSchedule(const std::string& name);
const std::string& scheduleName(Schedule s);

// "DPM++ 2M", "dpm++ 2m", "k_dpmpp_2m" -> "DPM++ 2M". A trailing schedule name, as older A1111 versions wrote it
// ("DPM++ 2M Karras", "DPM++ 2M SDE Exponential", "Euler karras"), is split off and returned in *schedule (left alone
// when the name has none). Unknown names come back unchanged, so that validation can name them.
std::string canonicalSampler(const std::string& name, std::string* schedule = nullptr);

// "karras", "Karras", "sgm_uniform", "SGMUniform" -> "Karras", "SGM Uniform"; unknown names unchanged.
std::string canonicalSchedule(const std::string& name);

// A1111's aliases of one of our names ("Euler a" -> k_euler_a, k_euler_ancestral; "Karras" -> karras), as its
// /sdapi/v1/samplers and /schedulers list them.
std::vector<std::string> samplerAliasNames(const std::string& name);
std::vector<std::string> scheduleAliasNames(const std::string& name);
// Whether the sampler takes A1111's "Eta" (the ancestral and SDE samplers).
bool samplerUsesAncestralEta(const std::string& sampler);

} // namespace ls::pipeline

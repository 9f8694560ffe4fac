#include "server/ApiResponse.h"

#include "pipeline/Infotext.h"

#include <ctime>
#include <set>

namespace ls::server {

using nlohmann::json;

std::string jobTimestamp()
{
    const std::time_t now = std::time(nullptr);
    std::tm tm {};
    localtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
    return buf;
}

json processedInfo(const ApiJob& job, const JobOutcome& out, const ModelIdentity& model, const std::string& timestamp)
{
    const auto& r = job.request;
    std::vector<std::string> infotexts;
    for (const auto& m : out.metadata) {
        const auto it = m.find("parameters");
        infotexts.push_back(it == m.end() ? std::string() : it->second);
    }
    // Parameters beyond the fixed fields, as A1111's extra_generation_params (from the first image's infotext).
    json extra = json::object();
    std::string version;
    if (!infotexts.empty()) {
        static const std::set<std::string> fixed { "Steps", "Sampler", "CFG scale", "Seed", "Size", "Model hash",
            "Model", "Denoising strength", "Clip skip", "Version", "Face restoration" };
        for (const auto& [k, v] : pipeline::parseInfotext(infotexts.front()).params) {
            if (k == "Version")
                version = v;
            else if (!fixed.count(k))
                extra[k] = v;
        }
    }
    const size_t n = out.seeds.size();
    std::vector<int64_t> subseeds(n);
    for (size_t i = 0; i < n; ++i)
        subseeds[i] = job.subseed + static_cast<int64_t>(i);
    const bool img2img = r.mode == pipeline::JobMode::Img2Img || r.mode == pipeline::JobMode::Inpaint;
    json dn = nullptr;
    if (img2img)
        dn = r.strength;
    else if (r.hiresEnabled())
        dn = r.hiresStrength;
    return json {
        { "prompt", r.prompt },
        { "all_prompts", std::vector<std::string>(n, r.prompt) },
        { "negative_prompt", r.negativePrompt },
        { "all_negative_prompts", std::vector<std::string>(n, r.negativePrompt) },
        { "seed", n ? out.seeds.front() : r.seed },
        { "all_seeds", out.seeds },
        { "subseed", job.subseed },
        { "all_subseeds", subseeds },
        { "subseed_strength", 0 },
        { "width", r.width },
        { "height", r.height },
        { "sampler_name", r.sampler },
        { "cfg_scale", r.cfgScale },
        { "steps", r.steps },
        { "batch_size", r.batch },
        { "restore_faces", false },
        { "face_restoration_model", nullptr },
        { "sd_model_name", model.name },
        { "sd_model_hash", model.shortHash.empty() ? json(nullptr) : json(model.shortHash) },
        { "sd_vae_name", nullptr },
        { "sd_vae_hash", nullptr },
        { "seed_resize_from_w", -1 },
        { "seed_resize_from_h", -1 },
        { "denoising_strength", dn },
        { "extra_generation_params", extra },
        { "index_of_first_image", 0 },
        { "infotexts", infotexts },
        { "styles", json::array() },
        { "job_timestamp", timestamp },
        { "clip_skip", r.clipSkip },
        { "is_using_inpainting_conditioning", model.inpainting && r.mode == pipeline::JobMode::Inpaint },
        { "version", version },
    };
}

json generationResponse(
    const ApiJob& job, const JobOutcome& out, const ModelIdentity& model, const std::string& timestamp)
{
    json images = json::array();
    if (job.sendImages)
        for (size_t i = 0; i < out.images.size(); ++i)
            images.push_back(encodeApiImage(
                out.images[i], i < out.metadata.size() ? out.metadata[i] : decltype(out.metadata[i]) {}));
    return json { { "images", images }, { "parameters", job.parameters },
        { "info", processedInfo(job, out, model, timestamp).dump() } };
}

} // namespace ls::server

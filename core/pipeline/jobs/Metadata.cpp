#include "pipeline/jobs/Metadata.h"

#include "pipeline/Infotext.h"

#include <nlohmann/json.hpp>

#include <sstream>

namespace ls::pipeline::detail {

using nlohmann::json;

void ResultWriter::add(const Image& img, int64_t seed)
{
    GenerationRequest rec = m_recordAs ? *m_recordAs : m_run;
    rec.seed = seed;
    rec.batch = 1;
    rec.modelName = m_modelName;
    if (!m_recordAs) { // the prompts as written, LoRA tags included
        rec.prompt = m_asWritten.prompt;
        rec.negativePrompt = m_asWritten.negativePrompt;
        rec.loras = m_asWritten.loras;
        for (size_t i = 0; i < rec.boxes.size() && i < m_asWritten.boxes.size(); ++i)
            rec.boxes[i].prompt = m_asWritten.boxes[i].prompt;
    }
    std::map<std::string, std::string> meta;
    std::vector<std::pair<std::string, std::string>> extra;
    json lj = json::array();
    std::string hashes;
    for (size_t i = 0; i < m_loras.size(); ++i) {
        const auto& l = *m_loras[i].lora;
        hashes += (hashes.empty() ? "" : ", ") + withoutListMarks(l.name) + ": " + l.hash;
        lj.push_back({ { "name", l.name }, { "path", l.path }, { "hash", l.hash }, { "te", m_loras[i].textWeight },
            { "unet", m_loras[i].unetWeight }, { "unet_modules", l.unetModules }, { "text_modules", l.textModules } });
    }
    if (!hashes.empty())
        extra.emplace_back("Lora hashes", hashes);
    std::string tiHashes;
    json tj = json::array();
    for (const auto& [name, hash] : m_state.embeddingsUsed) {
        tiHashes += (tiHashes.empty() ? "" : ", ") + withoutListMarks(name) + ": " + hash;
        tj.push_back({ { "name", name }, { "hash", hash } });
    }
    if (!tiHashes.empty())
        extra.emplace_back("TI hashes", tiHashes);
    for (size_t i = 0; i < rec.controls.size(); ++i) { // as sd-webui-controlnet writes its units
        const auto& u = rec.controls[i];
        std::ostringstream v;
        v << "Module: " << u.preprocessor << ", Model: " << std::filesystem::path(u.model).stem().string()
          << ", Weight: " << u.strength << ", Guidance Start: " << u.start << ", Guidance End: " << u.end
          << ", Control Mode: " << (u.guessMode ? "ControlNet is more important" : "Balanced");
        if (u.preprocessor == "canny")
            v << ", Threshold A: " << u.cannyLow << ", Threshold B: " << u.cannyHigh;
        extra.emplace_back("ControlNet " + std::to_string(i), v.str());
    }
    if (!rec.refinerModel.empty()) { // AUTOMATIC1111's "name [hash]"
        const auto& ri = m_state.refinerInfo;
        extra.emplace_back("Refiner", ri.name + (ri.hash.empty() ? "" : " [" + ri.hash + "]"));
        std::ostringstream at;
        at << rec.refinerSwitchAt;
        extra.emplace_back("Refiner switch at", at.str());
    }
    if (!m_state.info.vae.empty()) { // AUTOMATIC1111's names
        if (!m_state.info.vaeHash.empty())
            extra.emplace_back("VAE hash", m_state.info.vaeHash);
        extra.emplace_back("VAE", m_state.info.vae);
    }
    // AUTOMATIC1111 gives the first pass's size for a hires picture
    meta["parameters"] = buildInfotext(rec, seed, m_modelName, m_state.info.hash, m_recordAs ? rec.width : img.width,
        m_recordAs ? rec.height : img.height, extra);
    json j = rec.toJson();
    j["model_hash"] = m_state.info.hash;
    if (!lj.empty())
        j["lora_files"] = lj;
    if (!tj.empty())
        j["embeddings"] = tj;
    if (!m_state.info.vae.empty())
        j["vae"] = { { "name", m_state.info.vae }, { "hash", m_state.info.vaeHash } };
    j["version"] = LS_VERSION;
    meta["latent_studio"] = j.dump();
    m_result.images.push_back(img);
    m_result.seeds.push_back(seed);
    m_result.metadata.push_back(std::move(meta));
}

} // namespace ls::pipeline::detail

#pragma once
// Each finished picture's metadata: AUTOMATIC1111's "parameters" text (prompts as written, LoRA and embedding hashes,
// VAE) and the "latent_studio" JSON that reproduces it.
#include "pipeline/jobs/JobContext.h"

namespace ls::pipeline::detail {

class ResultWriter {
public:
    // asWritten: the request as it came (LoRA tags in its prompts); run: what the job runs (seed chosen, tags out);
    // recordAs: the request the metadata describes when it is another (the hires pass records its text-to-image
    // request).
    ResultWriter(const GeneratorState& state, GenerationResult& result, const GenerationRequest& asWritten,
        const GenerationRequest& run, const GenerationRequest* recordAs, std::vector<models::LoraSet::Use> loras,
        std::string modelName)
        : m_state(state)
        , m_result(result)
        , m_asWritten(asWritten)
        , m_run(run)
        , m_recordAs(recordAs)
        , m_loras(std::move(loras))
        , m_modelName(std::move(modelName))
    {
    }
    // Appends the picture, its seed and its metadata to the result.
    void add(const Image& img, int64_t seed);

private:
    const GeneratorState& m_state;
    GenerationResult& m_result;
    const GenerationRequest& m_asWritten;
    const GenerationRequest& m_run;
    const GenerationRequest* m_recordAs;
    std::vector<models::LoraSet::Use> m_loras;
    std::string m_modelName;
};

} // namespace ls::pipeline::detail

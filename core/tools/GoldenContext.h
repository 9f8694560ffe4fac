#pragma once
// What the golden cases share (core/tools/GoldenCases.cpp, GoldenSdxl.cpp, GoldenControl.cpp): the case being run with
// its inputs and expected outputs, the comparison at the case's tolerance, loading parts of the case's weights,
// trajectories.
#include "tools/GoldenCases.h"

#include "io/SafeTensors.h"
#include "models/LatentModel.h"
#include "sampling/Samplers.h"
#include "util/Error.h"

#include <cmath>
#include <cstdio>
#include <fstream>

namespace ls::tools::golden {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ls::models;

inline at::Device g_device = at::kCPU;
inline fs::path g_vocabulary; // --vocab: the CLIP vocabulary for tokenizer cases

struct Ctx {
    fs::path dir;
    json cj;
    std::unique_ptr<io::SafeTensorsFile> io;
    std::shared_ptr<io::WeightSource> override;
    GoldenResult r;
    double atol = 0, rtol = 0;

    at::Tensor in(const std::string& name)
    {
        const json& inputs = cj["inputs"];
        const std::string key
            = inputs.contains(name) && inputs[name].is_string() ? inputs[name].get<std::string>() : name;
        return io->load(key).clone().to(g_device);
    }
    at::Tensor expected(const std::string& name)
    {
        const json& outputs = cj["outputs"];
        std::string key = name;
        if (outputs.contains(name) && outputs[name].is_string())
            key = outputs[name].get<std::string>();
        return io->load(key).clone();
    }
    std::pair<double, double> tolFor(const std::string& name) const
    {
        const json& t = cj["tolerance"];
        if (t.is_object() && t.contains("per_output") && t["per_output"].contains(name))
            return { t["per_output"][name].value("atol", atol), t["per_output"][name].value("rtol", rtol) };
        return { atol, rtol };
    }
    void check(const std::string& name, const at::Tensor& got0, const at::Tensor& exp0)
    {
        auto [a, rt] = tolFor(name);
        auto got = got0.detach().cpu().to(at::kDouble).contiguous();
        auto exp = exp0.detach().to(at::kDouble).contiguous();
        if (got.sizes() != exp.sizes()) {
            if (got.numel() == exp.numel()) {
                got = got.view(exp.sizes());
            } else {
                r.ok = false;
                r.details.push_back(name + ": shape " + io::shapeToString(got.sizes().vec()) + " != expected "
                    + io::shapeToString(exp.sizes().vec()));
                if (r.message.empty())
                    r.message = name + " has the wrong shape";
                return;
            }
        }
        auto err = (got - exp).abs();
        const double maxErr = err.numel() ? err.max().item<double>() : 0.0;
        auto ratio = at::where(err == 0, at::zeros_like(err), err / (a + rt * exp.abs()));
        double worst = ratio.numel() ? ratio.max().item<double>() : 0.0;
        if (std::isnan(maxErr) || !at::isfinite(got).all().item<bool>())
            worst = INFINITY;
        r.maxErr = std::max(r.maxErr, maxErr);
        char buf[256];
        std::snprintf(buf, sizeof buf, "%s: max_err=%.3g worst=%.3g of tol (atol=%.3g rtol=%.3g)", name.c_str(), maxErr,
            worst, a, rt);
        r.details.push_back(buf);
        if (!(worst <= 1.0)) {
            r.ok = false;
            if (r.message.empty())
                r.message = std::string("out of tolerance: ") + buf;
        }
    }
    void checkOut(const std::string& name, const at::Tensor& got) { check(name, got, expected(name)); }

    fs::path resolve(const std::string& rel) const { return fs::weakly_canonical(dir / rel); }

    std::shared_ptr<io::WeightSource> weights()
    {
        if (override)
            return override;
        if (!cj.contains("weights") || !cj["weights"].is_string())
            fail(ErrorKind::InvalidInput, (dir / "case.json").string() + ": case has no weights");
        return std::make_shared<io::SafeTensorsFile>(resolve(cj["weights"].get<std::string>()));
    }
};

inline at::TensorOptions f32() { return at::TensorOptions().dtype(at::kFloat).device(g_device); }

template <class M> M loadPart(M module, const io::WeightSource& w, const std::string& prefix)
{
    LoadReport rep;
    LoadOptions lo;
    lo.optional = { "embeddings.position_ids" };
    loadModule(*module, w, prefix, rep, lo);
    if (!rep.ok())
        fail(ErrorKind::Mismatch, rep.describe(w.path()));
    return module;
}

// The LDM config of a checkpoint-kind case beside a weights file (the golden tiny checkpoints).
inline json checkpointConfigFor(const fs::path& weightsFile)
{
    const fs::path cj = weightsFile.parent_path() / "case.json";
    if (!fs::exists(cj))
        fail(ErrorKind::InvalidInput, weightsFile.string() + ": no case.json beside it to read the model config from");
    std::ifstream in(cj);
    return json::parse(in)["config"];
}

inline std::shared_ptr<LatentModel> tinyModel(Ctx& c, const std::string& weightsRel, const json& ldmConfig)
{
    std::shared_ptr<io::WeightSource> w = c.override
        ? c.override
        : std::shared_ptr<io::WeightSource>(std::make_shared<io::SafeTensorsFile>(c.resolve(weightsRel)));
    return LatentModel::load(*w, configFromLdmJson(ldmConfig, w.get()), f32());
}

inline sampling::EpsFn cfgEps(
    LatentModel& m, const at::Tensor& cond, const at::Tensor& uncond, double scale, const at::Tensor& concat = {})
{
    return [&m, cond, uncond, scale, concat](const at::Tensor& x, const at::Tensor& t, double) {
        auto xin = at::cat({ x, x });
        if (concat.defined())
            xin = at::cat({ xin, at::cat({ concat, concat }) }, 1);
        auto out = m.unet(xin, at::cat({ t, t }), at::cat({ uncond, cond }));
        auto parts = out.chunk(2);
        return parts[0] + static_cast<float>(scale) * (parts[1] - parts[0]);
    };
}

struct Trajectory {
    std::vector<at::Tensor> latents, x0;
};

inline sampling::StepFn record(Trajectory& tr)
{
    return [&tr](int64_t, int64_t, const at::Tensor& x, const at::Tensor& x0) {
        tr.latents.push_back(x.clone());
        tr.x0.push_back(x0.clone());
        return true;
    };
}

// weights_by_prefix: each file gives only the keys under its own prefix (both files may hold a UNet); an entry that
// names no key prefix ("schedule buffers (betas, ...)") gives its file's top-level keys, which have no '.'.
// skip: a prefix left out (a ControlNet's own file, loaded apart).
inline void addWeightsByPrefix(io::MergedSource& merged, const Ctx& c, const std::string& skip = {})
{
    for (auto& [prefix, file] : c.cj["weights_by_prefix"].items()) {
        if (!skip.empty() && prefix == skip)
            continue;
        auto source = std::make_shared<io::SafeTensorsFile>(c.resolve(file.get<std::string>()));
        const bool keyPrefix = !prefix.empty() && prefix.back() == '.' && prefix.find(' ') == std::string::npos;
        if (keyPrefix)
            merged.add(source, prefix);
        else
            merged.add(source, [](const std::string& key) { return key.find('.') == std::string::npos; });
    }
}

// DDIM from the case's x_T (step_noise[i] at step i when eta > 0), checking the case's latents and pred_x0 after
// every step; returns the final latent.
inline at::Tensor checkedDdim(
    Ctx& c, const sampling::EpsFn& eps, const sampling::DdimParams& p, double eta, const at::Tensor& stepNoise)
{
    Trajectory tr;
    sampling::DdimOptions o;
    o.eta = eta;
    o.noise = [&stepNoise](int64_t i, const at::Tensor&) { return stepNoise[i]; };
    o.onStep = record(tr);
    auto final = sampling::sampleDdim(eps, c.in("x_T"), p, o);
    c.checkOut("latents", at::stack(tr.latents));
    c.checkOut("pred_x0", at::stack(tr.x0));
    return final;
}

} // namespace ls::tools::golden

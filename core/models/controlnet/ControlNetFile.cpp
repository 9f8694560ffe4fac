#include "models/controlnet/ControlNetFile.h"

#include "models/Loader.h"
#include "util/Error.h"

namespace ls::models {

namespace {

std::string familyOfContext(int64_t width)
{
    switch (width) {
    case 768:
        return " (SD 1.x)";
    case 1024:
        return " (SD 2.x)";
    case 2048:
        return " (SDXL)";
    default:
        return "";
    }
}

} // namespace

ControlNetInfo inspectControlNet(const io::WeightSource& w)
{
    ControlNetInfo info;
    if (w.contains("control_model.input_hint_block.0.weight"))
        info.prefix = "control_model.";
    else if (!w.contains("input_hint_block.0.weight")) {
        if (w.contains("controlnet_cond_embedding.conv_in.weight"))
            fail(ErrorKind::Unsupported,
                w.path() + ": a diffusers ControlNetModel file: open its folder (config.json beside the weights)");
        fail(ErrorKind::Format,
            w.path() + ": not a ControlNet (no input_hint_block.0.weight, with or without control_model.)");
    }
    const auto hint = w.info(info.prefix + "input_hint_block.0.weight").shape;
    if (hint.size() != 4)
        fail(ErrorKind::Format, w.path() + ": input_hint_block.0.weight is not a convolution weight");
    info.hintChannels = hint[1];
    info.difference = w.contains("difference");
    return info;
}

ControlNet loadControlNet(
    const io::WeightSource& w, const UNetConfig& base, const at::TensorOptions& options, const UNetModel* baseWeights)
{
    const ControlNetInfo info = inspectControlNet(w);
    const std::string& p = info.prefix;
    // The family checks a user can read, before the key-by-key comparison.
    const std::string k = p + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight";
    if (w.contains(k) && base.contextDim > 0) {
        const auto s = w.info(k).shape;
        if (s.size() == 2 && s[1] != base.contextDim)
            fail(ErrorKind::Mismatch,
                w.path() + ": this ControlNet reads text of width " + std::to_string(s[1]) + familyOfContext(s[1])
                    + ", the model's is " + std::to_string(base.contextDim) + familyOfContext(base.contextDim)
                    + ": it was made for another model family");
    }
    const auto in0 = w.info(p + "input_blocks.0.0.weight").shape;
    if (in0.size() == 4 && (in0[0] != base.modelChannels || in0[1] != base.inChannels))
        fail(ErrorKind::Mismatch,
            w.path() + ": this ControlNet's UNet copy has " + std::to_string(in0[0]) + " channels and "
                + std::to_string(in0[1]) + " inputs; the model's has " + std::to_string(base.modelChannels) + " and "
                + std::to_string(base.inChannels) + ": it was made for another model");
    ControlNet net(base, info.hintChannels, options);
    LoadReport report;
    LoadOptions lo;
    if (p.empty())
        lo.ignore = [](const std::string& key) { return key == "difference"; };
    loadModule(*net, w, p, report, lo);
    if (!report.ok())
        fail(ErrorKind::Mismatch, report.describe(w.path()) + "\n  (a ControlNet for another model?)");
    if (info.difference) {
        if (!baseWeights || !*baseWeights)
            fail(ErrorKind::InvalidInput, w.path() + ": a difference ControlNet needs the base model's UNet");
        // Control keys copied from the UNet are stored as (control - unet): add the base model's weights back.
        auto unetParams = (*baseWeights)->named_parameters(true);
        torch::NoGradGuard ng;
        for (auto& item : net->named_parameters(true)) {
            if (const auto* u = unetParams.find(item.key()))
                item.value().add_(u->to(item.value().scalar_type()));
        }
    }
    return net;
}

} // namespace ls::models

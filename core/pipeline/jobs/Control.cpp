// ControlNets in a job: each unit's file read once, its control image turned into the hint at 8x the latent size
// (the original's convention, whatever the autoencoder's factor), and, at every guided UNet call, the residuals of the
// units acting at that timestep, scaled as the original (strength, or guess mode's 0.825^(12-i) with the negative
// branch uncontrolled) and summed.
#include "pipeline/jobs/Jobs.h"

#include "io/DiffusersFolder.h"
#include "models/controlnet/ControlNetFile.h"
#include "pipeline/ImageOps.h"
#include "pipeline/Preprocess.h"
#include "util/Error.h"

#include <cmath>

namespace ls::pipeline::detail {

namespace {

struct ActiveUnit {
    std::shared_ptr<models::ControlNet> net;
    at::Tensor hint; // [1, C, 8 lh, 8 lw]
    std::vector<double> scales;
    bool guess = false;
    double start = 0, end = 1;
};

std::shared_ptr<models::ControlNet> readControlNet(GeneratorState& d, const std::filesystem::path& path)
{
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
        fail(ErrorKind::Io, path.string() + ": no such ControlNet file");
    return d.controlNets.get(path, [&] {
        std::unique_ptr<io::WeightSource> w;
        if (std::filesystem::is_directory(path))
            w = std::make_unique<io::DiffusersFolder>(path);
        else
            w = io::openWeights(path);
        auto net = models::loadControlNet(*w, d.model->config.unet, d.model->options, &d.model->unet);
        return std::make_shared<models::ControlNet>(net);
    });
}

// The control image as the hint the ControlNet reads: [1, 3, H, W], values in [0, 1] (inpaint: -1 where masked).
at::Tensor hintFor(const ControlUnit& u, int w, int h, const Image* work, const at::Tensor* workMask)
{
    const Image& src = u.image.empty() ? *work : u.image;
    Image img = src.channels == 3 ? src : tensorToImage(imageToTensor(src));
    if (img.width != w || img.height != h)
        img = resizeLanczos(img, w, h);
    auto rgb = at::from_blob(img.pixels.data(), { h, w, 3 }, at::TensorOptions().dtype(at::kByte)).clone();
    if (u.preprocessor == "canny") {
        auto edges = canny(rgb, u.cannyLow, u.cannyHigh);
        return edges.unsqueeze(0).unsqueeze(0).expand({ 1, 3, h, w }).to(at::kFloat) / 255.0f;
    }
    if (u.preprocessor == "inpaint") {
        // Masked pixels at exactly -1 (the job's own mask, already blurred and grown as the job uses it).
        auto mask = (workMask->view({ h, w }) > 0.5f);
        auto x = rgb.permute({ 2, 0, 1 }).unsqueeze(0).to(at::kFloat) / 255.0f;
        return at::where(mask.view({ 1, 1, h, w }).expand_as(x), at::full_like(x, -1.0f), x);
    }
    auto x = rgb.permute({ 2, 0, 1 }).unsqueeze(0).to(at::kFloat) / 255.0f;
    return u.preprocessor == "invert" ? 1.0f - x : x;
}

} // namespace

void attachControls(GeneratorState& d, const GenerationRequest& r, JobCondition& c, int64_t lh, int64_t lw,
    const Image* work, const at::Tensor* workMask)
{
    if (r.controls.empty())
        return;
    std::vector<ActiveUnit> units;
    const int hw = static_cast<int>(8 * lw), hh = static_cast<int>(8 * lh);
    for (const auto& u : r.controls) {
        ActiveUnit a;
        a.net = readControlNet(d, u.model);
        if ((u.preprocessor == "inpaint" || u.preprocessor == "tile") && u.image.empty() && !work)
            fail(ErrorKind::InvalidInput,
                "control '" + u.model + "': the " + u.preprocessor + " preprocessor needs the job's input");
        at::Tensor mask;
        if (u.preprocessor == "inpaint") {
            if (!workMask)
                fail(ErrorKind::InvalidInput,
                    "control '" + u.model + "': the inpaint preprocessor needs the job's mask");
            mask = at::upsample_nearest2d(*workMask, { hh, hw });
        }
        a.hint = hintFor(u, hw, hh, work, mask.defined() ? &mask : nullptr); // resized to the hint's size there
        if (a.hint.size(1) != (*a.net)->hintChannels)
            a.hint = a.hint.narrow(1, 0, 1).expand({ 1, (*a.net)->hintChannels, hh, hw }).contiguous();
        a.scales = models::controlScales((*a.net)->inputChannels.size() + 1, u.strength, u.guessMode);
        a.guess = u.guessMode;
        a.start = u.start;
        a.end = u.end;
        units.push_back(std::move(a));
    }
    const double last = static_cast<double>(d.model->schedule.size() - 1);
    const int64_t latentC = d.model->config.unet.outChannels;
    c.control = [units, last, latentC](const at::Tensor& xin, const at::Tensor& t, const at::Tensor& ctx,
                    const at::Tensor& y, int64_t uncondRows, double timestep) {
        // Where sampling is, as a share of the way: (T-1 - t) / T, the refiner's measure.
        const double done = (last - std::round(timestep)) / (last + 1);
        std::vector<at::Tensor> sum;
        for (const auto& u : units) {
            if (done < u.start || done > u.end)
                continue;
            auto& net = *u.net;
            const auto dev = net->time_embed_0->weight.device();
            auto x = xin.narrow(1, 0, std::min<int64_t>(latentC, net->config.inChannels)).to(dev);
            auto hint = u.hint.to(dev).expand({ x.size(0), -1, -1, -1 });
            auto res = net->residuals(x, hint, t.to(dev), ctx.to(dev), y.defined() ? y.to(dev) : y);
            res.resize(u.scales.size()); // zip(control, control_scales)
            for (size_t i = 0; i < res.size(); ++i) {
                res[i] = res[i] * u.scales[i];
                if (u.guess && uncondRows > 0)
                    res[i].narrow(0, 0, uncondRows).zero_();
            }
            if (sum.empty())
                sum = std::move(res);
            else
                for (size_t i = 0; i < sum.size() && i < res.size(); ++i)
                    sum[i] = sum[i] + res[i];
        }
        return sum;
    };
}

} // namespace ls::pipeline::detail

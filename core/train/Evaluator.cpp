#include "train/Evaluator.h"

#include "io/ImageFile.h"
#include "pipeline/Generator.h"
#include "pipeline/ImageOps.h"
#include "pipeline/ModelLoading.h"
#include "train/SyntheticWorld.h"
#include "util/Error.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>
#include <fstream>

namespace ls::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool matches(const Detection& d, const WorldObject& o, bool checkCell)
{
    return d.color == o.color && d.shape == o.shape && (!checkCell || d.cell == o.cell);
}

double psnr(const at::Tensor& a, const at::Tensor& b) // images in [0, 255]
{
    const double mse = (a - b).pow(2).mean().item<double>();
    return mse <= 0 ? 99.0 : 10.0 * std::log10(255.0 * 255.0 / mse);
}

std::string describe(const std::vector<Detection>& dets)
{
    std::string s;
    for (const auto& d : dets) {
        if (!s.empty())
            s += "; ";
        if (d.color < 0 || d.shape < 0 || d.size < 0 || d.cell < 0) {
            s += "unrecognised blob";
            continue;
        }
        s += std::string(kSizeNames[d.size]) + " " + kColorNames[d.color] + " " + kShapeNames[d.shape] + " "
            + kCellPhrases[d.cell];
    }
    return s.empty() ? "nothing" : s;
}

at::Tensor pixels(const Image& img)
{
    return at::from_blob(const_cast<uint8_t*>(img.pixels.data()), { img.height, img.width, img.channels }, at::kByte)
        .to(at::kFloat);
}

} // namespace

namespace {

// One evaluation: the model and its generator, the base request, and where the pictures are dumped.
struct EvalRun {
    EvalRun(const EvalOptions& options, pipeline::LoadedModel model)
        : o(options)
        , lm(std::move(model))
        , gen(lm.model, lm.tokenizer, lm.info)
    {
    }
    const EvalOptions& o;
    pipeline::LoadedModel lm;
    pipeline::Generator gen;
    StopToken stop;
    std::ofstream index;
    pipeline::GenerationRequest base;
    int done = 0;
    // The picture into the dump folder, with the request and what the detector saw in its index.
    void dump(const std::string& name, const Image& img, const std::string& what = {})
    {
        if (o.dumpDir.empty())
            return;
        io::writeImage(o.dumpDir / name, img);
        index << name << "\t" << what << "\t" << describe(detect(img)) << "\n";
    }
    Image picture(const pipeline::GenerationRequest& r) { return gen.run(r, {}, stop).images.at(0); }
    void progress()
    {
        ++done;
        if (o.onProgress)
            o.onProgress(done, o.n);
    }
};

// The first stage alone: held-out scenes encoded and decoded; every object must survive the round trip.
json evalAutoencoder(EvalRun& e)
{
    const EvalOptions& o = e.o;
    auto& lm = e.lm;
    json metrics;
    // The first stage alone: encode and decode held-out scenes; every object must survive the round trip.
    int found = 0, objects = 0;
    double p = 0;
    for (int i = 0; i < o.n; ++i) {
        Scene s = makeScene(Split::HeldOut, o.seed * 100003 + 31 + static_cast<uint64_t>(i), 1, 3);
        Image img = render(s);
        Image rec
            = pipeline::tensorToImage(lm.model->decodeLatent(lm.model->encodeImage(pipeline::imageToTensor(img))));
        e.dump("autoencoder-" + std::to_string(i) + ".png", rec);
        auto dets = detect(rec);
        for (const auto& obj : s.objects) {
            ++objects;
            found += std::any_of(dets.begin(), dets.end(),
                [&](const Detection& d) { return matches(d, obj, true) && d.size == obj.size; });
        }
        p += psnr(pixels(rec), pixels(img));
        e.progress();
    }
    metrics["object_accuracy"] = objects ? found / double(objects) : 0.0;
    metrics["psnr_db"] = p / o.n;
    return metrics;
}

// Text-to-image from captions, every asked object scored.
json evalTxt2Img(EvalRun& e)
{
    const EvalOptions& o = e.o;
    const pipeline::GenerationRequest& base = e.base;
    json metrics;
    // Generates from a scene's caption and scores each asked object: all attributes, and partial credit to see
    // which one fails (colour; colour and shape, any place; colour and grid cell, any shape: chance about 1/9 when
    // positions are not grounded).
    struct Tally {
        int objects = 0, all = 0, color = 0, colorShape = 0, colorCell = 0;
    };
    auto generate = [&](const Scene& s, int i, const std::string& name) {
        auto r = base;
        r.prompt = s.caption();
        r.seed = static_cast<int64_t>(o.seed * 1000 + i);
        Image img = e.picture(r);
        e.dump(name + "-" + std::to_string(i) + ".png", img, r.prompt);
        return detect(img);
    };
    auto score = [](const std::vector<Detection>& dets, const WorldObject& obj, Tally& t) {
        auto any
            = [&](const std::function<bool(const Detection&)>& f) { return std::any_of(dets.begin(), dets.end(), f); };
        const bool all = any([&](const Detection& d) { return matches(d, obj, true); });
        ++t.objects;
        t.all += all;
        t.color += any([&](const Detection& d) { return d.color == obj.color; });
        t.colorShape += any([&](const Detection& d) { return matches(d, obj, false); });
        t.colorCell += any([&](const Detection& d) { return d.color == obj.color && d.cell == obj.cell; });
        return all;
    };
    auto partial = [&](const Tally& t) {
        metrics["color_accuracy"] = t.objects ? t.color / double(t.objects) : 0.0;
        metrics["color_shape_accuracy"] = t.objects ? t.colorShape / double(t.objects) : 0.0;
        metrics["color_position_accuracy"] = t.objects ? t.colorCell / double(t.objects) : 0.0;
    };
    if (o.split == "train") {
        Tally t;
        for (int i = 0; i < o.n; ++i) {
            const Scene s = makeScene(Split::Train, static_cast<uint64_t>(i));
            const auto dets = generate(s, i, "train");
            for (const auto& obj : s.objects)
                score(dets, obj, t);
            e.progress();
        }
        metrics["objects"] = t.objects;
        metrics["object_accuracy"] = t.objects ? t.all / double(t.objects) : 0.0;
        partial(t);
    } else {
        int one = 0, two = 0, twoN = 0;
        Tally single, pairs; // partial credit is reported on one-object captions
        for (int i = 0; i < o.n; ++i) {
            const int objects = i % 2 == 0 ? 1 : 2;
            const Scene s = makeScene(Split::HeldOut, o.seed * 100003 + static_cast<uint64_t>(i), objects, objects);
            const auto dets = generate(s, i, "txt2img");
            int found = 0;
            for (const auto& obj : s.objects)
                found += score(dets, obj, objects == 1 ? single : pairs);
            if (objects == 1) {
                one += found == 1;
            } else {
                ++twoN;
                two += found == 2;
            }
            e.progress();
        }
        metrics["one_object_accuracy"] = single.objects ? one / double(single.objects) : 0.0;
        metrics["two_object_accuracy"] = twoN ? two / double(twoN) : 0.0;
        partial(single);
    }
    return metrics;
}

// Layout-to-image: each box's object found in its box (IoU >= 0.5).
json evalLayout(EvalRun& e)
{
    const EvalOptions& o = e.o;
    const pipeline::GenerationRequest& base = e.base;
    json metrics;
    int ok = 0, boxes = 0;
    for (int i = 0; i < o.n; ++i) {
        Scene s = makeScene(Split::HeldOut, o.seed * 100003 + 77 + static_cast<uint64_t>(i), 1, 3);
        auto r = base;
        r.mode = pipeline::JobMode::Layout;
        r.seed = static_cast<int64_t>(o.seed * 1000 + i);
        for (const auto& obj : s.objects) {
            auto b = obj.box();
            r.boxes.push_back(
                { double(b[0]), double(b[1]), double(b[2] - b[0]), double(b[3] - b[1]), "", obj.label() });
        }
        Image img = e.picture(r);
        e.dump("layout-" + std::to_string(i) + ".png", img, s.caption());
        auto dets = detect(img);
        for (const auto& obj : s.objects) {
            ++boxes;
            ok += std::any_of(dets.begin(), dets.end(),
                [&](const Detection& d) { return matches(d, obj, false) && iou(d.box, obj.box()) >= 0.5; });
        }
        e.progress();
    }
    metrics["box_accuracy"] = boxes ? ok / double(boxes) : 0.0;
    metrics["boxes"] = boxes;
    return metrics;
}

// Inpainting an object into a scene; the rest of the picture must stay as it was.
json evalInpaint(EvalRun& e)
{
    const EvalOptions& o = e.o;
    const pipeline::GenerationRequest& base = e.base;
    json metrics;
    int ok = 0;
    double unchanged = 0;
    for (int i = 0; i < o.n; ++i) {
        Scene s = makeScene(Split::HeldOut, o.seed * 100003 + 555 + static_cast<uint64_t>(i), 2, 3);
        const WorldObject target = s.objects.back();
        Scene without = s;
        without.objects.pop_back();
        auto r = base;
        r.mode = pipeline::JobMode::Inpaint;
        r.strength = 1.0;
        r.seed = static_cast<int64_t>(o.seed * 1000 + i);
        r.prompt = target.phrase();
        r.initImage = render(without);
        r.mask = Image(kWorldSize, kWorldSize, 1, 0);
        auto b = target.box();
        const int g = 3;
        for (int y = std::max(0, b[1] - g); y < std::min(kWorldSize, b[3] + g); ++y)
            for (int x = std::max(0, b[0] - g); x < std::min(kWorldSize, b[2] + g); ++x)
                *r.mask.at(x, y) = 255;
        Image img = e.picture(r);
        e.dump("inpaint-" + std::to_string(i) + ".png", img, r.prompt);
        auto dets = detect(img);
        ok += std::any_of(dets.begin(), dets.end(), [&](const Detection& d) {
            if (!matches(d, target, false))
                return false;
            const int cx = (d.box[0] + d.box[2]) / 2, cy = (d.box[1] + d.box[3]) / 2;
            return *r.mask.at(std::clamp(cx, 0, kWorldSize - 1), std::clamp(cy, 0, kWorldSize - 1)) == 255;
        });
        // Outside the feathered mask every pixel must equal the input.
        auto feather
            = pipeline::blurMask((pipeline::maskToTensor(r.mask) >= 0.5).to(at::kFloat), r.maskBlur).contiguous();
        const float* fp = feather.data_ptr<float>();
        int outside = 0, same = 0;
        for (int p = 0; p < kWorldSize * kWorldSize; ++p) {
            if (fp[p] > 0)
                continue;
            ++outside;
            same += std::memcmp(img.pixels.data() + p * 3, r.initImage.pixels.data() + p * 3, 3) == 0;
        }
        unchanged += outside ? same / double(outside) : 1.0;
        e.progress();
    }
    metrics["inpaint_accuracy"] = ok / double(o.n);
    metrics["outside_unchanged"] = unchanged / o.n;
    return metrics;
}

// 4x upscaling of a scene downsampled 4x, against bicubic.
json evalUpscale(EvalRun& e)
{
    const EvalOptions& o = e.o;
    const pipeline::GenerationRequest& base = e.base;
    json metrics;
    double p = 0, pb = 0;
    for (int i = 0; i < o.n; ++i) {
        Scene s = makeScene(Split::HeldOut, o.seed * 100003 + 999 + static_cast<uint64_t>(i), 1, 3);
        Image hr = render(s);
        auto hrT = pipeline::imageToTensor(hr);
        Image lr = pipeline::tensorToImage(at::avg_pool2d(hrT, { 4, 4 }));
        auto r = base;
        r.mode = pipeline::JobMode::Upscale;
        r.strength = o.strength;
        r.seed = static_cast<int64_t>(o.seed * 1000 + i);
        r.initImage = lr;
        Image out = e.picture(r);
        e.dump("upscale-" + std::to_string(i) + ".png", out, s.caption());
        e.dump("upscale-" + std::to_string(i) + "-truth.png", hr, "ground truth");
        auto bic = at::upsample_bicubic2d(pipeline::imageToTensor(lr), { kWorldSize, kWorldSize }, false);
        Image bicImg = pipeline::tensorToImage(bic);
        p += psnr(pixels(out), pixels(hr));
        pb += psnr(pixels(bicImg), pixels(hr));
        e.progress();
    }
    metrics["psnr_db"] = p / o.n;
    metrics["bicubic_psnr_db"] = pb / o.n;
    return metrics;
}

} // namespace

json runEvaluation(const EvalOptions& o)
{
    torch::NoGradGuard ng;
    const bool up = o.task == "upscale";
    if (o.task != "txt2img" && o.task != "layout" && o.task != "inpaint" && o.task != "autoencoder" && !up)
        fail(ErrorKind::InvalidInput, "eval: --task must be txt2img, layout, inpaint, upscale or autoencoder");
    if (o.n <= 0)
        fail(ErrorKind::InvalidInput, "eval: --n must be positive");
    if (o.split != "heldout" && o.split != "train")
        fail(ErrorKind::InvalidInput, "eval: --split must be heldout or train, got '" + o.split + "'");
    if (o.split == "train" && o.task != "txt2img")
        fail(ErrorKind::InvalidInput, "eval: --split train is for --task txt2img only");
    const fs::path modelPath = o.model.empty() ? pipeline::findBundledModel(up ? "default-sr" : "default") : o.model;
    pipeline::ModelLoadOptions lo;
    lo.hash = false;
    EvalRun e(o, pipeline::loadModel(modelPath, lo));
    if (!o.dumpDir.empty()) {
        fs::create_directories(o.dumpDir);
        e.index.open(o.dumpDir / (o.task + ".txt"));
    }
    pipeline::GenerationRequest& base = e.base;
    base.width = kWorldSize;
    base.height = kWorldSize;
    base.steps = o.steps;
    base.sampler = up ? "DDIM" : o.sampler; // upscaling: DDIM from the re-noised bicubic start
    base.cfgScale = o.cfg >= 0 ? o.cfg : (o.task == "inpaint" ? 2.0 : 5.0);
    base.captionLayout = !o.noCaptionLayout;
    const json metrics = o.task == "autoencoder" ? evalAutoencoder(e)
        : o.task == "txt2img"                    ? evalTxt2Img(e)
        : o.task == "layout"                     ? evalLayout(e)
        : o.task == "inpaint"                    ? evalInpaint(e)
                                                 : evalUpscale(e);
    json out = { { "task", o.task }, { "split", o.split }, { "n", o.n }, { "seed", o.seed },
        { "model", modelPath.string() }, { "caption_layout", base.captionLayout }, { "sampler", base.sampler },
        { "steps", base.steps }, { "cfg", base.cfgScale }, { "metrics", metrics } };
    if (up)
        out["strength"] = o.strength;
    return out;
}

} // namespace ls::train

// Every sampler, run on the ideal denoiser of Gaussian data (known in closed form), must land on the data
// distribution: the check for samplers without golden reference trajectories.
#include "pipeline/GenerationRequest.h"
#include "pipeline/Sampling.h"
#include "sampling/Schedule.h"

#include <QtTest/QtTest>

#include <cmath>

using namespace ls;

namespace {
constexpr double kMu = 0.5;
constexpr double kStd = 1.0; // SD latents are scaled to about unit variance

// E[eps | x_t] for x0 ~ N(mu, s^2): sqrt(1-a) (x_t - sqrt(a) mu) / (a s^2 + 1 - a).
sampling::EpsFn idealEps()
{
    return [](const at::Tensor& x, const at::Tensor&, double a) {
        return static_cast<float>(std::sqrt(1 - a)) * (x - static_cast<float>(std::sqrt(a) * kMu))
            / static_cast<float>(a * kStd * kStd + 1 - a);
    };
}

// LCM expects a consistency model: one that maps x_t straight to the end of its ODE trajectory. For Gaussian data
// that map is known too: x0 = mu + (x - mu) s / sqrt(s^2 + sigma^2) (x = x0 + sigma n in k-diffusion terms).
sampling::EpsFn consistencyEps()
{
    return [](const at::Tensor& xIn, const at::Tensor&, double a) {
        const double sigma = std::sqrt((1 - a) / a);
        auto x = xIn / static_cast<float>(std::sqrt(a));
        auto x0 = kMu + (x - kMu) * static_cast<float>(kStd / std::sqrt(kStd * kStd + sigma * sigma));
        return (x - x0) / static_cast<float>(sigma);
    };
}
} // namespace

class TestSamplersAnalytic : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void landsOnTheDataDistribution_data()
    {
        QTest::addColumn<QString>("sampler");
        QTest::addColumn<QString>("schedule");
        QTest::addColumn<int>("steps");
        for (const auto& s : pipeline::samplerNames())
            QTest::newRow(s.c_str()) << QString::fromStdString(s) << "Automatic" << (s == "LCM" ? 4 : 50);
        for (const char* sch : { "Uniform", "Karras", "Exponential", "SGM Uniform" })
            QTest::newRow((std::string("Euler/") + sch).c_str()) << "Euler" << sch << 50;
        QTest::newRow("DPM++ 2M/Karras/10") << "DPM++ 2M"
                                            << "Karras" << 10;
        QTest::newRow("UniPC/10") << "UniPC"
                                  << "Automatic" << 10;
        QTest::newRow("DDIM/30 steps (1000 % 30 != 0)") << "DDIM"
                                                        << "Automatic" << 30;
    }
    void landsOnTheDataDistribution()
    {
        QFETCH(QString, sampler);
        QFETCH(QString, schedule);
        QFETCH(int, steps);
        auto sched = sampling::BetaSchedule::linear(0.00085, 0.012, 1000);
        auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
        auto noise = at::randn({ 1, 1, 64, 64 }, gen, at::TensorOptions().dtype(at::kFloat));
        sampling::NoiseFn stepNoise
            = [&](int64_t, const at::Tensor& like) { return at::randn(like.sizes(), gen, like.options()); };
        auto plan = pipeline::SamplingPlan::named(
            sampler.toStdString(), schedule.toStdString(), steps, sampler == "DDIM" ? 1.0 : 0.0);
        int reported = 0;
        auto x = pipeline::runSampling(plan, sched, sampler == "LCM" ? consistencyEps() : idealEps(), noise, stepNoise,
            std::nullopt, std::nullopt, [&](int64_t, int64_t, const at::Tensor&, const at::Tensor&) {
                ++reported;
                return true;
            });
        const double mean = x.mean().item<double>();
        const double sd = x.std().item<double>();
        QVERIFY2(std::abs(mean - kMu) < 0.03, qPrintable(QString("mean %1").arg(mean)));
        QVERIFY2(std::abs(sd - kStd) < 0.1 * kStd, qPrintable(QString("std %1").arg(sd)));
        QCOMPARE(reported, steps);
    }

    void zeroTerminalSnrSchedule()
    {
        auto lin = sampling::BetaSchedule::linear(0.00085, 0.012, 1000);
        auto z = sampling::BetaSchedule::rescaledZeroTerminalSnr(lin);
        QVERIFY(!lin.zeroTerminal());
        QVERIFY(z.zeroTerminal());
        QCOMPARE(z.alphasCumprod[-1].item<float>(), float(sampling::BetaSchedule::kTerminalAlphaCumprod));
        QVERIFY(std::abs(z.alphasCumprod[0].item<double>() - lin.alphasCumprod[0].item<double>()) < 1e-7);
        // Lin et al. Algorithm 1: sqrt(acp) shifted to end at 0 and scaled to keep the first value.
        const double s0 = std::sqrt(lin.alphasCumprod64[0].item<double>()),
                     sT = std::sqrt(lin.alphasCumprod64[-1].item<double>());
        for (int t : { 1, 250, 500, 900, 998 }) {
            const double want = std::pow((std::sqrt(lin.alphasCumprod64[t].item<double>()) - sT) * s0 / (s0 - sT), 2);
            QVERIFY2(std::abs(z.alphasCumprod[t].item<double>() - want) < 1e-6 * std::max(1.0, want * 10),
                qPrintable(QString::number(t)));
        }
        QVERIFY(at::all(z.alphasCumprod.diff() < 0).item<bool>());
        QVERIFY(at::all(z.betas > 0).item<bool>() && at::all(z.betas <= 1).item<bool>());
        auto tr = sampling::trailingTimesteps(20, 1000);
        QCOMPARE(tr.size(), size_t(20));
        QCOMPARE(tr.front(), int64_t(49));
        QCOMPARE(tr.back(), int64_t(999));
    }

    // With zero terminal SNR the start is exactly the model's terminal state, so even data far from zero mean comes out
    // right; the sampling must start at t = T-1 and, with "Automatic", spread its steps uniformly in t (not Karras,
    // which would spend most of them at sigma in the thousands).
    void zeroTerminalSnrSamplingLandsOnTheData()
    {
        auto sched
            = sampling::BetaSchedule::rescaledZeroTerminalSnr(sampling::BetaSchedule::linear(0.00085, 0.012, 1000));
        for (const char* s : { "DDIM", "Euler", "Euler a", "DPM++ 2M", "DPM++ 2M SDE", "UniPC" }) {
            auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
            auto noise = at::randn({ 1, 1, 64, 64 }, gen, at::TensorOptions().dtype(at::kFloat));
            sampling::NoiseFn stepNoise
                = [&](int64_t, const at::Tensor& like) { return at::randn(like.sizes(), gen, like.options()); };
            std::vector<double> acps;
            auto eps = idealEps();
            sampling::EpsFn recording = [&](const at::Tensor& x, const at::Tensor& t, double a) {
                acps.push_back(a);
                return eps(x, t, a);
            };
            auto plan = pipeline::SamplingPlan::named(s, "Automatic", 50, 0.0);
            auto x = pipeline::runSampling(plan, sched, recording, noise, stepNoise, std::nullopt, std::nullopt, {});
            QVERIFY2(acps.size() >= 2, s);
            QVERIFY2(acps[0] < 1e-6, qPrintable(QString("%1: first acp %2").arg(s).arg(acps[0]))); // starts at t = T-1
            // Uniform in t puts the second step at t = 979 (acp 1.2e-5); Karras would put it at sigma ~ 3500 (acp
            // 8e-8).
            QVERIFY2(acps[1] > 1e-6, qPrintable(QString("%1: second acp %2").arg(s).arg(acps[1])));
            const double mean = x.mean().item<double>(), sd = x.std().item<double>();
            QVERIFY2(std::abs(mean - kMu) < 0.05, qPrintable(QString("%1: mean %2").arg(s).arg(mean)));
            QVERIFY2(std::abs(sd - kStd) < 0.1 * kStd, qPrintable(QString("%1: std %2").arg(s).arg(sd)));
        }
    }

    void img2imgStrengthControlsTheChange()
    {
        auto sched = sampling::BetaSchedule::linear(0.00085, 0.012, 1000);
        for (const char* s : { "DDIM", "Euler", "DPM++ 2M" }) {
            auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
            auto init = kMu
                + kStd
                    * at::randn({ 1, 1, 32, 32 }, gen, at::TensorOptions().dtype(at::kFloat)); // a sample of the data
            auto noise = at::randn({ 1, 1, 32, 32 }, gen, at::TensorOptions().dtype(at::kFloat));
            sampling::NoiseFn stepNoise
                = [&](int64_t, const at::Tensor& like) { return at::randn(like.sizes(), gen, like.options()); };
            std::vector<double> change;
            for (double strength : { 0.1, 0.5, 0.9 }) {
                auto plan = pipeline::SamplingPlan::named(s, "Automatic", 20, 0.0);
                auto x = pipeline::runSampling(plan, sched, idealEps(), noise, stepNoise,
                    pipeline::LatentStart { init, strength }, std::nullopt, {});
                change.push_back((x - init).abs().mean().item<double>());
            }
            QVERIFY2(change[0] < change[1] && change[1] < change[2], s);
            QVERIFY2(change[0] < 0.35 * kStd, s);
        }
    }

    void latentBlendKeepsTheUnmaskedPart()
    {
        auto sched = sampling::BetaSchedule::linear(0.00085, 0.012, 1000);
        auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
        auto noise = at::randn({ 1, 1, 16, 16 }, gen, at::TensorOptions().dtype(at::kFloat));
        auto init = at::full({ 1, 1, 16, 16 }, -2.0f);
        auto mask = at::zeros({ 1, 1, 16, 16 });
        mask.narrow(3, 0, 8).fill_(1.0);
        sampling::NoiseFn stepNoise
            = [&](int64_t, const at::Tensor& like) { return at::randn(like.sizes(), gen, like.options()); };
        for (const char* s : { "DDIM", "Euler a", "DPM++ 2M" }) {
            auto plan = pipeline::SamplingPlan::named(s, "Automatic", 20, 0.0);
            auto x = pipeline::runSampling(
                plan, sched, idealEps(), noise, stepNoise, std::nullopt, pipeline::LatentBlend { init, mask }, {});
            QVERIFY2(at::equal(x.narrow(3, 8, 8), init.narrow(3, 8, 8)), s);
            QVERIFY2(std::abs(x.narrow(3, 0, 8).mean().item<double>() - kMu) < 0.15, s);
        }
    }
};

QTEST_GUILESS_MAIN(TestSamplersAnalytic)
#include "tst_samplers_analytic.moc"

#include "sampling/Samplers.h"

#include "util/Error.h"

#include <cmath>
#include <deque>

namespace ls::sampling {

namespace {

at::Tensor fullT(const at::Tensor& like, double t)
{
    return at::full({ like.size(0) }, t, like.options().dtype(at::kLong));
}

struct DdimStep {
    at::Tensor xPrev, predX0;
};

DdimStep ddimStep(const at::Tensor& x, const at::Tensor& e, const DdimParams& p, int64_t index, const at::Tensor& noise)
{
    // Scalars are float32 in the reference (torch.full of the buffers).
    const float a = static_cast<float>(p.alphas[index]);
    const float ap = static_cast<float>(p.alphasPrev[index]);
    const float sigma = static_cast<float>(p.sigmas[index]);
    const float sq = static_cast<float>(p.sqrtOneMinusAlphas[index]);
    auto predX0 = (x - sq * e) / std::sqrt(a);
    auto dir = std::sqrt(1.0f - ap - sigma * sigma) * e;
    auto xPrev = std::sqrt(ap) * predX0 + dir;
    if (sigma != 0.0f && noise.defined())
        xPrev = xPrev + sigma * noise;
    return { xPrev, predX0 };
}

} // namespace

at::Tensor sampleDdim(const EpsFn& eps, at::Tensor x, const DdimParams& p, const DdimOptions& o)
{
    const int64_t n = static_cast<int64_t>(p.timesteps.size());
    for (int64_t i = 0; i < n; ++i) {
        const int64_t index = n - 1 - i;
        const int64_t t = p.timesteps[index];
        if (o.preStep)
            x = o.preStep(i, t, x);
        auto e = eps(x, fullT(x, static_cast<double>(t)), p.alphas[index]);
        at::Tensor noise;
        if (p.sigmas[index] != 0.0) {
            if (!o.noise)
                fail(ErrorKind::InvalidInput, "DDIM with eta > 0 needs a noise source");
            noise = o.noise(i, x);
        }
        auto step = ddimStep(x, e, p, index, noise);
        x = step.xPrev;
        if (o.onStep && !o.onStep(i, n, x, step.predX0))
            break;
    }
    return x;
}

at::Tensor samplePlms(const EpsFn& eps, at::Tensor x, const DdimParams& p, const DdimOptions& o)
{
    for (double s : p.sigmas)
        if (s != 0.0)
            fail(ErrorKind::InvalidInput, "PLMS needs eta = 0");
    const int64_t n = static_cast<int64_t>(p.timesteps.size());
    std::deque<at::Tensor> old;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t index = n - 1 - i;
        const int64_t t = p.timesteps[index];
        const int64_t nextIndex = std::max<int64_t>(index - 1, 0);
        const int64_t tNext = p.timesteps[nextIndex];
        if (o.preStep)
            x = o.preStep(i, t, x);
        auto e = eps(x, fullT(x, static_cast<double>(t)), p.alphas[index]);
        at::Tensor ePrime;
        if (old.empty()) {
            auto first = ddimStep(x, e, p, index, {});
            auto eNext = eps(first.xPrev, fullT(x, static_cast<double>(tNext)), p.alphas[nextIndex]);
            ePrime = (e + eNext) / 2;
        } else if (old.size() == 1) {
            ePrime = (3 * e - old[old.size() - 1]) / 2;
        } else if (old.size() == 2) {
            ePrime = (23 * e - 16 * old[old.size() - 1] + 5 * old[old.size() - 2]) / 12;
        } else {
            ePrime = (55 * e - 59 * old[old.size() - 1] + 37 * old[old.size() - 2] - 9 * old[old.size() - 3]) / 24;
        }
        auto step = ddimStep(x, ePrime, p, index, {});
        old.push_back(e);
        if (old.size() >= 4)
            old.pop_front();
        x = step.xPrev;
        if (o.onStep && !o.onStep(i, n, x, step.predX0))
            break;
    }
    return x;
}

at::Tensor KDenoiser::operator()(const at::Tensor& x, double sigma) const
{
    if (m_discrete) {
        const int64_t idx = m_discrete->quantize(sigma);
        const double q = m_discrete->sigmas()[idx].item<double>();
        auto t = at::full({ x.size(0) }, static_cast<double>(idx), x.options().dtype(at::kFloat));
        const auto cIn = static_cast<float>(1.0 / std::sqrt(q * q + 1.0));
        auto e = m_eps(x * cIn, t, 1.0 / (q * q + 1.0));
        return x + e * static_cast<float>(-q);
    }
    auto s = at::full({ x.size(0) }, sigma, x.options().dtype(at::kFloat));
    auto t = m_schedule.sigmaToT(s);
    const double cIn = 1.0 / std::sqrt(sigma * sigma + 1.0);
    auto e = m_eps(x * static_cast<float>(cIn), t, 1.0 / (sigma * sigma + 1.0));
    return x + e * static_cast<float>(-sigma);
}

namespace {

std::pair<double, double> ancestralStep(double from, double to, double eta)
{
    if (eta == 0.0)
        return { to, 0.0 };
    const double up = std::min(to, eta * std::sqrt(to * to * (from * from - to * to) / (from * from)));
    const double down = std::sqrt(to * to - up * up);
    return { down, up };
}

at::Tensor toD(const at::Tensor& x, double sigma, const at::Tensor& denoised)
{
    return (x - denoised) / static_cast<float>(sigma);
}

double lmsCoefficient(int order, const std::vector<double>& s, int i, int j)
{
    // Integral over [s_i, s_{i+1}] of the Lagrange basis polynomial j (k-diffusion linear_multistep_coeff).
    auto fn = [&](double tau) {
        double prod = 1.0;
        for (int k = 0; k < order; ++k) {
            if (k == j)
                continue;
            prod *= (tau - s[i - k]) / (s[i - j] - s[i - k]);
        }
        return prod;
    };
    // Gauss-Legendre with 8 points is exact for these low-degree polynomials.
    static const double xs[] = { -0.9602898564975363, -0.7966664774136267, -0.5255324099163290, -0.1834346424956498,
        0.1834346424956498, 0.5255324099163290, 0.7966664774136267, 0.9602898564975363 };
    static const double ws[] = { 0.1012285362903763, 0.2223810344533745, 0.3137066458778873, 0.3626837833783620,
        0.3626837833783620, 0.3137066458778873, 0.2223810344533745, 0.1012285362903763 };
    const double a = s[i], b = s[i + 1];
    double sum = 0;
    for (int k = 0; k < 8; ++k)
        sum += ws[k] * fn(0.5 * (b - a) * xs[k] + 0.5 * (a + b));
    return sum * 0.5 * (b - a);
}

} // namespace

namespace {

// One k-diffusion step: what every sampler's step reads (the model, the float32 sigmas, the options, the step and its
// denoised estimate) and the history the multistep ones keep.
struct KStep {
    const KDenoiser& model;
    const std::vector<double>& s;
    const KOptions& o;
    int64_t i = 0;
    at::Tensor oldDenoised; // DPM++ 2M (SDE)
    std::vector<at::Tensor> ds; // LMS
    double sigma() const { return s[i]; }
    double next() const { return s[i + 1]; }
    at::Tensor noise(int64_t index, const at::Tensor& x) const
    {
        if (!o.noise)
            fail(ErrorKind::InvalidInput, "this sampler needs a noise source");
        return o.noise(index, x);
    }
    at::Tensor addNoise(const at::Tensor& x, double up) const
    {
        return x + noise(i, x) * static_cast<float>(o.sNoise * up);
    }
};

double tFn(double sigma) { return -std::log(sigma); }

at::Tensor stepEuler(KStep& k, const at::Tensor& x, const at::Tensor& denoised)
{
    return x + toD(x, k.sigma(), denoised) * static_cast<float>(k.next() - k.sigma());
}

at::Tensor stepEulerAncestral(KStep& k, at::Tensor x, const at::Tensor& denoised)
{
    const double sigma = k.sigma(), next = k.next();
    auto [down, up] = ancestralStep(sigma, next, k.o.eta);
    x = x + toD(x, sigma, denoised) * static_cast<float>(down - sigma);
    return next > 0 ? k.addNoise(x, up) : x;
}

at::Tensor stepHeun(KStep& k, const at::Tensor& x, const at::Tensor& denoised)
{
    const double sigma = k.sigma(), next = k.next();
    auto d = toD(x, sigma, denoised);
    const double dt = next - sigma;
    if (next == 0)
        return x + d * static_cast<float>(dt);
    auto x2 = x + d * static_cast<float>(dt);
    auto d2 = toD(x2, next, k.model(x2, next));
    return x + (d + d2) / 2 * static_cast<float>(dt);
}

at::Tensor stepDpm2(KStep& k, const at::Tensor& x, const at::Tensor& denoised)
{
    const double sigma = k.sigma(), next = k.next();
    auto d = toD(x, sigma, denoised);
    if (next == 0)
        return x + d * static_cast<float>(next - sigma);
    const double mid = std::exp(0.5 * (std::log(sigma) + std::log(next)));
    auto x2 = x + d * static_cast<float>(mid - sigma);
    auto d2 = toD(x2, mid, k.model(x2, mid));
    return x + d2 * static_cast<float>(next - sigma);
}

at::Tensor stepDpm2Ancestral(KStep& k, at::Tensor x, const at::Tensor& denoised)
{
    const double sigma = k.sigma();
    auto [down, up] = ancestralStep(sigma, k.next(), k.o.eta);
    auto d = toD(x, sigma, denoised);
    if (down == 0)
        return x + d * static_cast<float>(down - sigma);
    const double mid = std::exp(0.5 * (std::log(sigma) + std::log(down)));
    auto x2 = x + d * static_cast<float>(mid - sigma);
    auto d2 = toD(x2, mid, k.model(x2, mid));
    x = x + d2 * static_cast<float>(down - sigma);
    return k.addNoise(x, up);
}

at::Tensor stepLms(KStep& k, const at::Tensor& x, const at::Tensor& denoised)
{
    k.ds.push_back(toD(x, k.sigma(), denoised));
    if (k.ds.size() > 4)
        k.ds.erase(k.ds.begin());
    const int order = static_cast<int>(std::min<int64_t>(k.i + 1, 4));
    at::Tensor acc = x;
    for (int j = 0; j < order; ++j)
        acc = acc
            + static_cast<float>(lmsCoefficient(order, k.s, static_cast<int>(k.i), j)) * k.ds[k.ds.size() - 1 - j];
    return acc;
}

at::Tensor stepDpmpp2SAncestral(KStep& k, at::Tensor x, const at::Tensor& denoised)
{
    const double sigma = k.sigma(), next = k.next();
    auto [down, up] = ancestralStep(sigma, next, k.o.eta);
    if (down == 0) {
        x = x + toD(x, sigma, denoised) * static_cast<float>(down - sigma);
    } else {
        const double t = tFn(sigma), tNext = tFn(down);
        const double r = 0.5, h = tNext - t;
        const double sMid = std::exp(-(t + r * h));
        auto x2 = static_cast<float>(sMid / sigma) * x - static_cast<float>(std::expm1(-h * r)) * denoised;
        auto d2 = k.model(x2, sMid);
        x = static_cast<float>(down / sigma) * x - static_cast<float>(std::expm1(-h)) * d2;
    }
    return next > 0 ? k.addNoise(x, up) : x;
}

at::Tensor stepDpmpp2M(KStep& k, const at::Tensor& x, const at::Tensor& denoised)
{
    const double sigma = k.sigma(), next = k.next();
    at::Tensor out = denoised;
    if (next != 0) {
        const double t = tFn(sigma), tNext = tFn(next), h = tNext - t;
        at::Tensor dd = denoised;
        if (k.oldDenoised.defined()) {
            const double hLast = t - tFn(k.s[k.i - 1]);
            const double r = hLast / h;
            dd = static_cast<float>(1 + 1 / (2 * r)) * denoised - static_cast<float>(1 / (2 * r)) * k.oldDenoised;
        }
        out = static_cast<float>(next / sigma) * x - static_cast<float>(std::expm1(-h)) * dd;
    }
    k.oldDenoised = denoised;
    return out;
}

at::Tensor stepDpmppSde(KStep& k, const at::Tensor& x, const at::Tensor& denoised)
{
    // DPM-Solver++ (stochastic), r = 1/2, eta, s_noise; Brownian increments from the noise source.
    const double sigma = k.sigma(), next = k.next();
    if (next == 0)
        return x + toD(x, sigma, denoised) * static_cast<float>(next - sigma);
    const KOptions& o = k.o;
    const double t = tFn(sigma), tNext = tFn(next), h = tNext - t, r = 0.5;
    const double s1 = std::exp(-(t + h * r));
    const double fac = 1 / (2 * r);
    auto [d1, u1] = ancestralStep(sigma, s1, o.eta);
    const double tS = tFn(d1);
    auto x2 = static_cast<float>(d1 / sigma) * x - static_cast<float>(std::expm1(-(tS - t))) * denoised;
    x2 = x2 + k.noise(2 * k.i, x) * static_cast<float>(o.sNoise * u1);
    auto den2 = k.model(x2, s1);
    auto [d2, u2] = ancestralStep(sigma, next, o.eta);
    const double tN = tFn(d2);
    auto dd = static_cast<float>(1 - fac) * denoised + static_cast<float>(fac) * den2;
    auto out = static_cast<float>(d2 / sigma) * x - static_cast<float>(std::expm1(-(tN - t))) * dd;
    return out + k.noise(2 * k.i + 1, out) * static_cast<float>(o.sNoise * u2);
}

at::Tensor stepDpmpp2MSde(KStep& k, const at::Tensor& x, const at::Tensor& denoised)
{
    const double sigma = k.sigma(), next = k.next();
    at::Tensor out = denoised;
    if (next != 0) {
        const KOptions& o = k.o;
        const double t = -std::log(sigma), sN = -std::log(next), h = sN - t;
        const double etaH = o.eta * h;
        if (!o.noise)
            k.noise(k.i, x); // names the missing noise source
        out = static_cast<float>(next / sigma * std::exp(-etaH)) * x
            + static_cast<float>(-std::expm1(-h - etaH)) * denoised;
        if (k.oldDenoised.defined()) {
            const double hLast = t - (-std::log(k.s[k.i - 1]));
            const double r = hLast / h;
            // midpoint solver
            out = out + static_cast<float>(0.5 * -std::expm1(-h - etaH) / r) * (denoised - k.oldDenoised);
        }
        if (o.eta > 0)
            out = out + k.noise(k.i, out) * static_cast<float>(next * std::sqrt(-std::expm1(-2 * etaH)) * o.sNoise);
    }
    k.oldDenoised = denoised;
    return out;
}

using KStepFn = at::Tensor (*)(KStep&, const at::Tensor&, const at::Tensor&);

KStepFn stepFunction(KSampler kind)
{
    switch (kind) {
    case KSampler::Euler:
        return stepEuler;
    case KSampler::EulerAncestral:
        return [](KStep& k, const at::Tensor& x, const at::Tensor& d) { return stepEulerAncestral(k, x, d); };
    case KSampler::Heun:
        return stepHeun;
    case KSampler::Dpm2:
        return stepDpm2;
    case KSampler::Dpm2Ancestral:
        return [](KStep& k, const at::Tensor& x, const at::Tensor& d) { return stepDpm2Ancestral(k, x, d); };
    case KSampler::Lms:
        return stepLms;
    case KSampler::Dpmpp2SAncestral:
        return [](KStep& k, const at::Tensor& x, const at::Tensor& d) { return stepDpmpp2SAncestral(k, x, d); };
    case KSampler::Dpmpp2M:
        return stepDpmpp2M;
    case KSampler::DpmppSde:
        return stepDpmppSde;
    case KSampler::Dpmpp2MSde:
        return stepDpmpp2MSde;
    }
    fail(ErrorKind::InvalidInput, "unknown k-diffusion sampler");
}

} // namespace

at::Tensor sampleK(KSampler kind, const KDenoiser& model, at::Tensor x, const at::Tensor& sigmasT, const KOptions& o)
{
    auto acc = sigmasT.to(at::kDouble).contiguous();
    std::vector<double> s(acc.data_ptr<double>(), acc.data_ptr<double>() + acc.numel());
    for (auto& v : s) // the float32 values the reference computes with
        v = static_cast<float>(v);
    const int64_t n = static_cast<int64_t>(s.size()) - 1;
    const KStepFn step = stepFunction(kind);
    KStep k { model, s, o, 0, {}, {} };
    for (k.i = 0; k.i < n; ++k.i) {
        auto denoised = model(x, k.sigma());
        x = step(k, x, denoised);
        if (o.onStep && !o.onStep(k.i, n, x, denoised))
            break;
    }
    return x;
}

namespace {
// Solves a small dense system (order <= 4) by Gaussian elimination with partial pivoting.
std::vector<double> solveSmall(std::vector<std::vector<double>> a, std::vector<double> b)
{
    const size_t n = b.size();
    for (size_t c = 0; c < n; ++c) {
        size_t p = c;
        for (size_t r = c + 1; r < n; ++r)
            if (std::abs(a[r][c]) > std::abs(a[p][c]))
                p = r;
        std::swap(a[c], a[p]);
        std::swap(b[c], b[p]);
        for (size_t r = c + 1; r < n; ++r) {
            const double f = a[r][c] / a[c][c];
            for (size_t k = c; k < n; ++k)
                a[r][k] -= f * a[c][k];
            b[r] -= f * b[c];
        }
    }
    std::vector<double> x(n);
    for (size_t i = n; i-- > 0;) {
        double s = b[i];
        for (size_t k = i + 1; k < n; ++k)
            s -= a[i][k] * x[k];
        x[i] = s / a[i][i];
    }
    return x;
}
} // namespace

at::Tensor sampleUniPC(const KDenoiser& model, at::Tensor x, const at::Tensor& sigmasT, int order, const StepFn& onStep)
{
    auto acc = sigmasT.to(at::kDouble).contiguous();
    std::vector<double> s(acc.data_ptr<double>(), acc.data_ptr<double>() + acc.numel());
    const int n = static_cast<int>(s.size()) - 1;
    auto lambda = [](double sigma) { return sigma > 0 ? -std::log(sigma) : INFINITY; };
    std::vector<at::Tensor> ms { model(x, s[0]) };
    std::vector<double> ls { lambda(s[0]) };
    for (int step = 1; step <= n; ++step) {
        const int k = std::min({ order, step, n + 1 - step });
        const bool useCorrector = step < n;
        const double l0 = ls.back(), lt = lambda(s[step]);
        const double h = lt - l0;
        const at::Tensor m0 = ms.back();
        std::vector<double> rks;
        std::vector<at::Tensor> d1s;
        for (int i = 1; i < k; ++i) {
            const double rk = (ls[ls.size() - 1 - i] - l0) / h;
            rks.push_back(rk);
            d1s.push_back((ms[ms.size() - 1 - i] - m0) / static_cast<float>(rk));
        }
        rks.push_back(1.0);
        const double hh = -h;
        const double hPhi1 = std::expm1(hh);
        const double bH = std::expm1(hh);
        std::vector<std::vector<double>> R;
        std::vector<double> b;
        double hPhiK = hPhi1 / hh - 1;
        double fact = 1;
        for (int i = 1; i <= k; ++i) {
            std::vector<double> row;
            for (double rk : rks)
                row.push_back(std::pow(rk, i - 1));
            R.push_back(row);
            b.push_back(hPhiK * fact / bH);
            fact *= (i + 1);
            hPhiK = hPhiK / hh - 1 / fact;
        }
        const double ratio = s[step] / s[step - 1];
        at::Tensor xBase = static_cast<float>(ratio) * x - static_cast<float>(hPhi1) * m0;
        at::Tensor xt = xBase;
        if (!d1s.empty()) {
            std::vector<double> rhosP;
            if (k == 2) {
                rhosP = { 0.5 };
            } else {
                std::vector<std::vector<double>> Rp(R.begin(), R.end() - 1);
                for (auto& row : Rp)
                    row.pop_back();
                rhosP = solveSmall(Rp, std::vector<double>(b.begin(), b.end() - 1));
            }
            at::Tensor pred = at::zeros_like(x);
            for (size_t i = 0; i < d1s.size(); ++i)
                pred = pred + static_cast<float>(rhosP[i]) * d1s[i];
            xt = xBase - static_cast<float>(bH) * pred;
        }
        at::Tensor mt;
        if (useCorrector) {
            mt = model(xt, s[step]);
            const std::vector<double> rhosC = k == 1 ? std::vector<double> { 0.5 } : solveSmall(R, b);
            at::Tensor corr = at::zeros_like(x);
            for (size_t i = 0; i < d1s.size(); ++i)
                corr = corr + static_cast<float>(rhosC[i]) * d1s[i];
            xt = xBase - static_cast<float>(bH) * (corr + static_cast<float>(rhosC.back()) * (mt - m0));
        }
        x = xt;
        if (step < n) {
            if (!mt.defined())
                mt = model(x, s[step]);
            ms.push_back(mt);
            ls.push_back(lt);
            if (static_cast<int>(ms.size()) > order) {
                ms.erase(ms.begin());
                ls.erase(ls.begin());
            }
        }
        if (onStep && !onStep(step - 1, n, x, mt.defined() ? mt : m0))
            break;
    }
    return x;
}

} // namespace ls::sampling

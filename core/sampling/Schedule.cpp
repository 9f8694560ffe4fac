#include "sampling/Schedule.h"

#include "util/Error.h"

#include <algorithm>
#include <cmath>

namespace ls::sampling {

BetaSchedule BetaSchedule::linear(double start, double end, int64_t timesteps)
{
    BetaSchedule s;
    auto o64 = at::TensorOptions().dtype(at::kDouble);
    s.betas64 = at::linspace(std::sqrt(start), std::sqrt(end), timesteps, o64).pow(2);
    s.alphasCumprod64 = at::cumprod(1.0 - s.betas64, 0);
    s.betas = s.betas64.to(at::kFloat);
    s.alphasCumprod = s.alphasCumprod64.to(at::kFloat);
    s.alphasCumprodPrev
        = at::cat({ at::ones({ 1 }, o64), s.alphasCumprod64.narrow(0, 0, timesteps - 1) }).to(at::kFloat);
    return s;
}

BetaSchedule BetaSchedule::fromAlphasCumprod(const at::Tensor& acp)
{
    BetaSchedule s;
    s.alphasCumprod = acp.to(at::kFloat).contiguous();
    s.alphasCumprod64 = acp.to(at::kDouble);
    auto prev
        = at::cat({ at::ones({ 1 }, s.alphasCumprod64.options()), s.alphasCumprod64.narrow(0, 0, acp.size(0) - 1) });
    s.betas64 = 1.0 - s.alphasCumprod64 / prev;
    s.betas = s.betas64.to(at::kFloat);
    s.alphasCumprodPrev = prev.to(at::kFloat);
    return s;
}

BetaSchedule BetaSchedule::rescaledZeroTerminalSnr(const BetaSchedule& in)
{
    auto sq = in.alphasCumprod64.sqrt();
    const double first = sq[0].item<double>(), last = sq[-1].item<double>();
    if (!(first > last))
        fail(ErrorKind::InvalidInput, "zero terminal SNR: the schedule's signal does not decrease");
    sq = (sq - last) * (first / (first - last));
    auto acp = sq.pow(2);
    acp[-1] = kTerminalAlphaCumprod;
    BetaSchedule s = fromAlphasCumprod(acp.to(at::kFloat));
    s.alphasCumprod64 = acp;
    return s;
}

bool BetaSchedule::zeroTerminal() const { return alphasCumprod.size(0) > 0 && alphasCumprod[-1].item<float>() < 1e-6f; }

std::vector<int64_t> trailingTimesteps(int64_t steps, int64_t timesteps)
{
    if (steps <= 0 || steps > timesteps)
        fail(ErrorKind::InvalidInput,
            "steps must be between 1 and " + std::to_string(timesteps) + ", got " + std::to_string(steps));
    std::vector<int64_t> out;
    const double ratio = static_cast<double>(timesteps) / static_cast<double>(steps);
    for (int64_t i = steps - 1; i >= 0; --i)
        out.push_back(
            static_cast<int64_t>(std::llround(static_cast<double>(timesteps) - static_cast<double>(i) * ratio)) - 1);
    return out;
}

std::vector<int64_t> ddimTimesteps(int64_t steps, int64_t timesteps)
{
    if (steps <= 0 || steps > timesteps)
        fail(ErrorKind::InvalidInput,
            "steps must be between 1 and " + std::to_string(timesteps) + ", got " + std::to_string(steps));
    const int64_t c = timesteps / steps;
    std::vector<int64_t> out;
    for (int64_t t = 0; t < timesteps; t += c)
        out.push_back(t + 1);
    return out;
}

DdimParams ddimParams(const BetaSchedule& s, const std::vector<int64_t>& timesteps, double eta)
{
    DdimParams p;
    p.timesteps = timesteps;
    auto acp = s.alphasCumprod.accessor<float, 1>();
    for (size_t i = 0; i < timesteps.size(); ++i) {
        const int64_t t = std::min<int64_t>(timesteps[i], s.size() - 1);
        const double a = acp[t];
        const double ap = i == 0 ? static_cast<double>(acp[0])
                                 : static_cast<double>(acp[std::min<int64_t>(timesteps[i - 1], s.size() - 1)]);
        p.alphas.push_back(static_cast<float>(a));
        p.alphasPrev.push_back(ap);
        p.sigmas.push_back(eta * std::sqrt((1.0 - ap) / (1.0 - a) * (1.0 - a / ap)));
        p.sqrtOneMinusAlphas.push_back(std::sqrt(1.0 - a));
    }
    return p;
}

SigmaSchedule::SigmaSchedule(const at::Tensor& acp)
{
    auto a = acp.to(at::kFloat);
    m_sigmas = ((1 - a) / a).sqrt();
    m_logSigmas = m_sigmas.log();
}

double SigmaSchedule::sigmaMin() const { return m_sigmas[0].item<float>(); }
double SigmaSchedule::sigmaMax() const { return m_sigmas[-1].item<float>(); }

at::Tensor SigmaSchedule::sigmaToT(const at::Tensor& sigma) const
{
    auto logSigma = sigma.to(at::kFloat).log();
    auto dists = logSigma.unsqueeze(0) - m_logSigmas.unsqueeze(1); // [T, N]
    auto lowIdx = dists.ge(0).cumsum(0).argmax(0).clamp_max(m_logSigmas.size(0) - 2);
    auto highIdx = lowIdx + 1;
    auto low = m_logSigmas.index_select(0, lowIdx.flatten()).view(lowIdx.sizes());
    auto high = m_logSigmas.index_select(0, highIdx.flatten()).view(highIdx.sizes());
    auto w = ((low - logSigma) / (low - high)).clamp(0, 1);
    return ((1 - w) * lowIdx + w * highIdx).view(sigma.sizes());
}

at::Tensor SigmaSchedule::tToSigma(const at::Tensor& t) const
{
    auto tf = t.to(at::kFloat);
    auto lowIdx = tf.floor().to(at::kLong);
    auto highIdx = tf.ceil().to(at::kLong);
    auto w = tf.frac();
    auto logSigma = (1 - w) * m_logSigmas.index_select(0, lowIdx) + w * m_logSigmas.index_select(0, highIdx);
    return logSigma.exp();
}

at::Tensor SigmaSchedule::uniform(int64_t n) const
{
    const double tMax = static_cast<double>(m_sigmas.size(0) - 1);
    auto t = at::linspace(tMax, 0, n, at::TensorOptions().dtype(at::kFloat));
    return at::cat({ tToSigma(t), at::zeros({ 1 }, t.options()) });
}

at::Tensor karrasSigmas(int64_t n, double sigmaMin, double sigmaMax, double rho)
{
    auto ramp = at::linspace(0, 1, n, at::TensorOptions().dtype(at::kFloat));
    const double minInv = std::pow(sigmaMin, 1.0 / rho);
    const double maxInv = std::pow(sigmaMax, 1.0 / rho);
    auto sigmas = (maxInv + ramp * (minInv - maxInv)).pow(rho);
    return at::cat({ sigmas, at::zeros({ 1 }, sigmas.options()) });
}

at::Tensor exponentialSigmas(int64_t n, double sigmaMin, double sigmaMax)
{
    auto sigmas = at::linspace(std::log(sigmaMax), std::log(sigmaMin), n, at::TensorOptions().dtype(at::kFloat)).exp();
    return at::cat({ sigmas, at::zeros({ 1 }, sigmas.options()) });
}

SgmDiscreteSchedule::SgmDiscreteSchedule(const BetaSchedule& s)
{
    m_sigmas = ((1.0 - s.alphasCumprod64) / s.alphasCumprod64).to(at::kFloat).sqrt();
}

std::vector<int64_t> SgmDiscreteSchedule::legacyTimesteps(int64_t n) const
{
    const int64_t total = m_sigmas.size(0);
    const double start = static_cast<double>(total - 1), step = (0.0 - start) / static_cast<double>(n); // numpy
    std::vector<int64_t> t;
    for (int64_t k = n - 1; k >= 0; --k)
        t.push_back(static_cast<int64_t>(static_cast<double>(k) * step + start));
    return t;
}

at::Tensor SgmDiscreteSchedule::legacySigmas(int64_t n) const
{
    auto t = legacyTimesteps(n);
    std::reverse(t.begin(), t.end());
    auto idx = at::tensor(t, at::TensorOptions().dtype(at::kLong));
    return at::cat({ m_sigmas.index_select(0, idx), at::zeros({ 1 }, m_sigmas.options()) });
}

int64_t SgmDiscreteSchedule::quantize(double sigma) const
{
    auto d = (m_sigmas.to(at::kDouble) - sigma).abs();
    return d.argmin().item<int64_t>();
}

at::Tensor img2imgSigmas(const at::Tensor& sigmas, double strength)
{
    const int64_t n = sigmas.size(0);
    const int64_t keep = std::max<int64_t>(static_cast<int64_t>(strength * static_cast<double>(n)), 1);
    return sigmas.narrow(0, n - keep, keep);
}

} // namespace ls::sampling

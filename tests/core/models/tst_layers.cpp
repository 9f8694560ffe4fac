// Engine layers with a fast path: the upsampling convolution computed per output phase equals the plain composition
// (nearest-neighbour 2x, then the 3x3 convolution) to float32 rounding, on every shape, with fp16-stored weights, and
// under autograd (where it takes the plain path). The attention backends and the CUDA graph cache as they behave on
// the CPU and on any libtorch: SDPA (where compiled in) equals the chunked kernel, CPU calls never go through a graph.
#include "models/Accel.h"
#include "models/Layers.h"
#include "util/Error.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <QtTest/QtTest>

#include <limits>

using namespace ls;

class TestLayers : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void upsampledConvolution_data()
    {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("c");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("h");
        QTest::addColumn<int>("w");
        QTest::newRow("square") << 1 << 32 << 32 << 16 << 16;
        QTest::newRow("odd, batch, channels change") << 2 << 24 << 40 << 5 << 9;
        QTest::newRow("one pixel") << 1 << 8 << 8 << 1 << 1;
    }
    void upsampledConvolution()
    {
        QFETCH(int, n);
        QFETCH(int, c);
        QFETCH(int, k);
        QFETCH(int, h);
        QFETCH(int, w);
        torch::NoGradGuard ng;
        nn::Conv2d conv(c, k, 3, 1, 1, at::TensorOptions().dtype(at::kFloat));
        auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(c + h));
        conv->weight.copy_(at::randn(conv->weight.sizes(), gen) / std::sqrt(9.0 * c));
        conv->bias.copy_(at::randn(conv->bias.sizes(), gen));
        auto x = at::randn({ n, c, h, w }, gen);
        auto ref = conv(at::upsample_nearest2d(x, { 2 * h, 2 * w }));
        auto got = conv->forwardUpsampled2x(x);
        QCOMPARE(got.sizes(), ref.sizes());
        const double err = (got - ref).abs().max().item<double>();
        QVERIFY2(err < 1e-5 * ref.abs().max().item<double>() + 1e-6, qPrintable(QString::number(err)));
        // fp16-stored weights compute in float32 the same way.
        nn::Conv2d half(c, k, 3, 1, 1, at::TensorOptions().dtype(at::kHalf));
        half->weight.copy_(conv->weight);
        half->bias.copy_(conv->bias);
        auto refHalf = half(at::upsample_nearest2d(x, { 2 * h, 2 * w }));
        QVERIFY((half->forwardUpsampled2x(x) - refHalf).abs().max().item<double>()
            < 1e-5 * refHalf.abs().max().item<double>() + 1e-6);
    }

    void attentionBackends()
    {
        torch::NoGradGuard ng;
        auto& fast = accel::settings();
        const accel::Settings saved = fast;
        QCOMPARE(accel::parseAttention("sdpa"), accel::Attention::Sdpa);
        try {
            accel::parseAttention("flash");
            QFAIL("an unknown backend was accepted");
        } catch (const Error& e) {
            QCOMPARE(e.kind(), ErrorKind::InvalidInput);
            QVERIFY(QString(e.what()).contains("'flash'"));
        }
        auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
        // Self-attention large enough to be chunked (4 x 4096 x 4096 scores > the 64M budget) and a masked
        // cross-attention (CLIP's causal mask).
        auto q = at::randn({ 1, 8, 4096, 8 }, gen), k = at::randn({ 1, 8, 4096, 8 }, gen),
             v = at::randn({ 1, 8, 4096, 8 }, gen);
        auto causal = at::full({ 77, 77 }, -std::numeric_limits<float>::infinity()).triu(1);
        auto cq = at::randn({ 2, 4, 77, 16 }, gen), ck = at::randn({ 2, 4, 77, 16 }, gen),
             cv = at::randn({ 2, 4, 77, 16 }, gen);
        fast.attention = accel::Attention::Auto;
        QVERIFY(!accel::useSdpa(q)); // the CPU keeps the measured chunked kernel
        auto refSelf = nn::attention(q, k, v, 0.25);
        auto plain = at::matmul((at::matmul(q, k.transpose(-1, -2)) * 0.25).softmax(-1), v);
        QVERIFY((refSelf - plain).abs().max().item<double>() < 1e-5);
        auto refMasked = nn::attention(cq, ck, cv, 0.25, causal);
        fast.attention = accel::Attention::Sdpa;
        if (accel::sdpaCompiled()) {
            QVERIFY((nn::attention(q, k, v, 0.25) - refSelf).abs().max().item<double>() < 1e-4);
            QVERIFY((nn::attention(cq, ck, cv, 0.25, causal) - refMasked).abs().max().item<double>() < 1e-4);
        } else {
            try {
                nn::attention(q, k, v, 0.25);
                QFAIL("sdpa was taken without being compiled in");
            } catch (const Error& e) {
                QCOMPARE(e.kind(), ErrorKind::Unsupported);
                QVERIFY(QString(e.what()).contains("libtorch"));
            }
        }
        fast = saved;
    }

    void graphCacheOnTheCpu()
    {
        accel::GraphCache cache;
        int calls = 0;
        auto fn = [&](const std::vector<at::Tensor>& in) {
            ++calls;
            return in[0] * 2 + (in[1].defined() ? in[1] : at::zeros({}));
        };
        auto x = at::arange(6, at::kFloat).view({ 2, 3 });
        for (int i = 0; i < 3; ++i)
            QVERIFY(at::equal(cache.run(fn, { x + i, at::Tensor() }), (x + i) * 2));
        QCOMPARE(calls, 3); // every call runs fn: no graph for CPU tensors
        QCOMPARE(cache.captures(), size_t(0));
        QCOMPARE(cache.size(), size_t(0));
        QVERIFY(cache.error().empty());
        QVERIFY(accel::peakGpuReservedMb(at::Device(at::kCPU)) == 0);
    }

    void upsampledConvolutionTrains()
    {
        nn::Conv2d conv(8, 8, 3, 1, 1, at::TensorOptions().dtype(at::kFloat));
        conv->weight.detach().normal_();
        conv->bias.detach().zero_();
        conv->weight.set_requires_grad(true);
        auto x = at::randn({ 1, 8, 4, 4 });
        conv->forwardUpsampled2x(x).sum().backward();
        QVERIFY(conv->weight.grad().defined());
        QVERIFY(conv->weight.grad().abs().sum().item<double>() > 0);
    }
};

QTEST_GUILESS_MAIN(TestLayers)
#include "tst_layers.moc"

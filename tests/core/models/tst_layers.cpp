// Engine layers with a fast path: the upsampling convolution computed per output phase equals the plain composition
// (nearest-neighbour 2x, then the 3x3 convolution) to float32 rounding, on every shape, with fp16-stored weights, and
// under autograd (where it takes the plain path).
#include "models/Layers.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <QtTest/QtTest>

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
        QVERIFY((half->forwardUpsampled2x(x) - refHalf).abs().max().item<double>() < 1e-5 * refHalf.abs().max().item<double>() + 1e-6);
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

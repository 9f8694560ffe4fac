// Winograd F(2x2, 3x3) convolutions agree with the direct method to float32 rounding, on every shape the models give
// them (odd sizes, batches, more or fewer outputs than inputs, no bias), and stay out of autograd and other dtypes.
#include "models/Layers.h"
#include "models/Winograd.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <QtTest/QtTest>

using namespace ls;

class TestWinograd : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void matchesDirectConvolution_data()
    {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("c");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("h");
        QTest::addColumn<int>("w");
        QTest::addColumn<bool>("bias");
        QTest::newRow("square") << 1 << 64 << 64 << 32 << 32 << true;
        QTest::newRow("odd sizes, batch") << 2 << 48 << 80 << 17 << 23 << true;
        QTest::newRow("fewer outputs, no bias") << 1 << 96 << 32 << 40 << 16 << false;
        QTest::newRow("one row of tiles") << 3 << 32 << 32 << 2 << 200 << true;
        QTest::newRow("tall (several bands)") << 1 << 256 << 256 << 400 << 24 << true;
    }
    void matchesDirectConvolution()
    {
        QFETCH(int, n);
        QFETCH(int, c);
        QFETCH(int, k);
        QFETCH(int, h);
        QFETCH(int, w);
        QFETCH(bool, bias);
        torch::NoGradGuard ng;
        auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(c * 131 + h));
        auto x = at::randn({ n, c, h, w }, gen);
        auto wt = at::randn({ k, c, 3, 3 }, gen) / std::sqrt(9.0 * c);
        auto b = bias ? at::randn({ k }, gen) : at::Tensor();
        auto ref = at::conv2d(x, wt, b, { 1, 1 }, { 1, 1 });
        auto got = nn::winogradConv3x3(x, wt, b);
        QCOMPARE(got.sizes(), ref.sizes());
        const double err = (got - ref).abs().max().item<double>(), scale = ref.abs().max().item<double>();
        QVERIFY2(err <= 2e-6 * scale + 1e-6, qPrintable(QString("max error %1 at scale %2").arg(err).arg(scale)));
        // A non-contiguous input (a channel slice) gives the same result.
        auto wide = at::cat({ x, x }, 1).narrow(1, c / 2, c);
        auto refWide = at::conv2d(wide, wt, b, { 1, 1 }, { 1, 1 });
        QVERIFY((nn::winogradConv3x3(wide, wt, b) - refWide).abs().max().item<double>() <= 2e-6 * scale + 1e-6);
    }

    void takesOnlyWhatItCanDo()
    {
        auto x = at::randn({ 1, 64, 32, 32 }), w = at::randn({ 64, 64, 3, 3 });
        {
            torch::NoGradGuard ng;
            QVERIFY(nn::winogradApplies(x, w, 1, 1));
            QVERIFY(!nn::winogradApplies(x, w, 2, 1));                               // downsampling
            QVERIFY(!nn::winogradApplies(x, at::randn({ 64, 64, 1, 1 }), 1, 0));     // 1x1
            QVERIFY(!nn::winogradApplies(x.to(at::kDouble), w.to(at::kDouble), 1, 1)); // other dtypes
            QVERIFY(!nn::winogradApplies(at::randn({ 1, 3, 32, 32 }), at::randn({ 64, 3, 3, 3 }), 1, 1)); // an RGB input layer
            QVERIFY(!nn::winogradApplies(at::randn({ 1, 64, 8, 8 }), w, 1, 1));      // tiny latents
        }
        // Training: gradients need the direct convolution.
        auto wg = w.clone().set_requires_grad(true);
        QVERIFY(!nn::winogradApplies(x, wg, 1, 1));
        auto y = nn::conv2d(x, wg, at::Tensor(), 1, 1);
        y.sum().backward();
        QVERIFY(wg.grad().defined());
    }
};

QTEST_GUILESS_MAIN(TestWinograd)
#include "tst_winograd.moc"

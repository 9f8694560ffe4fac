// The app's remote backend against the project's own server (`latent-cli serve` on loopback ports, bundled model):
// models listed, a job through GenerationController with previews giving the same pixels as the local engine,
// cancel, jobs spread over two servers, a server that dies mid-job (retried elsewhere, or a clear failure), auth and
// Settings > Backends' "Test connection".
#include "GenerationController.h"
#include "RemoteBackend.h"
#include "Settings.h"

#include <QProcess>
#include <QSignalSpy>
#include <QTest>

#include <nlohmann/json.hpp>

#include <memory>

using namespace ls::ui;
using ls::pipeline::GenerationRequest;

namespace {

struct Server {
    QProcess proc;
    QString url;
    explicit Server(const QStringList& extra = {})
    {
        proc.setProcessChannelMode(QProcess::SeparateChannels);
        proc.start(QStringLiteral(LS_CLI),
            QStringList { QStringLiteral("serve"), QStringLiteral("--port"), QStringLiteral("0"),
                QStringLiteral("--threads"), QStringLiteral("1") }
                + extra);
        if (!proc.waitForStarted(20000))
            return;
        QByteArray line;
        for (int i = 0; i < 300 && !line.contains('\n'); ++i) {
            proc.waitForReadyRead(100);
            line += proc.readAllStandardOutput();
        }
        const int at = line.indexOf("http://");
        if (at >= 0)
            url = QString::fromUtf8(line.mid(at).trimmed());
    }
    ~Server()
    {
        proc.terminate();
        if (!proc.waitForFinished(20000))
            proc.kill();
    }
};

GenerationRequest smallRequest(int steps, int size = 64, int64_t seed = 3)
{
    GenerationRequest r;
    r.prompt = "a red circle at the top left";
    r.width = r.height = size;
    r.steps = steps;
    r.seed = seed;
    r.sampler = "Euler a";
    r.cfgScale = 5;
    return r;
}

// Waits until the backend lists a model; returns the first title.
QString firstModel(RemoteBackend& b)
{
    if (!QTest::qWaitFor([&] { return !b.models().isEmpty(); }, 30000))
        return {};
    return b.models().front();
}

} // namespace

class TestRemote : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sameResultAsTheLocalEngine()
    {
        Server server;
        QVERIFY2(!server.url.isEmpty(), "the server did not start");
        GenerationController remote;
        remote.remote()->setServers({ { server.url, {}, {} } });
        const QString title = firstModel(*remote.remote());
        QVERIFY(title.startsWith(QStringLiteral("latent-studio-default")));
        QSignalSpy loaded(&remote, &GenerationController::modelLoaded);
        remote.loadModel(remoteModelPath(title));
        QTRY_COMPARE_WITH_TIMEOUT(loaded.size(), 1, 10000);
        QCOMPARE(loaded[0][1].toString(), QStringLiteral("remote"));
        QVERIFY(remote.remoteActive());

        QSignalSpy previews(&remote, &GenerationController::preview);
        QSignalSpy progress(&remote, &GenerationController::progress);
        QSignalSpy done(&remote, &GenerationController::finished);
        QSignalSpy failed(&remote, &GenerationController::failed);
        const int id = remote.enqueue(smallRequest(120));
        QVERIFY(remote.busy());
        QTRY_VERIFY_WITH_TIMEOUT(done.size() == 1 || failed.size() == 1, 120000);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed[0][1].toString()));
        QCOMPARE(done[0][0].toInt(), id);
        QVERIFY2(!progress.isEmpty(), "no progress polled from the server");
        QVERIFY2(!previews.isEmpty(), "no preview polled from the server");
        const auto result = done[0][1].value<JobResult>();
        QList<QImage> images;
        for (const auto& p : result.pictures)
            images << p.image;
        QCOMPARE(images.size(), 1);
        QCOMPARE(images[0].size(), QSize(64, 64));
        QVERIFY(result.pictures[0].parameters.contains(QStringLiteral("Seed: 3,")));
        QCOMPARE(result.pictures[0].seed, qint64(3));
        const auto settings = nlohmann::json::parse(result.pictures[0].settings.toStdString());
        QCOMPARE(settings.value("seed", int64_t(0)), int64_t(3));

        // the same request on this machine's engine: the same pixels
        GenerationController local;
        QSignalSpy localLoaded(&local, &GenerationController::modelLoaded);
        local.loadModel(QStringLiteral("bundled:default"), {}, {}, 1);
        QTRY_COMPARE_WITH_TIMEOUT(localLoaded.size(), 1, 60000);
        QSignalSpy localDone(&local, &GenerationController::finished);
        local.enqueue(smallRequest(120));
        QTRY_COMPARE_WITH_TIMEOUT(localDone.size(), 1, 120000);
        const auto localResult = localDone[0][1].value<JobResult>();
        QList<QImage> localImages;
        for (const auto& p : localResult.pictures)
            localImages << p.image;
        QCOMPARE(
            localImages[0].convertToFormat(QImage::Format_RGB888), images[0].convertToFormat(QImage::Format_RGB888));
        QCOMPARE(localResult.pictures[0].parameters, result.pictures[0].parameters);
    }

    void cancelInterruptsTheServer()
    {
        Server server;
        RemoteBackend b;
        b.setServers({ { server.url, {}, {} } });
        const QString title = firstModel(b);
        QSignalSpy progress(&b, &RemoteBackend::progress);
        QSignalSpy cancelled(&b, &RemoteBackend::cancelled);
        b.enqueue(7, smallRequest(1000, 128), title);
        QTRY_VERIFY_WITH_TIMEOUT(!progress.isEmpty(), 60000);
        b.cancelCurrent();
        QTRY_COMPARE_WITH_TIMEOUT(cancelled.size(), 1, 30000);
        QCOMPARE(cancelled[0][0].toInt(), 7);
        QVERIFY(!b.busy());
        QVERIFY(progress.last()[1].toInt() < 900); // stopped early, not run to its end
        // the server takes the next job
        QSignalSpy done(&b, &RemoteBackend::finished);
        b.enqueue(8, smallRequest(4), title);
        QTRY_COMPARE_WITH_TIMEOUT(done.size(), 1, 60000);
    }

    void jobsSpreadOverTwoServers()
    {
        Server a, c;
        RemoteBackend b;
        b.setServers({ { a.url, {}, {} }, { c.url, {}, {} } });
        const QString title = firstModel(b);
        QTRY_VERIFY_WITH_TIMEOUT(b.models().size() == 1, 10000); // both offer the same model
        QSignalSpy dispatched(&b, &RemoteBackend::dispatched);
        QSignalSpy done(&b, &RemoteBackend::finished);
        b.enqueue(1, smallRequest(200), title);
        b.enqueue(2, smallRequest(200, 64, 4), title);
        QTRY_COMPARE_WITH_TIMEOUT(dispatched.size(), 2, 30000);
        QCOMPARE(b.queuedJobs(), 0); // both running at once
        QVERIFY(dispatched[0][1].toString() != dispatched[1][1].toString());
        QTRY_COMPARE_WITH_TIMEOUT(done.size(), 2, 120000);
    }

    void serverGoneMidJob()
    {
        // alone: a clear failure naming the server
        {
            auto server = std::make_unique<Server>();
            RemoteBackend b;
            b.setServers({ { server->url, {}, {} } });
            const QString title = firstModel(b);
            QSignalSpy progress(&b, &RemoteBackend::progress);
            QSignalSpy failed(&b, &RemoteBackend::failed);
            b.enqueue(5, smallRequest(1000, 128), title);
            QTRY_VERIFY_WITH_TIMEOUT(!progress.isEmpty(), 60000);
            server->proc.kill();
            QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, 30000);
            QVERIFY(failed[0][1].toString().contains(server->url));
            QVERIFY(failed[0][1].toString().contains(QStringLiteral("stopped answering")));
            QVERIFY(!b.busy());
        }
        // with a second server offering the model: the job is sent there
        {
            std::unique_ptr<Server> servers[2] = { std::make_unique<Server>(), std::make_unique<Server>() };
            RemoteBackend b;
            b.setServers({ { servers[0]->url, {}, {} }, { servers[1]->url, {}, {} } });
            const QString title = firstModel(b);
            QTRY_COMPARE_WITH_TIMEOUT(b.serversAnswering(), 2, 30000);
            QSignalSpy dispatched(&b, &RemoteBackend::dispatched);
            QSignalSpy done(&b, &RemoteBackend::finished);
            QSignalSpy failed(&b, &RemoteBackend::failed);
            QSignalSpy progress(&b, &RemoteBackend::progress);
            b.enqueue(6, smallRequest(400, 96), title);
            QTRY_VERIFY_WITH_TIMEOUT(!progress.isEmpty(), 60000);
            const QString ran = dispatched[0][1].toString();
            servers[ran == servers[0]->url ? 0 : 1]->proc.kill();
            QTRY_VERIFY_WITH_TIMEOUT(done.size() == 1 || failed.size() == 1, 180000);
            QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed[0][1].toString()));
            QCOMPARE(dispatched.size(), 2);
            QVERIFY(dispatched[1][1].toString() != ran);
            QCOMPARE(b.serversAnswering(), 1);
        }
    }

    void authAndTestConnection()
    {
        Server server({ QStringLiteral("--api-auth"), QStringLiteral("ann:pw") });
        BackendsEditor editor({ { server.url, QStringLiteral("ann"), QStringLiteral("wrong") } });
        QSignalSpy tested(&editor, &BackendsEditor::tested);
        editor.testSelected();
        QTRY_COMPARE_WITH_TIMEOUT(tested.size(), 1, 20000);
        QCOMPARE(tested[0][0].toBool(), false);
        QVERIFY(tested[0][1].toString().contains(QStringLiteral("401")));
        BackendsEditor good({ { server.url, QStringLiteral("ann"), QStringLiteral("pw") } });
        QSignalSpy ok(&good, &BackendsEditor::tested);
        good.testSelected();
        QTRY_COMPARE_WITH_TIMEOUT(ok.size(), 1, 20000);
        QVERIFY2(ok[0][0].toBool(), qPrintable(ok[0][1].toString()));
        QVERIFY(ok[0][1].toString().contains(QStringLiteral("latent-studio-default")));
        QCOMPARE(good.servers().size(), 1);
        QCOMPARE(good.servers()[0].password, QStringLiteral("pw"));
    }
};

QTEST_MAIN(TestRemote)
#include "tst_remote.moc"

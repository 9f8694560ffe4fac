#pragma once
// Generation on remote servers that speak the AUTOMATIC1111 API (`latent-cli serve`, A1111, Forge, SD.Next, ...):
// one job per server at a time, each job sent to a free server that offers its model, progress and previews polled
// from /sdapi/v1/progress, cancel sent as /sdapi/v1/interrupt. A server that stops answering is marked down and its
// job goes to another server with the model (once), else fails with a message naming the server; nothing on the
// canvas is touched by a failure. Signals as GenerationController's, with the same job ids.
#include "JobResult.h"
#include "pipeline/GenerationRequest.h"

#include <QImage>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include <deque>
#include <functional>
#include <memory>
#include <vector>

class QNetworkAccessManager;
class QNetworkReply;
class QNetworkRequest;
class QTimer;

namespace ls::ui {

struct RemoteServerConfig {
    QString url; // http://host:port (the /sdapi/v1 paths are added)
    QString user, password; // HTTP basic (--api-auth); empty: none
    bool operator==(const RemoteServerConfig&) const = default;
};

// "remote:" + a model title: how the model picker and GenerationController name a remote model.
QString remoteModelPath(const QString& title);
bool isRemoteModelPath(const QString& path);
QString remoteModelTitle(const QString& path);

class RemoteBackend : public QObject {
    Q_OBJECT
public:
    explicit RemoteBackend(QObject* parent = nullptr);
    ~RemoteBackend() override;

    void setServers(const QList<RemoteServerConfig>& servers); // and asks each for its models
    QList<RemoteServerConfig> servers() const;
    void refreshModels();
    // Distinct model titles over the servers that answered, in order.
    QStringList models() const;
    int serversAnswering() const; // servers whose last call was answered
    // Asks one server for its models (Settings' "Test connection"): ok, and the titles or the error.
    void testServer(const RemoteServerConfig& server, std::function<void(bool, const QString&, QStringList)> done);

    // Queues a job for the model (a title of models()).
    void enqueue(int id, const ls::pipeline::GenerationRequest& request, const QString& modelTitle);
    void cancelCurrent(); // interrupts the running jobs; with none running, drops the next one
    void cancelJob(int id); // interrupts it where it runs, drops it while it waits; unknown ids are ignored
    void clearQueue();
    int queuedJobs() const;
    bool busy() const;
    int pollIntervalMs = 300;

Q_SIGNALS:
    void modelsChanged(const QStringList& titles);
    void dispatched(int jobId, const QString& serverUrl);
    void started(int jobId);
    void progress(int jobId, int step, int total, double itPerSecond, double etaSeconds);
    void preview(int jobId, int step, const QImage& image);
    void finished(int jobId, const ls::ui::JobResult& result);
    void failed(int jobId, const QString& message);
    void cancelled(int jobId);
    void queueChanged(int queuedJobs);

private:
    struct Job {
        int id = 0;
        ls::pipeline::GenerationRequest request;
        QString model;
        bool retried = false;
    };
    struct Server;
    QNetworkRequest requestFor(const Server& s, const QString& path) const;
    void dispatch();
    void start(Server& s, Job job);
    void poll(Server& s);
    void interrupt(Server& s); // asks its server to stop the job it runs
    void done(Server& s, QNetworkReply* reply);
    void fetchModels(Server& s);

    QNetworkAccessManager* m_net;
    std::vector<std::unique_ptr<Server>> m_servers;
    std::deque<Job> m_queue;
};

} // namespace ls::ui

#include "RemoteBackend.h"

#include "pipeline/ApiBody.h"
#include "util/Error.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>
#include <QUrl>

#include <optional>

namespace ls::ui {

QString remoteModelPath(const QString& title) { return QStringLiteral("remote:") + title; }
bool isRemoteModelPath(const QString& path) { return path.startsWith(QStringLiteral("remote:")); }
QString remoteModelTitle(const QString& path) { return path.mid(7); }

struct RemoteBackend::Server {
    RemoteServerConfig config;
    QStringList models;
    bool up = false; // answered its last call
    bool heard = false; // its model list was asked for and the call ended (either way)
    std::optional<Job> job;
    QNetworkReply* reply = nullptr;
    QTimer timer;
    bool polling = false, cancelling = false;
    int lastPreviewStep = -1;
    QElapsedTimer clock;
};

namespace {

// A1111's titles gain " [hash]" once a server has hashed the model: models match by the name before it.
QString modelName(const QString& title)
{
    if (title.endsWith(QLatin1Char(']'))) {
        const int open = title.lastIndexOf(QStringLiteral(" ["));
        if (open > 0)
            return title.left(open);
    }
    return title;
}

// The server's own title for a model name (empty: it has none).
QString titleFor(const QStringList& titles, const QString& model)
{
    for (const auto& t : titles)
        if (modelName(t) == modelName(model))
            return t;
    return {};
}

// The titles of a /sdapi/v1/sd-models answer.
QStringList modelTitles(const QByteArray& body)
{
    QStringList titles;
    for (const auto& m : QJsonDocument::fromJson(body).array())
        titles << m.toObject().value(QStringLiteral("title")).toString();
    return titles;
}

QImage imageFromBase64(const QJsonValue& v)
{
    QString s = v.toString();
    if (s.startsWith(QStringLiteral("data:")))
        s = s.mid(s.indexOf(QLatin1Char(',')) + 1);
    return QImage::fromData(QByteArray::fromBase64(s.toLatin1()), "PNG");
}

// What a server said when it refused a job: FastAPI's detail list, A1111's error body, or the HTTP status.
QString errorText(QNetworkReply* reply, const QByteArray& body)
{
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status == 0)
        return reply->errorString();
    const QJsonObject o = QJsonDocument::fromJson(body).object();
    QStringList parts;
    const QJsonValue detail = o.value(QStringLiteral("detail"));
    if (detail.isArray()) {
        for (const auto& d : detail.toArray()) {
            QStringList loc;
            for (const auto& l : d.toObject().value(QStringLiteral("loc")).toArray())
                if (l.toVariant().toString() != QStringLiteral("body"))
                    loc << l.toVariant().toString();
            parts << loc.join(QLatin1Char('.')) + QStringLiteral(": ")
                    + d.toObject().value(QStringLiteral("msg")).toString();
        }
    } else if (!detail.toString().isEmpty()) {
        parts << detail.toString();
    }
    if (!o.value(QStringLiteral("errors")).toString().isEmpty())
        parts << o.value(QStringLiteral("errors")).toString();
    return QStringLiteral("HTTP %1%2")
        .arg(status)
        .arg(parts.isEmpty() ? QString() : QStringLiteral(": ") + parts.join(QStringLiteral("; ")));
}

} // namespace

RemoteBackend::RemoteBackend(QObject* parent)
    : QObject(parent)
    , m_net(new QNetworkAccessManager(this))
{
    qRegisterMetaType<ls::ui::JobResult>();
}

RemoteBackend::~RemoteBackend()
{
    for (auto& s : m_servers)
        if (s->reply) {
            s->reply->disconnect(this);
            s->reply->abort();
        }
}

void RemoteBackend::setServers(const QList<RemoteServerConfig>& servers)
{
    if (servers == this->servers())
        return;
    for (auto& s : m_servers)
        if (s->job) { // a job on a server that is taken away fails; nothing else is lost
            s->reply->disconnect(this);
            s->reply->abort();
            Q_EMIT failed(s->job->id, tr("The server %1 was removed from the backends").arg(s->config.url));
        }
    m_servers.clear();
    for (const auto& c : servers) {
        auto s = std::make_unique<Server>();
        s->config = c;
        Server* raw = s.get();
        connect(&s->timer, &QTimer::timeout, this, [this, raw] { poll(*raw); });
        m_servers.push_back(std::move(s));
    }
    refreshModels();
    Q_EMIT modelsChanged(models());
}

QList<RemoteServerConfig> RemoteBackend::servers() const
{
    QList<RemoteServerConfig> out;
    for (const auto& s : m_servers)
        out << s->config;
    return out;
}

QStringList RemoteBackend::models() const
{
    QStringList out;
    for (const auto& s : m_servers)
        for (const auto& m : s->models)
            if (titleFor(out, m).isEmpty())
                out << m;
    return out;
}

int RemoteBackend::serversAnswering() const
{
    int n = 0;
    for (const auto& s : m_servers)
        n += s->up ? 1 : 0;
    return n;
}

QNetworkRequest RemoteBackend::requestFor(const Server& s, const QString& path) const
{
    QString base = s.config.url.trimmed();
    while (base.endsWith(QLatin1Char('/')))
        base.chop(1);
    QNetworkRequest req(QUrl(base + path));
    req.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    if (!s.config.user.isEmpty())
        req.setRawHeader(
            "Authorization", "Basic " + (s.config.user + QLatin1Char(':') + s.config.password).toUtf8().toBase64());
    return req;
}

void RemoteBackend::refreshModels()
{
    for (auto& s : m_servers)
        fetchModels(*s);
}

void RemoteBackend::fetchModels(Server& s)
{
    QNetworkRequest req = requestFor(s, QStringLiteral("/sdapi/v1/sd-models"));
    req.setTransferTimeout(15000);
    QNetworkReply* r = m_net->get(req);
    Server* raw = &s;
    connect(r, &QNetworkReply::finished, this, [this, r, raw] {
        r->deleteLater();
        const QByteArray body = r->readAll();
        if (r->error() == QNetworkReply::NoError) {
            raw->models = modelTitles(body);
            raw->up = true;
        } else {
            raw->up = false;
        }
        raw->heard = true;
        Q_EMIT modelsChanged(models());
        dispatch();
    });
}

void RemoteBackend::testServer(
    const RemoteServerConfig& config, std::function<void(bool, const QString&, QStringList)> done)
{
    Server probe;
    probe.config = config;
    QNetworkRequest req = requestFor(probe, QStringLiteral("/sdapi/v1/sd-models"));
    req.setTransferTimeout(15000);
    QNetworkReply* r = m_net->get(req);
    connect(r, &QNetworkReply::finished, this, [r, done] {
        r->deleteLater();
        const QByteArray body = r->readAll();
        if (r->error() != QNetworkReply::NoError) {
            done(false, errorText(r, body), {});
            return;
        }
        const QStringList titles = modelTitles(body);
        done(true, tr("%n model(s)", nullptr, titles.size()), titles);
    });
}

void RemoteBackend::enqueue(int id, const ls::pipeline::GenerationRequest& request, const QString& modelTitle)
{
    m_queue.push_back({ id, request, modelTitle, false });
    Q_EMIT queueChanged(queuedJobs());
    dispatch();
}

void RemoteBackend::dispatch()
{
    for (auto it = m_queue.begin(); it != m_queue.end();) {
        Server* free = nullptr;
        bool anyOffers = false, anyUnknown = false;
        for (auto& s : m_servers) {
            if (!s->up) {
                anyUnknown |= !s->heard; // not heard from yet
                continue;
            }
            if (titleFor(s->models, it->model).isEmpty())
                continue;
            anyOffers = true;
            if (!s->job && !free)
                free = s.get();
        }
        if (free) {
            Job job = std::move(*it);
            it = m_queue.erase(it);
            Q_EMIT queueChanged(queuedJobs());
            start(*free, std::move(job));
            continue;
        }
        if (!anyOffers && !anyUnknown) {
            const int id = it->id;
            const QString model = it->model;
            it = m_queue.erase(it);
            Q_EMIT queueChanged(queuedJobs());
            Q_EMIT failed(id,
                tr("No remote server that answers offers the model %1 (Settings > Backends; the job can be started "
                   "again once one does)")
                    .arg(model));
            continue;
        }
        ++it;
    }
}

void RemoteBackend::start(Server& s, Job job)
{
    ls::pipeline::ApiCall call;
    try {
        call = ls::pipeline::toApiCall(job.request, titleFor(s.models, job.model).toStdString());
    } catch (const ls::Error& e) {
        Q_EMIT failed(job.id, QString::fromStdString(e.what()));
        return;
    }
    const int id = job.id;
    s.job = std::move(job);
    s.cancelling = false;
    s.lastPreviewStep = -1;
    s.clock.start();
    s.reply
        = m_net->post(requestFor(s, QString::fromStdString(call.path)), QByteArray::fromStdString(call.body.dump()));
    Server* raw = &s;
    QNetworkReply* reply = s.reply;
    connect(reply, &QNetworkReply::finished, this, [this, raw, reply] { done(*raw, reply); });
    s.timer.start(pollIntervalMs);
    Q_EMIT dispatched(id, s.config.url);
    Q_EMIT started(id);
}

void RemoteBackend::poll(Server& s)
{
    if (!s.job || s.polling)
        return;
    s.polling = true;
    QNetworkRequest req = requestFor(s, QStringLiteral("/sdapi/v1/progress?skip_current_image=false"));
    req.setTransferTimeout(10000);
    QNetworkReply* r = m_net->get(req);
    const int id = s.job->id;
    Server* raw = &s;
    connect(r, &QNetworkReply::finished, this, [this, r, raw, id] {
        r->deleteLater();
        raw->polling = false;
        if (!raw->job || raw->job->id != id || r->error() != QNetworkReply::NoError)
            return;
        const QJsonObject p = QJsonDocument::fromJson(r->readAll()).object();
        const QJsonObject state = p.value(QStringLiteral("state")).toObject();
        if (state.value(QStringLiteral("job_count")).toInt() == 0)
            return; // not started yet (queued behind another client's job) or already done
        const int step = state.value(QStringLiteral("sampling_step")).toInt();
        const int total = state.value(QStringLiteral("sampling_steps")).toInt();
        const double elapsed = raw->clock.elapsed() / 1000.0;
        Q_EMIT progress(id, step, total, elapsed > 0 ? step / elapsed : 0,
            std::max(0.0, p.value(QStringLiteral("eta_relative")).toDouble()));
        if (p.value(QStringLiteral("current_image")).isString() && step != raw->lastPreviewStep) {
            const QImage img = imageFromBase64(p.value(QStringLiteral("current_image")));
            if (!img.isNull()) {
                raw->lastPreviewStep = step;
                Q_EMIT preview(id, step, img);
            }
        }
    });
}

void RemoteBackend::done(Server& s, QNetworkReply* reply)
{
    reply->deleteLater();
    s.timer.stop();
    if (s.reply != reply || !s.job)
        return;
    Job job = std::move(*s.job);
    s.job.reset();
    s.reply = nullptr;
    const QByteArray body = reply->readAll();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status == 0) { // no answer at all: the server is gone (or the network)
        s.up = false;
        Q_EMIT modelsChanged(models());
        const QString why = reply->errorString();
        bool elsewhere = false;
        for (const auto& o : m_servers)
            elsewhere |= o->up && !titleFor(o->models, job.model).isEmpty();
        if (!job.retried && !s.cancelling && elsewhere) {
            job.retried = true;
            m_queue.push_front(std::move(job));
            Q_EMIT queueChanged(queuedJobs());
        } else if (s.cancelling) {
            Q_EMIT cancelled(job.id);
        } else {
            Q_EMIT failed(job.id,
                tr("The server %1 stopped answering (%2). The job was not finished; nothing on the canvas changed: "
                   "press Generate to try again.")
                    .arg(s.config.url, why));
        }
        dispatch();
        return;
    }
    if (status != 200) {
        Q_EMIT failed(job.id, tr("The server %1 refused the job: %2").arg(s.config.url, errorText(reply, body)));
        dispatch();
        return;
    }
    if (s.cancelling) {
        Q_EMIT cancelled(job.id);
        dispatch();
        return;
    }
    const QJsonObject o = QJsonDocument::fromJson(body).object();
    const QJsonObject info = QJsonDocument::fromJson(o.value(QStringLiteral("info")).toString().toUtf8()).object();
    const QJsonArray infotexts = info.value(QStringLiteral("infotexts")).toArray();
    const QJsonArray seeds = info.value(QStringLiteral("all_seeds")).toArray();
    JobResult result;
    const QJsonArray list = o.value(QStringLiteral("images")).toArray();
    for (int i = 0; i < list.size(); ++i) {
        const QImage img = imageFromBase64(list[i]);
        if (img.isNull())
            continue;
        QString p = img.text(QStringLiteral("parameters"));
        if (p.isEmpty())
            p = infotexts.at(i).toString();
        QString js = img.text(QStringLiteral("latent_studio"));
        if (js.isEmpty()) { // another kind of server: our request, with the seed it used
            auto r = job.request;
            r.seed = seeds.at(i).toVariant().toLongLong();
            r.batch = 1;
            js = QString::fromStdString(r.toJson().dump());
        }
        result.pictures.push_back(
            { img.convertToFormat(QImage::Format_RGB888), p, js, seeds.at(i).toVariant().toLongLong() });
    }
    if (result.pictures.isEmpty())
        Q_EMIT failed(job.id, tr("The server %1 answered without a picture").arg(s.config.url));
    else {
        Q_EMIT progress(job.id, job.request.steps, job.request.steps, 0, 0); // the last poll may have missed the end
        Q_EMIT finished(job.id, result);
    }
    dispatch();
}

void RemoteBackend::interrupt(Server& s)
{
    s.cancelling = true;
    QNetworkReply* r = m_net->post(requestFor(s, QStringLiteral("/sdapi/v1/interrupt")), QByteArray("{}"));
    connect(r, &QNetworkReply::finished, r, &QObject::deleteLater);
}

void RemoteBackend::cancelCurrent()
{
    bool any = false;
    for (auto& s : m_servers)
        if (s->job && !s->cancelling) {
            interrupt(*s);
            any = true;
        }
    if (!any && !m_queue.empty()) {
        const int id = m_queue.front().id;
        m_queue.pop_front();
        Q_EMIT cancelled(id);
        Q_EMIT queueChanged(queuedJobs());
    }
}

void RemoteBackend::cancelJob(int id)
{
    for (auto& s : m_servers)
        if (s->job && s->job->id == id && !s->cancelling) {
            interrupt(*s);
            return;
        }
    for (auto it = m_queue.begin(); it != m_queue.end(); ++it)
        if (it->id == id) {
            m_queue.erase(it);
            Q_EMIT cancelled(id);
            Q_EMIT queueChanged(queuedJobs());
            return;
        }
}

void RemoteBackend::clearQueue()
{
    std::deque<Job> dropped;
    dropped.swap(m_queue);
    for (const auto& j : dropped)
        Q_EMIT cancelled(j.id);
    if (!dropped.empty())
        Q_EMIT queueChanged(0);
}

int RemoteBackend::queuedJobs() const { return static_cast<int>(m_queue.size()); }

bool RemoteBackend::busy() const
{
    if (!m_queue.empty())
        return true;
    for (const auto& s : m_servers)
        if (s->job)
            return true;
    return false;
}

} // namespace ls::ui

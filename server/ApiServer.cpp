// The HTTP side of `latent-cli serve`: cpp-httplib's server, authentication and limits, and the routes of
// AUTOMATIC1111's API; the jobs themselves run on the worker (ServerWorker.cpp).
#include "server/ApiServer.h"

#include "server/ServerWorker.h"

#include "io/ImageFile.h"
#include "pipeline/Infotext.h"
#include "pipeline/LoraFiles.h"
#include "pipeline/SamplerNames.h"
#include "util/Base64.h"
#include "util/Error.h"

#include <httplib.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <cstring>

namespace ls::server {

using nlohmann::json;

bool isLoopbackHost(const std::string& h)
{
    return h == "localhost" || h == "::1" || h == "[::1]" || h.rfind("127.", 0) == 0;
}

namespace {

void sendJson(httplib::Response& res, int status, const json& body)
{
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

// The socket of the connection a request came on, found by its peer address among this process's descriptors
// (cpp-httplib 0.11 does not hand it to handlers): polled while the client waits, so that a client that goes away
// frees its job. -1 when not found (the job then simply runs to its end).
int findClientSocket(const std::string& peerAddr, int peerPort, int localPort)
{
    DIR* dir = opendir("/proc/self/fd");
    if (!dir)
        return -1;
    int found = -1;
    while (dirent* e = readdir(dir)) {
        const int fd = std::atoi(e->d_name);
        if (fd <= 2)
            continue;
        sockaddr_storage peer {}, local {};
        socklen_t pl = sizeof peer, ll = sizeof local;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) != 0
            || getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0)
            continue;
        char addr[INET6_ADDRSTRLEN] = {};
        int pp = 0, lp = 0;
        if (peer.ss_family == AF_INET) {
            auto* p = reinterpret_cast<sockaddr_in*>(&peer);
            inet_ntop(AF_INET, &p->sin_addr, addr, sizeof addr);
            pp = ntohs(p->sin_port);
            lp = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
        } else if (peer.ss_family == AF_INET6) {
            auto* p = reinterpret_cast<sockaddr_in6*>(&peer);
            inet_ntop(AF_INET6, &p->sin6_addr, addr, sizeof addr);
            pp = ntohs(p->sin6_port);
            lp = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
        } else {
            continue;
        }
        if (pp == peerPort && lp == localPort && peerAddr == addr) {
            found = fd;
            break;
        }
    }
    closedir(dir);
    return found;
}

bool clientGone(int fd)
{
    if (fd < 0)
        return false;
    pollfd p { fd, POLLRDHUP, 0 };
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

json parseBody(const httplib::Request& req)
{
    try {
        return json::parse(req.body);
    } catch (const json::parse_error& e) {
        throw InvalidRequest({ { { "body", std::to_string(e.byte) }, std::string("invalid JSON: ") + e.what(),
            "value_error.jsondecode" } });
    } catch (const json::exception& e) { // e.g. a number out of range (1e400)
        throw InvalidRequest({ { { "body" }, std::string("invalid JSON: ") + e.what(), "value_error.jsondecode" } });
    }
}

// A1111's /sdapi/v1/memory, in its shape: RAM of the machine and of this process (bytes); no CUDA here.
json memoryInfo()
{
    auto kb = [](const char* file, const char* key) -> double {
        std::FILE* f = std::fopen(file, "r");
        if (!f)
            return 0;
        char line[256];
        double v = 0;
        const size_t n = std::strlen(key);
        while (std::fgets(line, sizeof line, f))
            if (std::strncmp(line, key, n) == 0)
                v = std::atof(line + n) * 1024.0;
        std::fclose(f);
        return v;
    };
    const double total = kb("/proc/meminfo", "MemTotal:"), free = kb("/proc/meminfo", "MemAvailable:");
    return { { "ram",
                 { { "free", free }, { "used", total - free }, { "total", total },
                     { "process", kb("/proc/self/status", "VmRSS:") } } },
        { "cuda", { { "error", "the server's memory report covers the CPU only" } } } };
}

bool checkAuth(const httplib::Request& req, const std::vector<std::pair<std::string, std::string>>& users)
{
    const std::string h = req.get_header_value("Authorization");
    if (h.rfind("Basic ", 0) != 0)
        return false;
    std::string decoded;
    try {
        decoded = base64Decode(h.substr(6));
    } catch (const Error&) {
        return false;
    }
    const auto colon = decoded.find(':');
    if (colon == std::string::npos)
        return false;
    const std::string user = decoded.substr(0, colon), pass = decoded.substr(colon + 1);
    bool ok = false;
    for (const auto& [u, p] : users) // compare all, in constant time per entry
        ok |= (u.size() == user.size() && p.size() == pass.size()
            && std::equal(u.begin(), u.end(), user.begin()) & std::equal(p.begin(), p.end(), pass.begin()));
    return ok;
}

} // namespace

struct ApiServer::Impl {
    ServerOptions o;
    std::unique_ptr<ServerWorker> worker;
    httplib::Server http;
    int port = 0;

    // Queues a job and waits for it, polling the client's connection so that a client that left frees it.
    void runJob(const httplib::Request& req, httplib::Response& res, std::shared_ptr<Task> task)
    {
        if (!worker->enqueue(task)) {
            sendJson(res, 503, { { "detail", "the queue is full (" + std::to_string(o.maxQueue) + " jobs waiting)" } });
            return;
        }
        const int fd = findClientSocket(req.remote_addr, req.remote_port, port);
        while (!task->waitFor(std::chrono::milliseconds(200))) {
            if (clientGone(fd)) {
                worker->abandon(task); // the task is shared: nothing here waits for it to end
                std::fprintf(
                    stderr, "serve: %s:%d went away; its job was dropped\n", req.remote_addr.c_str(), req.remote_port);
                return;
            }
        }
        sendJson(res, task->status, task->response);
    }

    template <typename F> void post(const char* path, F handler)
    {
        http.Post(path, [this, handler](const httplib::Request& req, httplib::Response& res) {
            try {
                handler(req, res);
            } catch (const InvalidRequest& e) {
                sendJson(res, 422, problemsDetail(e.problems()));
            }
        });
    }

    void routes(); // authentication, errors, then:
    void jobRoutes(); // txt2img, img2img, extras, options, interrupt, png-info
    void listRoutes(); // progress, models, samplers, schedulers, upscalers
    void moreRoutes(); // the rest of what A1111 and sd-webui-controlnet list
};

ApiServer::ApiServer(ServerOptions options)
    : d(std::make_unique<Impl>())
{
    d->o = std::move(options);
    d->worker = std::make_unique<ServerWorker>(d->o);
    d->routes();
}

ApiServer::~ApiServer() { stop(); }

int ApiServer::bind()
{
    if (!isLoopbackHost(d->o.host) && d->o.auth.empty())
        fail(ErrorKind::InvalidInput,
            "--host " + d->o.host
                + " listens beyond this machine: set --api-auth USER:PASS as well (clients then log in with HTTP "
                  "basic authentication)");
    const int threads = d->o.httpThreads;
    d->http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    d->http.set_payload_max_length(static_cast<size_t>(d->o.maxBodyBytes));
    d->http.set_read_timeout(60, 0);
    if (d->o.port == 0)
        d->port = d->http.bind_to_any_port(d->o.host);
    else
        d->port = d->http.bind_to_port(d->o.host, d->o.port) ? d->o.port : -1;
    if (d->port <= 0)
        fail(ErrorKind::Io,
            "cannot listen on " + d->o.host + ":" + std::to_string(d->o.port)
                + " (in use, or not an address of this machine)");
    d->worker->start();
    return d->port;
}

void ApiServer::serve() { d->http.listen_after_bind(); }

void ApiServer::stop()
{
    d->http.stop();
    if (d->worker)
        d->worker->stop();
}

void ApiServer::Impl::routes()
{
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        if (o.auth.empty() || checkAuth(req, o.auth))
            return httplib::Server::HandlerResponse::Unhandled;
        res.set_header("WWW-Authenticate", "Basic");
        sendJson(res, 401, { { "detail", "Incorrect username or password" } });
        return httplib::Server::HandlerResponse::Handled;
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown error";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        sendJson(res, 500, errorBody("Internal", what));
    });
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty())
            sendJson(res, res.status,
                { { "detail",
                    res.status == 404       ? "Not Found"
                        : res.status == 413 ? "Request Entity Too Large"
                                            : "Error" } });
    });

    jobRoutes();
    listRoutes();
    moreRoutes();
}

void ApiServer::Impl::jobRoutes()
{
    post("/sdapi/v1/txt2img", [this](const httplib::Request& req, httplib::Response& res) {
        runJob(req, res, worker->generationTask(parseTxt2Img(worker->withOptions(parseBody(req)), o.maxPixels)));
    });
    post("/sdapi/v1/img2img", [this](const httplib::Request& req, httplib::Response& res) {
        runJob(req, res, worker->generationTask(parseImg2Img(worker->withOptions(parseBody(req)), o.maxPixels)));
    });
    post("/sdapi/v1/extra-single-image", [this](const httplib::Request& req, httplib::Response& res) {
        runJob(req, res, worker->extrasTask(parseExtrasSingle(parseBody(req), o.maxPixels)));
    });
    post("/sdapi/v1/options", [this](const httplib::Request& req, httplib::Response& res) {
        const json body = parseBody(req);
        if (!body.is_object())
            throw InvalidRequest({ { { "body" }, "value is not a valid dict", "type_error.dict" } });
        runJob(req, res, worker->optionsTask(body));
    });
    post("/sdapi/v1/interrupt", [this](const httplib::Request&, httplib::Response& res) {
        worker->interrupt(false);
        sendJson(res, 200, json::object());
    });
    post("/sdapi/v1/skip", [this](const httplib::Request&, httplib::Response& res) {
        worker->interrupt(true);
        sendJson(res, 200, nullptr);
    });
    post("/sdapi/v1/refresh-checkpoints", [this](const httplib::Request&, httplib::Response& res) {
        worker->catalog().refresh();
        sendJson(res, 200, nullptr);
    });
    post("/sdapi/v1/refresh-loras",
        [](const httplib::Request&, httplib::Response& res) { sendJson(res, 200, nullptr); });
    post("/sdapi/v1/png-info", [](const httplib::Request& req, httplib::Response& res) {
        const json body = parseBody(req);
        if (!body.is_object() || !body.contains("image") || !body["image"].is_string())
            throw InvalidRequest({ { { "body", "image" }, "field required", "value_error.missing" } });
        io::ImageWithMetadata img = decodeApiImageFile(body["image"].get<std::string>(), "body.image");
        const std::string info = img.metadata.count("parameters") ? img.metadata["parameters"] : std::string();
        json items = json::object();
        for (const auto& [k, v] : img.metadata)
            if (k != "parameters")
                items[k] = v;
        json params = json::object();
        if (!info.empty()) {
            const auto p = pipeline::parseInfotext(info);
            params["Prompt"] = p.prompt;
            params["Negative prompt"] = p.negativePrompt;
            for (const auto& [k, v] : p.params)
                params[k] = v;
        }
        sendJson(res, 200, { { "info", info }, { "items", items }, { "parameters", params } });
    });
}

void ApiServer::Impl::listRoutes()
{
    http.Get("/sdapi/v1/progress", [this](const httplib::Request& req, httplib::Response& res) {
        const std::string skip = req.get_param_value("skip_current_image");
        sendJson(res, 200, worker->progress(skip == "true" || skip == "True" || skip == "1"));
    });
    http.Get("/sdapi/v1/sd-models", [this](const httplib::Request&, httplib::Response& res) {
        json out = json::array();
        for (const auto& e : worker->catalog().checkpoints())
            out.push_back({ { "title", e.title() }, { "model_name", e.modelName },
                { "hash", e.shortHash.empty() ? json(nullptr) : json(e.shortHash) },
                { "sha256", e.sha256.empty() ? json(nullptr) : json(e.sha256) }, { "filename", e.path.string() },
                { "config", nullptr } });
        sendJson(res, 200, out);
    });
    http.Get("/sdapi/v1/samplers", [](const httplib::Request&, httplib::Response& res) {
        json out = json::array();
        for (const auto& name : pipeline::samplerNames())
            out.push_back(
                { { "name", name }, { "aliases", pipeline::samplerAliasNames(name) }, { "options", json::object() } });
        sendJson(res, 200, out);
    });
    http.Get("/sdapi/v1/schedulers", [](const httplib::Request&, httplib::Response& res) {
        json out = json::array();
        for (const auto& label : pipeline::scheduleNames()) {
            const auto aliases = pipeline::scheduleAliasNames(label);
            out.push_back(
                { { "name", aliases.empty() ? label : aliases.front() }, { "label", label }, { "aliases", nullptr },
                    { "default_rho", label == "Karras" ? 7.0 : -1.0 }, { "need_inner_model", false } });
        }
        sendJson(res, 200, out);
    });
    http.Get("/sdapi/v1/upscalers", [this](const httplib::Request&, httplib::Response& res) {
        json out = json::array();
        for (const auto& u : worker->upscalers())
            out.push_back({ { "name", u.first }, { "model_name", u.second.empty() ? json(nullptr) : json(u.first) },
                { "model_path", u.second.empty() ? json(nullptr) : json(u.second) }, { "model_url", nullptr },
                { "scale", u.second.empty() ? 4.0 : 4.0 } });
        sendJson(res, 200, out);
    });
}

void ApiServer::Impl::moreRoutes()
{
    http.Get("/sdapi/v1/loras", [this](const httplib::Request&, httplib::Response& res) {
        json out = json::array();
        for (const auto& l : pipeline::listLoraFiles(worker->loraFolders()))
            out.push_back({ { "name", l.name }, { "alias", l.name }, { "path", l.path.string() },
                { "metadata", json::object() } });
        sendJson(res, 200, out);
    });
    http.Get("/sdapi/v1/options",
        [this](const httplib::Request&, httplib::Response& res) { sendJson(res, 200, worker->options()); });
    http.Get("/sdapi/v1/cmd-flags", [this](const httplib::Request&, httplib::Response& res) {
        sendJson(res, 200,
            { { "api", true }, { "nowebui", true }, { "listen", !isLoopbackHost(o.host) }, { "port", port },
                { "api_auth", o.auth.empty() ? json(nullptr) : json("***") } });
    });
    for (const char* empty : { "/sdapi/v1/sd-vae", "/sdapi/v1/prompt-styles", "/sdapi/v1/hypernetworks",
             "/sdapi/v1/face-restorers", "/sdapi/v1/realesrgan-models", "/sdapi/v1/latent-upscale-modes" })
        http.Get(empty, [](const httplib::Request&, httplib::Response& res) { sendJson(res, 200, json::array()); });
    // webuiapi asks for the scripts on start; ours are always-on ones (alwayson_scripts)
    http.Get("/sdapi/v1/scripts", [](const httplib::Request&, httplib::Response& res) {
        const json names = { "controlnet", "latent studio layout" };
        sendJson(res, 200, { { "txt2img", names }, { "img2img", { "controlnet" } } });
    });
    http.Get("/sdapi/v1/embeddings", [](const httplib::Request&, httplib::Response& res) {
        sendJson(res, 200, { { "loaded", json::object() }, { "skipped", json::object() } });
    });
    http.Get(
        "/sdapi/v1/memory", [](const httplib::Request&, httplib::Response& res) { sendJson(res, 200, memoryInfo()); });
    // sd-webui-controlnet's listing, for clients that fill their ControlNet pickers from it
    http.Get("/controlnet/model_list", [this](const httplib::Request&, httplib::Response& res) {
        json names = json::array();
        for (const auto& e : worker->catalog().controlNets())
            names.push_back(e.modelName);
        sendJson(res, 200, { { "model_list", names } });
    });
    http.Get("/controlnet/module_list", [](const httplib::Request&, httplib::Response& res) {
        sendJson(res, 200, { { "module_list", { "none", "canny", "invert", "inpaint_only", "tile_resample" } } });
    });
    http.Get("/controlnet/version", [](const httplib::Request&, httplib::Response& res) {
        sendJson(res, 200, { { "version", 2 } });
    });
    http.Get(
        "/internal/ping", [](const httplib::Request&, httplib::Response& res) { sendJson(res, 200, json::object()); });
}

} // namespace ls::server

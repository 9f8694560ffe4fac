#pragma once
// `latent-cli serve`: the AUTOMATIC1111 web API (/sdapi/v1/...) over HTTP (cpp-httplib), with one engine behind one
// queue. Jobs run one at a time in the order they came; a client that disconnects while its job waits or runs frees
// it (the job is dropped or stopped within one UNet call). Torch-free header.
#include "pipeline/Engine.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace ls::server {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 7860; // 0: any free port (bind() says which)
    std::vector<std::pair<std::string, std::string>> auth; // HTTP basic users (--api-auth USER:PASS,...)
    std::vector<std::filesystem::path> modelDirs, controlNetDirs, loraDirs, embeddingDirs;
    bool bundled = true; // offer the bundled default model (and its upscaler)
    std::string model; // loaded first: a title/name from the catalog (empty: the first one)
    pipeline::EngineLoadOptions load;
    int64_t maxBodyBytes = 64LL << 20; // larger requests get 413
    int64_t maxPixels = 2048LL * 2048; // width x height of a job, and of any image sent
    int maxQueue = 32; // jobs waiting beyond this get 503
    int httpThreads = 48; // connections served at once (each waiting client holds one)
};

class ApiServer {
public:
    explicit ApiServer(ServerOptions options);
    ~ApiServer();
    // Binds the socket; returns the port. Throws ls::Error (InvalidInput: a non-local host without --api-auth; Io:
    // the address cannot be bound).
    int bind();
    // Serves until stop() (from another thread or a signal handler's thread).
    void serve();
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

// Whether a host name binds to this machine only (127.0.0.0/8, ::1, localhost).
bool isLoopbackHost(const std::string& host);

} // namespace ls::server

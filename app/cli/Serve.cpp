#include "cli/Serve.h"

#include "pipeline/Engine.h"
#include "util/Error.h"

#ifdef LS_WITH_SERVER
#include "server/ApiServer.h"
#endif

#include <csignal>
#include <pthread.h>
#include <cstdio>
#include <iostream>
#include <thread>

namespace ls::cli {

struct ServeOptions {
    std::string host = "127.0.0.1";
    int port = 7860;
    std::vector<std::string> auth, models, controlNets, loras, embeddings;
    std::string model, vocab, device = "cpu", dtype = "fp32";
    int threads = 0;
    int maxSide = 2048;
    int maxBodyMb = 64;
    int maxQueue = 32;
    bool noBundled = false;
};

std::shared_ptr<ServeOptions> addServeCommand(CLI::App& app, CLI::App** command)
{
    auto o = std::make_shared<ServeOptions>();
    auto* cmd = app.add_subcommand("serve",
        "Serve the AUTOMATIC1111 web API (/sdapi/v1: txt2img, img2img, progress, interrupt, models, options, ...) "
        "for its clients; jobs run one at a time (docs/server.md)");
    cmd->add_option("--host", o->host, "Address to listen on (anything but 127.0.0.1/localhost needs --api-auth)");
    cmd->add_option("--port", o->port, "Port (0: any free port, printed on start)")->check(CLI::Range(0, 65535));
    cmd->add_option("--api-auth", o->auth, "USER:PASS (several: comma-separated or repeated); HTTP basic auth")
        ->delimiter(',');
    cmd->add_option("--models", o->models, "Folders of checkpoints (.safetensors/.ckpt) and diffusers folders")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--model", o->model, "The model loaded first (a name from --models; default: the first)");
    cmd->add_option("--controlnet-dir", o->controlNets, "Folders of ControlNet files")->check(CLI::ExistingDirectory);
    cmd->add_option("--lora-dir", o->loras, "Folders of LoRA files (besides each model's loras/ folder)")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--embedding-dir", o->embeddings, "Folders of textual-inversion embeddings")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--vocab", o->vocab, "CLIP vocabulary (bpe_simple_vocab_16e6.txt.gz or its folder)");
    cmd->add_flag("--no-bundled", o->noBundled, "Do not offer the bundled default model and its upscaler");
    cmd->add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember(pipeline::deviceNames()));
    cmd->add_option("--dtype", o->dtype, "Weights: fp32, fp16 or bf16")
        ->check(CLI::IsMember({ "fp32", "fp16", "bf16" }));
    cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)");
    cmd->add_option("--max-size", o->maxSide,
           "Largest picture side a client may ask for or send, in pixels (the limit is its square's pixel count)")
        ->check(CLI::Range(64, 16384));
    cmd->add_option("--max-body-mb", o->maxBodyMb, "Largest request body in MiB (larger: HTTP 413)")
        ->check(CLI::Range(1, 4096));
    cmd->add_option("--max-queue", o->maxQueue, "Jobs waiting at most (more: HTTP 503)")->check(CLI::Range(1, 10000));
    *command = cmd;
    return o;
}

#ifdef LS_WITH_SERVER
int runServe(const ServeOptions& o)
{
    server::ServerOptions so;
    so.host = o.host;
    so.port = o.port;
    for (const auto& a : o.auth) {
        const auto colon = a.find(':');
        if (colon == std::string::npos || colon == 0)
            fail(ErrorKind::InvalidInput, "--api-auth '" + a + "': expected USER:PASS");
        so.auth.emplace_back(a.substr(0, colon), a.substr(colon + 1));
    }
    for (const auto& m : o.models)
        so.modelDirs.emplace_back(m);
    for (const auto& m : o.controlNets)
        so.controlNetDirs.emplace_back(m);
    for (const auto& m : o.loras)
        so.loraDirs.emplace_back(m);
    for (const auto& m : o.embeddings)
        so.embeddingDirs.emplace_back(m);
    so.bundled = !o.noBundled;
    so.model = o.model;
    so.load.device = pipeline::findDevice(o.device).value_or(pipeline::Device::Cpu);
    so.load.vocabulary = o.vocab;
    so.load.dtype = o.dtype;
    so.load.threads = o.threads;
    so.maxPixels = static_cast<int64_t>(o.maxSide) * o.maxSide;
    so.maxBodyBytes = static_cast<int64_t>(o.maxBodyMb) << 20;
    so.maxQueue = o.maxQueue;
    // SIGINT/SIGTERM stop the server from a thread of its own (blocked everywhere else, taken by sigwait)
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    server::ApiServer server(so);
    const int port = server.bind();
    // stdout, flushed: scripts and tests read the port from this line
    std::cout << "latent-cli serve: listening on http://"
              << (o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host) << ":" << port << std::endl;
    std::thread stopper([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        server.stop();
    });
    server.serve();
    pthread_kill(stopper.native_handle(), SIGTERM); // wakes the stopper when serve() ended by itself
    stopper.join();
    std::cerr << "latent-cli serve: stopped" << std::endl;
    return 0;
}
#else
int runServe(const ServeOptions&)
{
    fail(ErrorKind::Unsupported,
        "this latent-cli was built without the HTTP server (cpp-httplib was not found: apt-get install "
        "libcpp-httplib-dev and configure again)");
}
#endif

} // namespace ls::cli

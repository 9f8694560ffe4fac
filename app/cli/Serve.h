#pragma once
#include <CLI/CLI.hpp>

#include <memory>

namespace ls::cli {

struct ServeOptions;
// `latent-cli serve`: the AUTOMATIC1111 API (server/ApiServer.h). Without cpp-httplib in the build the command
// exists and says so.
std::shared_ptr<ServeOptions> addServeCommand(CLI::App& app, CLI::App** command);
int runServe(const ServeOptions& options);

} // namespace ls::cli

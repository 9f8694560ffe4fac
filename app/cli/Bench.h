#pragma once
#include "tools/DevTools.h"

#include <CLI/CLI.hpp>

namespace ls::cli {

void addBenchOptions(CLI::App* cmd, tools::BenchOptions& o);

} // namespace ls::cli

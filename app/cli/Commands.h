#pragma once
#include <string>
#include <vector>

namespace ls::cli {

int run(int argc, char** argv);

// Subcommands, each in its own file.
int runGolden(const std::vector<std::string>& dirs, bool verbose, const std::string& pendingFile = {});

} // namespace ls::cli

#pragma once
#include <string>
#include <vector>

namespace ls::cli {

int run(int argc, char** argv);

} // namespace ls::cli

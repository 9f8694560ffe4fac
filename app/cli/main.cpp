// latent-cli: the headless front end. Argument parsing and wiring only; the work is in core/.
#include "cli/Commands.h"

#include "util/Error.h"

#include <cstdio>
#include <exception>

int main(int argc, char** argv)
{
    try {
        return ls::cli::run(argc, argv);
    } catch (const ls::Error& e) {
        std::fprintf(stderr, "latent-cli: %s: %s\n", ls::errorKindName(e.kind()), e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "latent-cli: error: %s\n", e.what());
        return 2;
    }
}

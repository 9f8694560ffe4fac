// latent-cli: the headless front end. Argument parsing and wiring only; the work is in core/.
#include "cli/Commands.h"

#include "util/Error.h"
#include "util/Threads.h"

#include <cstdio>
#include <malloc.h>
#include <exception>

int main(int argc, char** argv)
{
    ls::restartWithPassiveOpenMpWait(argv);
    // Keep freed tensor memory in the heap instead of returning every large block to the kernel: without this a
    // third of the CPU time goes to page faults on fresh temporaries (measured: see docs/benchmarks.md).
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
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

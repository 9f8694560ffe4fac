#include "util/Threads.h"

#include <ATen/Parallel.h>

#include <cstdlib>
#include <dlfcn.h>
#include <unistd.h>
#include <thread>

namespace ls {

int defaultThreadCount() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

void configureThreads(int threads)
{
    const int n = threads > 0 ? threads : defaultThreadCount();
    at::set_num_threads(n);
    // OpenBLAS built on OpenMP shares libtorch's OpenMP pool: its matrix products may use every thread (and run on one
    // inside libtorch's own parallel regions). The pthread build starts a second pool that fights libtorch's OpenMP
    // threads for the cores, so it is kept to one thread.
    using SetThreads = void (*)(int);
    using GetParallel = int (*)();
    auto set = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    auto parallel = reinterpret_cast<GetParallel>(::dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
    if (set)
        set(parallel && parallel() == 2 ? n : 1);
}

void restartWithPassiveOpenMpWait(char** argv)
{
    if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT"))
        return;
    if (::setenv("GOMP_SPINCOUNT", "2000", 1) != 0)
        return;
    ::execv("/proc/self/exe", argv);
    // No new start (no /proc, or the file was replaced): carry on with the policy this process already has.
}

} // namespace ls

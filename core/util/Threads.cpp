#include "util/Threads.h"

#include <ATen/Parallel.h>

#include <dlfcn.h>
#include <thread>

namespace ls {

int defaultThreadCount() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

void configureThreads(int threads)
{
    at::set_num_threads(threads > 0 ? threads : defaultThreadCount());
    using SetThreads = void (*)(int);
    if (auto fn = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
        fn(1);
}

} // namespace ls

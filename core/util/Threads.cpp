#include "util/Threads.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <thread>

namespace ls {

namespace {

std::atomic<int> g_configured { 0 }; // what configureThreads set: the most threads a job may use

void applyThreads(int n)
{
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

} // namespace

int defaultThreadCount() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

void configureThreads(int threads)
{
    const int n = threads > 0 ? threads : defaultThreadCount();
    g_configured = n;
    applyThreads(n);
}

int runningTasksIn(const std::string& procStat)
{
    std::istringstream in(procStat);
    std::string key;
    long long value = 0;
    while (in >> key) {
        if (key == "procs_running" && (in >> value))
            return static_cast<int>(value);
        in.ignore(1 << 20, '\n');
    }
    return -1;
}

int otherRunnableTasks()
{
    int least = -1;
    for (int i = 0; i < 3; ++i) {
        if (i > 0)
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        std::ifstream f("/proc/stat");
        std::stringstream ss;
        ss << f.rdbuf();
        const int n = runningTasksIn(ss.str());
        if (n < 0)
            return 0; // no /proc: no information
        least = least < 0 ? n : std::min(least, n);
    }
    return std::max(0, least - 1); // the calling thread is running
}

int threadsForLoad(int configured, int others, int cores)
{
    return std::clamp(cores - others, 1, std::max(1, configured));
}

void adaptThreadsToLoad()
{
    const int configured = g_configured.load();
    if (configured <= 1)
        return;
    static const std::string mode
        = std::getenv("LS_ADAPT_THREADS") ? std::getenv("LS_ADAPT_THREADS") : ""; // 0, verbose
    if (mode == "0")
        return;
    thread_local std::chrono::steady_clock::time_point last {};
    const auto now = std::chrono::steady_clock::now();
    if (last != std::chrono::steady_clock::time_point {} && now - last < std::chrono::milliseconds(200))
        return;
    last = now;
    const int others = otherRunnableTasks();
    const int want = threadsForLoad(configured, others, defaultThreadCount());
    if (mode == "verbose")
        std::fprintf(stderr, "threads: %d other runnable, %d -> %d\n", others, at::get_num_threads(), want);
    if (want != at::get_num_threads())
        applyThreads(want);
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

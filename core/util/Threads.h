#pragma once
// CPU thread settings for libtorch and the BLAS underneath it.
#include <string>

namespace ls {

// Sets libtorch's intra-op threads (0 = all cores) and OpenBLAS's: as many with the OpenMP build of OpenBLAS (which
// shares libtorch's OpenMP pool; the build links to it, see CMakeLists.txt), one with the pthread build, whose own pool
// fights libtorch's for the cores (measured on 2 cores: SD1 guided step at 256x256 4.45 s -> 3.48 s with one thread,
// 2.85 s with the OpenMP build on both; see docs/benchmarks.md).
void configureThreads(int threads);
int defaultThreadCount();

// OpenMP threads that finish their share wait for the others by spinning (GNU OpenMP: 300 000 turns, then sleep). On a
// machine that also runs anything else, a spinning thread holds a core that its descheduled partner needs: with one
// busy process beside it, the bundled model's 20-step image took 4-40 s instead of 0.6 s (docs/benchmarks.md).
// 2000 turns keep the idle speed (0.61 s) and give the core back soon enough under load (1.8 s); fully passive
// waiting is faster under load (0.9 s) but 30% slower idle. libgomp reads its settings only when it loads, before
// main(), so the front ends call this first thing: when neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set it sets
// GOMP_SPINCOUNT=2000 and executes the program again (/proc/self/exe, same arguments). Either variable set by the
// user wins (OMP_WAIT_POLICY=PASSIVE on a busy desktop, ACTIVE on a dedicated server).
// Returns only when no new start was needed or it failed.
void restartWithPassiveOpenMpWait(char** argv);

// Adapts the threads to the load, between model calls (the pipeline calls it before each one; at most every 200 ms,
// about 1 ms each): as many as the cores other programs leave free, at least one, at most what configureThreads set.
// Two threads sharing two cores with a busy program wait for each other at every barrier while one of them is
// descheduled; one thread does not wait at all (docs/benchmarks.md, "Under load"). LS_ADAPT_THREADS=0 turns it off,
// LS_ADAPT_THREADS=verbose prints each choice on stderr.
void adaptThreadsToLoad();
// Its parts: runnable threads of the machine besides the caller (/proc/stat's procs_running, the least of three
// readings 0.5 ms apart, so that a short burst elsewhere is not load; 0 without /proc), the count in a /proc/stat text
// (-1 when absent), and the choice.
int otherRunnableTasks();
int runningTasksIn(const std::string& procStat);
int threadsForLoad(int configured, int others, int cores);

} // namespace ls

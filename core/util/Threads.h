#pragma once
// CPU thread settings for libtorch and the BLAS underneath it.
namespace ls {

// Sets libtorch's intra-op threads (0 = all cores) and OpenBLAS's: as many with the OpenMP build of OpenBLAS (which
// shares libtorch's OpenMP pool; the build links to it, see CMakeLists.txt), one with the pthread build, whose own pool
// fights libtorch's for the cores (measured on 2 cores: SD1 guided step at 256x256 4.45 s -> 3.48 s with one thread,
// 2.85 s with the OpenMP build on both; see docs/benchmarks.md).
void configureThreads(int threads);
int defaultThreadCount();

// OpenMP threads that finish their share wait for the others by spinning (GNU OpenMP: 300 000 turns, then sleep). On a
// machine that also runs anything else, a spinning thread holds a core that its descheduled partner needs: with one
// busy process beside it, the bundled model's 20-step image took 20-40 s instead of 0.9 s (docs/benchmarks.md).
// Passive waiting gives that core back at once and costs nothing measurable on an idle machine. libgomp reads
// OMP_WAIT_POLICY only when it loads, before main(), so the front ends call this first thing: when neither
// OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set it sets OMP_WAIT_POLICY=PASSIVE and executes the program again
// (/proc/self/exe, same arguments). A user who wants spinning (a dedicated server) sets OMP_WAIT_POLICY=ACTIVE.
// Returns only when no new start was needed or it failed.
void restartWithPassiveOpenMpWait(char** argv);

} // namespace ls

#pragma once
// CPU thread settings for libtorch and the BLAS underneath it.
namespace ls {

// Sets libtorch's intra-op threads (0 = all cores) and OpenBLAS's: as many with the OpenMP build of OpenBLAS (which
// shares libtorch's OpenMP pool; the build links to it, see CMakeLists.txt), one with the pthread build, whose own pool
// fights libtorch's for the cores (measured on 2 cores: SD1 guided step at 256x256 4.45 s -> 3.48 s with one thread,
// 2.85 s with the OpenMP build on both; see docs/benchmarks.md).
void configureThreads(int threads);
int defaultThreadCount();

} // namespace ls

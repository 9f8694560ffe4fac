#pragma once
// CPU thread settings for libtorch and the BLAS underneath it.
namespace ls {

// Sets libtorch's intra-op threads (0 = all cores) and limits OpenBLAS's own pthread pool to one thread: libtorch
// already splits the work across cores, and two pools fighting over the same cores cost up to half the speed
// (measured on 2 cores: SD1 guided step at 256x256 4.45 s -> 3.48 s, bundled-model step 69 ms -> 29 ms, training
// step 2.2 s -> 1.1 s; see docs/benchmarks.md).
void configureThreads(int threads);
int defaultThreadCount();

} // namespace ls

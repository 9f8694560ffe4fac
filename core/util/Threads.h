#pragma once
// CPU thread settings for libtorch and the BLAS underneath it.
namespace ls {

// Sets libtorch's intra-op threads (0 = all cores). When singleThreadedBlas is set, OpenBLAS's own pthread pool is
// limited to one thread: libtorch already splits batched convolutions across cores, and two pools on two cores
// halve the speed (measured: training step 2.2 s -> 1.1 s, see docs/benchmarks.md).
void configureThreads(int threads, bool singleThreadedBlas);
int defaultThreadCount();

} // namespace ls

// What addon.cc's single kernels and cnn_step.cc's whole training step share: the process's
// oneDNN engine and stream, and per-channel sums that do not depend on timing.
#pragma once
#include <napi.h>
#include <dnnl.hpp>
#include <omp.h>

#include <cstdint>
#include <vector>

namespace linea {

dnnl::engine& cpu_engine();
dnnl::stream& cpu_stream();

// The per-channel sums of f(row r, channel ch) over rows, each thread summing its static share of
// rows in double, then the threads' partials added in thread order: the result depends on the
// thread count, never on timing.
template <typename Term>
void channel_sums(int64_t rows, int64_t c, std::vector<double>& out, Term term) {
  int threads = omp_get_max_threads();
  std::vector<double> partial(static_cast<size_t>(threads) * c, 0.0);
#pragma omp parallel if (rows * c > 32768)
  {
    double* __restrict mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * c;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) term(r, mine);
  }
  out.assign(c, 0.0);
  for (int t = 0; t < threads; t++)
    for (int64_t ch = 0; ch < c; ch++) out[ch] += partial[static_cast<size_t>(t) * c + ch];
}

// Whether a 3×3, stride-1 convolution of ci → co channels over h×w maps tries Winograd F(4×4,
// 3×3) before the direct algorithm (oneDNN implements it on AVX-512; a layer or CPU it refuses
// gets the direct kernels). Forward and both gradients at batch 128 on the 2-core dev machine
// (direct → Winograd, each the median of 20): 32→32 at 28×28 25.4 → 14.0 ms, 32→64 at 14×14
// 12.2 → 7.2 ms, 32→32 at 8×8 1.7 → 1.0 ms; but 16→16 at 14×14 1.4 → 2.6 ms and 1→32 at 28×28
// 5.3 → 8.2 ms: its transforms only pay with 32 channels or more on both sides, and its 4×4
// output tiles waste work on maps under 8×8. LINEA_WINOGRAD=0 turns it off, for results
// bit-comparable with the direct kernels'.
bool winograd_wanted(int64_t h, int64_t w, int64_t ci, int64_t co);

// Adds the CnnStep class (cnn_step.cc) to the addon's exports.
void register_cnn_step(Napi::Env env, Napi::Object exports);

}  // namespace linea

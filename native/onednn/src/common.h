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

// Adds the CnnStep class (cnn_step.cc) to the addon's exports.
void register_cnn_step(Napi::Env env, Napi::Object exports);

}  // namespace linea

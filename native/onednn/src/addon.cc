// linea's native CPU kernels: convolutions and matmul through oneDNN (the library PyTorch's CPU
// convolutions use), pooling and PReLU as OpenMP loops. Every function works on caller-owned
// float32 buffers (the tfjs cpu backend's own TypedArrays), so no data is copied across the
// boundary; shapes are channels-last (NHWC) with HWIO filters, as tfjs stores them.
#include "common.h"

#include <cstdlib>
#include <string>
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace linea {

engine& cpu_engine() {
  static engine eng(engine::kind::cpu, 0);
  return eng;
}

stream& cpu_stream() {
  static stream strm(cpu_engine());
  return strm;
}

bool winograd_wanted(int64_t h, int64_t w, int64_t ci, int64_t co) {
  static const bool allowed = [] {
    const char* v = std::getenv("LINEA_WINOGRAD");
    return !(v && std::string(v) == "0");
  }();
  return allowed && h >= 8 && w >= 8 && ci >= 32 && co >= 32;
}

}  // namespace linea

namespace {

using linea::channel_sums;
using linea::cpu_engine;
using linea::cpu_stream;

float* f32(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Float32Array");
  }
  auto a = v.As<Napi::Float32Array>();
  return a.Data();
}

size_t f32len(const Napi::Value& v) { return v.As<Napi::Float32Array>().ElementLength(); }

std::vector<int64_t> dims(const Napi::Value& v, size_t n, const char* what) {
  if (!v.IsArray() || v.As<Napi::Array>().Length() != n) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array of " + std::to_string(n) + " numbers");
  }
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; i++) out[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return out;
}

// The geometry every convolution call shares, in oneDNN's terms.
struct Conv {
  memory::dim n, h, w, ci, kh, kw, co, oh, ow;
  memory::dims strides, dilates, pad_l, pad_r;
  memory::desc src() const { return {{n, ci, h, w}, dt::f32, tag::nhwc}; }
  memory::desc dst() const { return {{n, co, oh, ow}, dt::f32, tag::nhwc}; }
  memory::desc wei_user() const { return {{co, ci, kh, kw}, dt::f32, tag::hwio}; }
  memory::desc wei_any() const { return {{co, ci, kh, kw}, dt::f32, tag::any}; }
  memory::desc bias() const { return {{co}, dt::f32, tag::x}; }
};

// args: xShape [N,H,W,Ci], wShape [KH,KW,Ci,Co], outShape [N,OH,OW,Co], strides [2], pads [t,l,b,r], dilations [2]
Conv geometry(const Napi::CallbackInfo& info, size_t at) {
  auto x = dims(info[at], 4, "input shape");
  auto w = dims(info[at + 1], 4, "filter shape");
  auto o = dims(info[at + 2], 4, "output shape");
  auto s = dims(info[at + 3], 2, "strides");
  auto p = dims(info[at + 4], 4, "pads");
  auto d = dims(info[at + 5], 2, "dilations");
  Conv c;
  c.n = x[0]; c.h = x[1]; c.w = x[2]; c.ci = x[3];
  c.kh = w[0]; c.kw = w[1]; c.co = w[3];
  c.oh = o[1]; c.ow = o[2];
  c.strides = {s[0], s[1]};
  c.dilates = {d[0] - 1, d[1] - 1};  // oneDNN counts the gaps, tfjs the rate
  c.pad_l = {p[0], p[1]};
  c.pad_r = {p[2], p[3]};
  return c;
}

convolution_forward::primitive_desc forward_pd(const Conv& c, bool with_bias) {
  auto d = with_bias
    ? convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, c.src(), c.wei_any(), c.bias(), c.dst(), c.strides, c.dilates, c.pad_l, c.pad_r)
    : convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, c.src(), c.wei_any(), c.dst(), c.strides, c.dilates, c.pad_l, c.pad_r);
  return convolution_forward::primitive_desc(d, cpu_engine());
}

// A user buffer in the layout a primitive wants: reordered into scratch memory when they differ.
memory as_layout(const memory::desc& want, memory user) {
  if (want == user.get_desc()) return user;
  memory m(want, cpu_engine());
  reorder(user, m).execute(cpu_stream(), user, m);
  return m;
}

// conv2dForward(x, w, bias|null, out, xShape, wShape, outShape, strides, pads, dilations)
Napi::Value Conv2dForward(const Napi::CallbackInfo& info) {
  float* x = f32(info[0], "x");
  float* w = f32(info[1], "filter");
  bool with_bias = !info[2].IsNull() && !info[2].IsUndefined();
  float* b = with_bias ? f32(info[2], "bias") : nullptr;
  float* y = f32(info[3], "output");
  Conv c = geometry(info, 4);
  try {
    auto pd = forward_pd(c, with_bias);
    memory src(c.src(), cpu_engine(), x), dst(c.dst(), cpu_engine(), y);
    memory wei = as_layout(pd.weights_desc(), memory(c.wei_user(), cpu_engine(), w));
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    if (with_bias) args.insert({DNNL_ARG_BIAS, memory(c.bias(), cpu_engine(), b)});
    convolution_forward(pd).execute(cpu_stream(), args);
    cpu_stream().wait();
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN convolution forward: ") + e.what());
  }
  return info.Env().Undefined();
}

// conv2dBackwardData(dy, w, dx, dxShape, wShape, dyShape, strides, pads, dilations)
Napi::Value Conv2dBackwardData(const Napi::CallbackInfo& info) {
  float* dy = f32(info[0], "dy");
  float* w = f32(info[1], "filter");
  float* dx = f32(info[2], "dx");
  Conv c = geometry(info, 3);
  try {
    auto hint = forward_pd(c, false);
    convolution_backward_data::desc d(algorithm::convolution_direct, c.src(), c.wei_any(), c.dst(), c.strides, c.dilates, c.pad_l, c.pad_r);
    convolution_backward_data::primitive_desc pd(d, cpu_engine(), hint);
    memory diff_dst(c.dst(), cpu_engine(), dy), diff_src(c.src(), cpu_engine(), dx);
    memory wei = as_layout(pd.weights_desc(), memory(c.wei_user(), cpu_engine(), w));
    convolution_backward_data(pd).execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, diff_src}});
    cpu_stream().wait();
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN convolution backward data: ") + e.what());
  }
  return info.Env().Undefined();
}

// conv2dBackwardWeights(x, dy, dw, xShape, wShape, dyShape, strides, pads, dilations[, db]): the
// filter's gradient, and with db the bias's too (Σ dy per output channel), summed by the same
// kernel in its pass over dy rather than in a second pass over it.
Napi::Value Conv2dBackwardWeights(const Napi::CallbackInfo& info) {
  float* x = f32(info[0], "x");
  float* dy = f32(info[1], "dy");
  float* dw = f32(info[2], "dw");
  Conv c = geometry(info, 3);
  bool with_bias = info.Length() > 9 && !info[9].IsNull() && !info[9].IsUndefined();
  float* db = with_bias ? f32(info[9], "db") : nullptr;
  try {
    auto hint = forward_pd(c, with_bias);
    // Activations in whatever layout oneDNN's weight-gradient kernel prefers: reordering them
    // costs less than running the kernel on channels-last data.
    memory::desc src_any({c.n, c.ci, c.h, c.w}, dt::f32, tag::any), dst_any({c.n, c.co, c.oh, c.ow}, dt::f32, tag::any);
    auto d = with_bias
      ? convolution_backward_weights::desc(algorithm::convolution_direct, src_any, c.wei_any(), c.bias(), dst_any, c.strides, c.dilates, c.pad_l, c.pad_r)
      : convolution_backward_weights::desc(algorithm::convolution_direct, src_any, c.wei_any(), dst_any, c.strides, c.dilates, c.pad_l, c.pad_r);
    convolution_backward_weights::primitive_desc pd(d, cpu_engine(), hint);
    memory src = as_layout(pd.src_desc(), memory(c.src(), cpu_engine(), x));
    memory diff_dst = as_layout(pd.diff_dst_desc(), memory(c.dst(), cpu_engine(), dy));
    memory user_dw(c.wei_user(), cpu_engine(), dw);
    bool direct = pd.diff_weights_desc() == user_dw.get_desc();
    memory diff_wei = direct ? user_dw : memory(pd.diff_weights_desc(), cpu_engine());
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, diff_wei}};
    memory user_db;
    if (with_bias) {
      user_db = memory(c.bias(), cpu_engine(), db);
      args.insert({DNNL_ARG_DIFF_BIAS, user_db});
    }
    convolution_backward_weights(pd).execute(cpu_stream(), args);
    if (!direct) reorder(diff_wei, user_dw).execute(cpu_stream(), diff_wei, user_dw);
    cpu_stream().wait();
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN convolution backward weights: ") + e.what());
  }
  return info.Env().Undefined();
}

// matmul(a, b, out, batch, m, k, n, transposeA, transposeB, aBatchStride, bBatchStride): row-major
// out[batch][m][n] = op(a)[m][k] · op(b)[k][n]; a batch stride of 0 broadcasts that operand.
Napi::Value MatMul(const Napi::CallbackInfo& info) {
  float* a = f32(info[0], "a");
  float* b = f32(info[1], "b");
  float* c = f32(info[2], "out");
  int64_t batch = info[3].As<Napi::Number>().Int64Value();
  int64_t m = info[4].As<Napi::Number>().Int64Value();
  int64_t k = info[5].As<Napi::Number>().Int64Value();
  int64_t n = info[6].As<Napi::Number>().Int64Value();
  bool ta = info[7].As<Napi::Boolean>().Value();
  bool tb = info[8].As<Napi::Boolean>().Value();
  int64_t sa = info[9].As<Napi::Number>().Int64Value();
  int64_t sb = info[10].As<Napi::Number>().Int64Value();
  for (int64_t i = 0; i < batch; i++) {
    dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, a + i * sa, ta ? m : k, b + i * sb, tb ? k : n, 0.0f, c + i * m * n, n);
    if (st != dnnl_success) throw Napi::Error::New(info.Env(), "oneDNN sgemm failed with status " + std::to_string(st));
  }
  return info.Env().Undefined();
}

// Calls tap(p) for each input pixel p = yy * w + xx (within one image) of output (r, q)'s window,
// in row-major window order; window positions outside the input are skipped. g: pool_geometry.
// Always inlined: left to GCC, a training step measured 1-3 ms slower (bench/train-step.ts).
template <class Tap>
__attribute__((always_inline)) inline void for_each_in_window(const int64_t (&g)[12], int64_t r, int64_t q, Tap tap) {
  const int64_t h = g[1], w = g[2], kh = g[6], kw = g[7], sh = g[8], sw = g[9], pt = g[10], pl = g[11];
  for (int64_t i = 0; i < kh; i++) {
    const int64_t yy = r * sh + i - pt;
    if (yy < 0 || yy >= h) continue;
    for (int64_t j = 0; j < kw; j++) {
      const int64_t xx = q * sw + j - pl;
      if (xx >= 0 && xx < w) tap(yy * w + xx);
    }
  }
}

// Max pooling of value(x[…, ch], ch) over each window: the raw input for MaxPool, its PReLU for
// PreluMaxPool. Windows outside the input are skipped.
template <class Value>
void max_pool(const float* x, float* y, const int64_t (&g)[12], Value value) {
  auto [n, h, w, c, oh, ow] = std::tuple(g[0], g[1], g[2], g[3], g[4], g[5]);
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < n; b++) {
    for (int64_t r = 0; r < oh; r++) {
      for (int64_t q = 0; q < ow; q++) {
        float* out = y + ((b * oh + r) * ow + q) * c;
        for (int64_t ch = 0; ch < c; ch++) out[ch] = -std::numeric_limits<float>::infinity();
        for_each_in_window(g, r, q, [&](int64_t p) {
          const float* in = x + (b * h * w + p) * c;
          for (int64_t ch = 0; ch < c; ch++) out[ch] = std::max(out[ch], value(in[ch], ch));
        });
      }
    }
  }
}

// The geometry arguments of the pooling functions, from info[at]: n, h, w, c, oh, ow, kh, kw, sh, sw, padTop, padLeft.
void pool_geometry(const Napi::CallbackInfo& info, size_t at, int64_t (&g)[12]) {
  for (size_t i = 0; i < 12; i++) g[i] = info[at + i].As<Napi::Number>().Int64Value();
}

// maxPool(x, y, n, h, w, c, oh, ow, kh, kw, sh, sw, padTop, padLeft)
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  int64_t g[12];
  pool_geometry(info, 2, g);
  max_pool(f32(info[0], "x"), f32(info[1], "y"), g, [](float v, int64_t) { return v; });
  return info.Env().Undefined();
}

// avgPool(x, y, …same geometry as maxPool): the mean over the window's positions inside the input
// (padding is not counted, as in TensorFlow).
Napi::Value AvgPool(const Napi::CallbackInfo& info) {
  float* x = f32(info[0], "x");
  float* y = f32(info[1], "y");
  int64_t g[12];
  pool_geometry(info, 2, g);
  auto [n, h, w, c, oh, ow] = std::tuple(g[0], g[1], g[2], g[3], g[4], g[5]);
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < n; b++) {
    for (int64_t r = 0; r < oh; r++) {
      for (int64_t q = 0; q < ow; q++) {
        float* __restrict out = y + ((b * oh + r) * ow + q) * c;
        for (int64_t ch = 0; ch < c; ch++) out[ch] = 0.0f;
        int64_t count = 0;
        for_each_in_window(g, r, q, [&](int64_t p) {
          const float* __restrict in = x + (b * h * w + p) * c;
          for (int64_t ch = 0; ch < c; ch++) out[ch] += in[ch];
          count++;
        });
        const float scale = count > 0 ? 1.0f / static_cast<float>(count) : 0.0f;
        for (int64_t ch = 0; ch < c; ch++) out[ch] *= scale;
      }
    }
  }
  return info.Env().Undefined();
}

// avgPoolBackward(dy, dx, …same geometry): each output's gradient, divided by its window's count,
// added to every input position of the window. dx is cleared here, one image at a time by the
// thread that then fills it (it may be a recycled buffer: see buffer-pool.ts).
Napi::Value AvgPoolBackward(const Napi::CallbackInfo& info) {
  float* dy = f32(info[0], "dy");
  float* dx = f32(info[1], "dx");
  int64_t g[12];
  pool_geometry(info, 2, g);
  auto [n, h, w, c, oh, ow] = std::tuple(g[0], g[1], g[2], g[3], g[4], g[5]);
  // Overlapping windows would race on dx across output rows, so parallelise over batch only.
#pragma omp parallel for
  for (int64_t b = 0; b < n; b++) {
    std::fill(dx + b * h * w * c, dx + (b + 1) * h * w * c, 0.0f);
    for (int64_t r = 0; r < oh; r++) {
      for (int64_t q = 0; q < ow; q++) {
        int64_t count = 0;
        for_each_in_window(g, r, q, [&](int64_t) { count++; });
        if (count == 0) continue;
        const float scale = 1.0f / static_cast<float>(count);
        const float* __restrict grad = dy + ((b * oh + r) * ow + q) * c;
        for_each_in_window(g, r, q, [&](int64_t p) {
          float* __restrict d = dx + (b * h * w + p) * c;
          for (int64_t ch = 0; ch < c; ch++) d[ch] += grad[ch] * scale;
        });
      }
    }
  }
  return info.Env().Undefined();
}

// Adds each output's gradient of image b at its window's first maximum of value(x[…, ch], ch)
// (row-major window order), as tfjs's cpu backend does, into `image` (that image's h·w·c
// gradient), cleared first: dx's own image, a recycled buffer (buffer-pool.ts) cleared by the
// thread that then fills it while it is in its cache, or a thread's scratch image.
// Per output position, each channel's first maximum is found with selects (no branches).
template <class Value>
void max_pool_backward_image(const float* dy, const float* x, float* image, const int64_t (&g)[12], int64_t b,
                             std::vector<float>& best, std::vector<int64_t>& at, Value value) {
  auto [n, h, w, c, oh, ow] = std::tuple(g[0], g[1], g[2], g[3], g[4], g[5]);
  (void)n;
  std::fill(image, image + h * w * c, 0.0f);
  for (int64_t r = 0; r < oh; r++) {
    for (int64_t q = 0; q < ow; q++) {
      std::fill(best.begin(), best.end(), -std::numeric_limits<float>::infinity());
      std::fill(at.begin(), at.end(), int64_t{-1});
      for_each_in_window(g, r, q, [&](int64_t p) {
        const int64_t base = p * c;  // within the image
        const float* __restrict in = x + b * h * w * c + base;
        for (int64_t ch = 0; ch < c; ch++) {
          const float v = value(in[ch], ch);
          const bool take = v > best[ch] || at[ch] < 0;
          best[ch] = take ? v : best[ch];
          at[ch] = take ? base + ch : at[ch];
        }
      });
      const float* grad = dy + ((b * oh + r) * ow + q) * c;
      for (int64_t ch = 0; ch < c; ch++) if (at[ch] >= 0) image[at[ch]] += grad[ch];
    }
  }
}

// maxPoolBackward(dy, x, dx, …same geometry as maxPool). Overlapping windows would race on dx
// across output rows, so the work is split over images only.
Napi::Value MaxPoolBackward(const Napi::CallbackInfo& info) {
  float* dy = f32(info[0], "dy");
  float* x = f32(info[1], "x");
  float* dx = f32(info[2], "dx");
  int64_t g[12];
  pool_geometry(info, 3, g);
#pragma omp parallel
  {
    std::vector<float> best(g[3]);
    std::vector<int64_t> at(g[3]);
#pragma omp for
    for (int64_t b = 0; b < g[0]; b++)
      max_pool_backward_image(dy, x, dx + b * g[1] * g[2] * g[3], g, b, best, at, [](float v, int64_t) { return v; });
  }
  return info.Env().Undefined();
}

// PReLU then max pooling, fused where nothing else reads the PReLU's output (model.ts,
// activationMaxPool): prelu(x, alpha) is never written out, which saves a write and a read of a
// tensor four times the pooled one's size. Each value is the one the unfused kernels give:
// PReLU as in Prelu below, the window's first maximum as in MaxPool / MaxPoolBackward.
inline float prelu_of(float x, float a) { return std::max(x, 0.0f) + a * std::min(x, 0.0f); }

// dalpha from the threads' partial sums (thread order, so the result does not depend on timing).
inline void sum_partials(const std::vector<double>& partial, int threads, int64_t c, float* da) {
  for (int64_t ch = 0; ch < c; ch++) {
    double s = 0;
    for (int t = 0; t < threads; t++) s += partial[static_cast<size_t>(t) * c + ch];
    da[ch] = static_cast<float>(s);
  }
}

// One row of PReLU's backward step: dx = x > 0 ? dy : alpha·dy, and dalpha's sums += x > 0 ? 0 : dy·x
// (x = 0 counts as the negative side, as in tfjs's Prelu gradient).
inline void prelu_backward_row(const float* __restrict dy, const float* __restrict x, const float* __restrict a,
                               float* __restrict dx, double* __restrict sums, int64_t c) {
  for (int64_t ch = 0; ch < c; ch++) {
    const float g = dy[ch];
    const float neg = x[ch] > 0 ? 0.0f : 1.0f;  // a select, not a branch
    dx[ch] = g * (1.0f - neg + neg * a[ch]);
    sums[ch] += static_cast<double>(neg * g * x[ch]);
  }
}


// preluMaxPool(x, alpha, y, …maxPool's geometry): y = maxPool(prelu(x, alpha)).
Napi::Value PreluMaxPool(const Napi::CallbackInfo& info) {
  const float* a = f32(info[1], "alpha");
  int64_t g[12];
  pool_geometry(info, 3, g);
  max_pool(f32(info[0], "x"), f32(info[2], "y"), g, [a](float v, int64_t ch) { return prelu_of(v, a[ch]); });
  return info.Env().Undefined();
}

// preluMaxPoolBackward(dy, x, alpha, dx, dalpha, …geometry): the gradients of preluMaxPool, as
// MaxPoolBackward then PreluBackward would give them: each output's gradient is added at its
// window's first maximum of prelu(x), in a scratch image that stays in cache, then that image goes
// through PReLU's backward step into dx (written once). Images are split over threads as PreluBackward splits its rows (statically, in
// order), so the per-thread sums of dalpha add the same terms in the same order.
Napi::Value PreluMaxPoolBackward(const Napi::CallbackInfo& info) {
  float* dy = f32(info[0], "dy");
  float* x = f32(info[1], "x");
  const float* a = f32(info[2], "alpha");
  float* dx = f32(info[3], "dx");
  float* da = f32(info[4], "dalpha");
  int64_t g[12];
  pool_geometry(info, 5, g);
  const int64_t n = g[0], pixels = g[1] * g[2], c = g[3];
  int threads = omp_get_max_threads();
  std::vector<double> partial(static_cast<size_t>(threads) * c, 0.0);
#pragma omp parallel
  {
    std::vector<float> best(c);
    std::vector<int64_t> at(c);
    // The pooling gradient of one image at a time, which stays in this thread's cache.
    std::vector<float> pooled(static_cast<size_t>(pixels * c));
    double* mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * c;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < n; b++) {
      max_pool_backward_image(dy, x, pooled.data(), g, b, best, at, [a](float v, int64_t ch) { return prelu_of(v, a[ch]); });
      // PreluBackward's step, row by row over this image.
      for (int64_t p = 0; p < pixels; p++)
        prelu_backward_row(pooled.data() + p * c, x + (b * pixels + p) * c, a, dx + (b * pixels + p) * c, mine, c);
    }
  }
  sum_partials(partial, threads, c, da);
  return info.Env().Undefined();
}

// PReLU then the mean over each image's positions (global average pooling), fused like
// preluMaxPool where nothing else reads the PReLU's output: x [n, hw, c] → y [n, c].
// preluMean(x, alpha, y, n, hw, c): each image's sums in double, in position order, as ReduceSum
// adds them when an image is not split between threads.
Napi::Value PreluMean(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0], "x");
  const float* a = f32(info[1], "alpha");
  float* y = f32(info[2], "y");
  const int64_t n = info[3].As<Napi::Number>().Int64Value(), hw = info[4].As<Napi::Number>().Int64Value(),
                c = info[5].As<Napi::Number>().Int64Value();
  const double scale = 1.0 / static_cast<double>(hw);
#pragma omp parallel
  {
    std::vector<double> sums(c);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < n; b++) {
      std::fill(sums.begin(), sums.end(), 0.0);
      for (int64_t p = 0; p < hw; p++) {
        const float* __restrict in = x + (b * hw + p) * c;
        for (int64_t ch = 0; ch < c; ch++) sums[ch] += prelu_of(in[ch], a[ch]);
      }
      for (int64_t ch = 0; ch < c; ch++) y[b * c + ch] = static_cast<float>(sums[ch] * scale);
    }
  }
  return info.Env().Undefined();
}

// preluMeanBackward(dy, x, alpha, dx, dalpha, n, hw, c): the gradients of preluMean, as the Mean
// gradient (dy / hw at every position, onednn.ts) then PreluBackward would give them; images
// split over threads as PreluBackward splits its rows.
Napi::Value PreluMeanBackward(const Napi::CallbackInfo& info) {
  const float* dy = f32(info[0], "dy");
  const float* x = f32(info[1], "x");
  const float* a = f32(info[2], "alpha");
  float* dx = f32(info[3], "dx");
  float* da = f32(info[4], "dalpha");
  const int64_t n = info[5].As<Napi::Number>().Int64Value(), hw = info[6].As<Napi::Number>().Int64Value(),
                c = info[7].As<Napi::Number>().Int64Value();
  const float count = static_cast<float>(hw);
  int threads = omp_get_max_threads();
  std::vector<double> partial(static_cast<size_t>(threads) * c, 0.0);
#pragma omp parallel
  {
    std::vector<float> spread(c);
    double* mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * c;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < n; b++) {
      for (int64_t ch = 0; ch < c; ch++) spread[ch] = dy[b * c + ch] / count;
      for (int64_t p = 0; p < hw; p++)
        prelu_backward_row(spread.data(), x + (b * hw + p) * c, a, dx + (b * hw + p) * c, mine, c);
    }
  }
  sum_partials(partial, threads, c, da);
  return info.Env().Undefined();
}

// unary(op, x, y): y = f(x) elementwise; op 0 tanh, 1 square. tfjs's cpu kernels for these are
// scalar JavaScript loops, the larger part of a step of the tanh MLPs of the linearity stage.
Napi::Value Unary(const Napi::CallbackInfo& info) {
  int op = info[0].As<Napi::Number>().Int32Value();
  const float* __restrict x = f32(info[1], "x");
  float* __restrict y = f32(info[2], "y");
  int64_t n = f32len(info[1]);
  if (f32len(info[2]) != n) throw Napi::Error::New(info.Env(), "unary: x and y differ in length");
  switch (op) {
    case 0:
#pragma omp parallel for
      for (int64_t i = 0; i < n; i++) y[i] = std::tanh(x[i]);
      break;
    case 1:
#pragma omp parallel for
      for (int64_t i = 0; i < n; i++) y[i] = x[i] * x[i];
      break;
    default:
      throw Napi::Error::New(info.Env(), "unary: unknown op " + std::to_string(op));
  }
  return info.Env().Undefined();
}

// prelu(x, alpha, y, channels): y = x < 0 ? alpha[c]·x : x, alpha per last-axis channel.
Napi::Value Prelu(const Napi::CallbackInfo& info) {
  float* x = f32(info[0], "x");
  float* a = f32(info[1], "alpha");
  float* y = f32(info[2], "y");
  int64_t c = info[3].As<Napi::Number>().Int64Value();
  int64_t rows = f32len(info[0]) / c;
#pragma omp parallel for
  for (int64_t r = 0; r < rows; r++) {
    const float* __restrict in = x + r * c;
    float* __restrict out = y + r * c;
    // Branch-free, so it vectorises and random signs cost no mispredictions.
    for (int64_t ch = 0; ch < c; ch++) out[ch] = std::max(in[ch], 0.0f) + a[ch] * std::min(in[ch], 0.0f);
  }
  return info.Env().Undefined();
}

// preluBackward(dy, x, alpha, dx, dalpha, channels): dx = x > 0 ? dy : alpha·dy; dalpha = Σ (x > 0 ? 0 : dy·x),
// the same case split as tfjs's Prelu gradient (x = 0 counts as the negative side).
Napi::Value PreluBackward(const Napi::CallbackInfo& info) {
  float* dy = f32(info[0], "dy");
  float* x = f32(info[1], "x");
  float* a = f32(info[2], "alpha");
  float* dx = f32(info[3], "dx");
  float* da = f32(info[4], "dalpha");
  int64_t c = info[5].As<Napi::Number>().Int64Value();
  int64_t rows = f32len(info[0]) / c;
  int threads = omp_get_max_threads();
  std::vector<double> partial(static_cast<size_t>(threads) * c, 0.0);
#pragma omp parallel
  {
    double* mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * c;
#pragma omp for
    for (int64_t r = 0; r < rows; r++) prelu_backward_row(dy + r * c, x + r * c, a, dx + r * c, mine, c);
  }
  sum_partials(partial, threads, c, da);
  return info.Env().Undefined();
}

// One SGD step with momentum under PyTorch's rules:
//   g' = g + decay·w;  buf' = first ? g' : momentum·buf + g';  d = nesterov ? g' + momentum·buf' : buf';
//   w' = w − lr·d
// Operations are in the same order as optimizers.ts's op path, and binding.gyp turns off
// contraction into FMAs, so both give the same floats. wo may be w and bo may be b (in place):
// each element is read before it is written.
void sgd_momentum(const float* w, const float* g, const float* b, float* wo, float* bo, int64_t n, float lr,
                  float momentum, float decay, bool nesterov, bool first) {
#pragma omp parallel for if (n > 65536)
  for (int64_t i = 0; i < n; i++) {
    const float wi = w[i];
    const float gi = decay != 0.0f ? g[i] + wi * decay : g[i];
    const float bi = first ? gi : b[i] * momentum + gi;
    const float d = nesterov ? gi + bi * momentum : bi;
    wo[i] = wi - d * lr;
    bo[i] = bi;
  }
}

// sgdMomentum(w, g, buf, wOut, bufOut, lr, momentum, decay, nesterov, first): sgd_momentum into
// new buffers (w and buf are left as they were, so a tensor that shares them, such as a
// checkpoint's clone, keeps its values). One pass instead of the five or six tfjs ops per
// parameter (each a kernel call, a new tensor and a pass over memory).
Napi::Value SgdMomentum(const Napi::CallbackInfo& info) {
  const float* w = f32(info[0], "w");
  const float* g = f32(info[1], "g");
  const float* b = f32(info[2], "buf");
  float* wo = f32(info[3], "wOut");
  float* bo = f32(info[4], "bufOut");
  const int64_t n = f32len(info[0]);
  if (f32len(info[1]) != n || f32len(info[2]) != n || f32len(info[3]) != n || f32len(info[4]) != n)
    throw Napi::Error::New(info.Env(), "sgdMomentum: w, g, buf and the outputs differ in length");
  sgd_momentum(w, g, b, wo, bo, n, static_cast<float>(info[5].As<Napi::Number>().DoubleValue()),
               static_cast<float>(info[6].As<Napi::Number>().DoubleValue()),
               static_cast<float>(info[7].As<Napi::Number>().DoubleValue()), info[8].As<Napi::Boolean>().Value(),
               info[9].As<Napi::Boolean>().Value());
  return info.Env().Undefined();
}

// sgdMomentumInPlace(ws, gs, bufs, decays, lr, momentum, nesterov, first): sgd_momentum of every
// parameter in one call, written into w and buf themselves; for buffers nothing else can see
// (OnednnBackend.sgdInPlace decides).
Napi::Value SgdMomentumInPlace(const Napi::CallbackInfo& info) {
  auto ws = info[0].As<Napi::Array>(), gs = info[1].As<Napi::Array>(), bufs = info[2].As<Napi::Array>();
  auto decays = info[3].As<Napi::Array>();
  const float lr = static_cast<float>(info[4].As<Napi::Number>().DoubleValue());
  const float momentum = static_cast<float>(info[5].As<Napi::Number>().DoubleValue());
  const bool nesterov = info[6].As<Napi::Boolean>().Value(), first = info[7].As<Napi::Boolean>().Value();
  const uint32_t count = ws.Length();
  if (gs.Length() != count || bufs.Length() != count || decays.Length() != count)
    throw Napi::Error::New(info.Env(), "sgdMomentumInPlace: ws, gs, bufs and decays differ in length");
  for (uint32_t k = 0; k < count; k++) {
    Napi::Value w = ws.Get(k), g = gs.Get(k), b = bufs.Get(k);
    const int64_t n = f32len(w);
    float* wp = f32(w, "w");
    const float* gp = f32(g, "g");
    float* bp = f32(b, "buf");
    if (f32len(g) != n || f32len(b) != n)
      throw Napi::Error::New(info.Env(), "sgdMomentumInPlace: w, g and buf differ in length");
    sgd_momentum(wp, gp, bp, wp, bp, n, lr, momentum, static_cast<float>(decays.Get(k).As<Napi::Number>().DoubleValue()),
                 nesterov, first);
  }
  return info.Env().Undefined();
}

// binary(op, a, aStrides, b, bStrides, out, outShape): out = a op b with numpy broadcasting, given
// each input's strides over the output's dims (0 where it broadcasts).
// op: 0 add, 1 sub, 2 mul, 3 div, 4 squared difference.
template <int OP>
inline float apply(float x, float y) {
  if constexpr (OP == 0) return x + y;
  if constexpr (OP == 1) return x - y;
  if constexpr (OP == 2) return x * y;
  if constexpr (OP == 3) return x / y;
  return (x - y) * (x - y);
}

template <int OP>
void broadcast_binary(const float* a, const std::vector<int64_t>& as, const float* b, const std::vector<int64_t>& bs, float* out, const std::vector<int64_t>& shape) {
  const size_t rank = shape.size();
  const int64_t inner = shape[rank - 1];
  const int64_t ia = as[rank - 1], ib = bs[rank - 1];
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < rank; d++) rows *= shape[d];
#pragma omp parallel for if (rows * inner > 32768)
  for (int64_t r = 0; r < rows; r++) {
    int64_t oa = 0, ob = 0, rem = r;
    for (size_t d = rank - 1; d-- > 0;) {
      int64_t i = rem % shape[d];
      rem /= shape[d];
      oa += i * as[d];
      ob += i * bs[d];
    }
    const float* pa = a + oa;
    const float* pb = b + ob;
    float* po = out + r * inner;
    if (ia == 1 && ib == 1) {
      for (int64_t j = 0; j < inner; j++) po[j] = apply<OP>(pa[j], pb[j]);
    } else if (ia == 1 && ib == 0) {
      const float y = pb[0];
      for (int64_t j = 0; j < inner; j++) po[j] = apply<OP>(pa[j], y);
    } else if (ia == 0 && ib == 1) {
      const float x = pa[0];
      for (int64_t j = 0; j < inner; j++) po[j] = apply<OP>(x, pb[j]);
    } else {
      for (int64_t j = 0; j < inner; j++) po[j] = apply<OP>(pa[j * ia], pb[j * ib]);
    }
  }
}

Napi::Value Binary(const Napi::CallbackInfo& info) {
  int op = info[0].As<Napi::Number>().Int32Value();
  float* a = f32(info[1], "a");
  float* b = f32(info[3], "b");
  float* out = f32(info[5], "out");
  size_t rank = info[6].As<Napi::Array>().Length();
  auto as = dims(info[2], rank, "a strides");
  auto bs = dims(info[4], rank, "b strides");
  auto shape = dims(info[6], rank, "output shape");
  switch (op) {
    case 0: broadcast_binary<0>(a, as, b, bs, out, shape); break;
    case 1: broadcast_binary<1>(a, as, b, bs, out, shape); break;
    case 2: broadcast_binary<2>(a, as, b, bs, out, shape); break;
    case 3: broadcast_binary<3>(a, as, b, bs, out, shape); break;
    case 4: broadcast_binary<4>(a, as, b, bs, out, shape); break;
    default: throw Napi::RangeError::New(info.Env(), "unknown binary op");
  }
  return info.Env().Undefined();
}

// reduceSum(x, out, outer, r, inner, scale): x viewed as [outer, r, inner], summed over r (in
// double, then scaled: 1 for a sum, 1/r for a mean) into out [outer, inner].
Napi::Value ReduceSum(const Napi::CallbackInfo& info) {
  float* x = f32(info[0], "x");
  float* out = f32(info[1], "out");
  int64_t outer = info[2].As<Napi::Number>().Int64Value();
  int64_t r = info[3].As<Napi::Number>().Int64Value();
  int64_t inner = info[4].As<Napi::Number>().Int64Value();
  double scale = info[5].As<Napi::Number>().DoubleValue();
  if (inner == 1) {
#pragma omp parallel for if (outer * r > 32768)
    for (int64_t o = 0; o < outer; o++) {
      double s = 0;
      const float* p = x + o * r;
      for (int64_t i = 0; i < r; i++) s += p[i];
      out[o] = static_cast<float>(s * scale);
    }
  } else {
    int threads = omp_get_max_threads();
    std::vector<double> acc(static_cast<size_t>(threads) * outer * inner, 0.0);
#pragma omp parallel if (outer * r * inner > 32768)
    {
      double* mine = acc.data() + static_cast<size_t>(omp_get_thread_num()) * outer * inner;
#pragma omp for collapse(2)
      for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < r; i++) {
          const float* p = x + (o * r + i) * inner;
          double* q = mine + o * inner;
          for (int64_t j = 0; j < inner; j++) q[j] += p[j];
        }
      }
    }
    for (int64_t k = 0; k < outer * inner; k++) {
      double s = 0;
      for (int t = 0; t < threads; t++) s += acc[static_cast<size_t>(t) * outer * inner + k];
      out[k] = static_cast<float>(s * scale);
    }
  }
  return info.Env().Undefined();
}

// batchNorm(x, mean, variance, offset|null, scale|null, out, channels, epsilon):
// out = (x − mean)·scale/√(variance + ε) + offset, per last-axis channel.
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  float* x = f32(info[0], "x");
  float* mean = f32(info[1], "mean");
  float* var = f32(info[2], "variance");
  bool has_offset = !info[3].IsNull(), has_scale = !info[4].IsNull();
  float* offset = has_offset ? f32(info[3], "offset") : nullptr;
  float* scale = has_scale ? f32(info[4], "scale") : nullptr;
  float* out = f32(info[5], "out");
  int64_t c = info[6].As<Napi::Number>().Int64Value();
  float eps = info[7].As<Napi::Number>().FloatValue();
  std::vector<float> mul(c), add(c);
  for (int64_t ch = 0; ch < c; ch++) {
    mul[ch] = (has_scale ? scale[ch] : 1.0f) / std::sqrt(var[ch] + eps);
    add[ch] = (has_offset ? offset[ch] : 0.0f) - mean[ch] * mul[ch];
  }
  int64_t rows = f32len(info[0]) / c;
  const float* __restrict pm = mul.data();
  const float* __restrict pa = add.data();
#pragma omp parallel for if (rows * c > 32768)
  for (int64_t r = 0; r < rows; r++) {
    const float* __restrict in = x + r * c;
    float* __restrict o = out + r * c;
    for (int64_t ch = 0; ch < c; ch++) o[ch] = in[ch] * pm[ch] + pa[ch];
  }
  return info.Env().Undefined();
}

// batchNormTrain(x, gamma, beta, movingMean, movingVar, y, mean, rstd, newMean, newVar, channels,
//                epsilon, keep, meanWeight, varWeight):
// batch norm of x [rows, c] on its own batch statistics, in three passes over x instead of the
// dozen tfjs ops of model.ts's trainingBatchNorm, with the same arithmetic in float32:
//   mean = Σx / rows, variance = Σ(x − mean)² / rows (both summed in double, as tf.moments),
//   rstd = 1/√(variance + ε), y = (x − mean)·rstd·γ + β,
//   newMean = movingMean·keep + mean·meanWeight, newVar = movingVar·keep + variance·varWeight
// (the caller's moving-average rule, PyTorch's: keep = 1 − momentum, varWeight unbiases).
Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  const float* x = f32(info[0], "x");
  const float* gamma = f32(info[1], "gamma");
  const float* beta = f32(info[2], "beta");
  const float* moving_mean = f32(info[3], "movingMean");
  const float* moving_var = f32(info[4], "movingVar");
  float* y = f32(info[5], "y");
  float* mean = f32(info[6], "mean");
  float* rstd = f32(info[7], "rstd");
  float* new_mean = f32(info[8], "newMean");
  float* new_var = f32(info[9], "newVar");
  const int64_t c = info[10].As<Napi::Number>().Int64Value();
  const float eps = info[11].As<Napi::Number>().FloatValue();
  const float keep = info[12].As<Napi::Number>().FloatValue();
  const float mean_weight = info[13].As<Napi::Number>().FloatValue();
  const float var_weight = info[14].As<Napi::Number>().FloatValue();
  const int64_t rows = f32len(info[0]) / c;
  std::vector<double> sums;
  channel_sums(rows, c, sums, [&](int64_t r, double* __restrict acc) {
    const float* __restrict in = x + r * c;
    for (int64_t ch = 0; ch < c; ch++) acc[ch] += in[ch];
  });
  for (int64_t ch = 0; ch < c; ch++) mean[ch] = static_cast<float>(sums[ch] / static_cast<double>(rows));
  channel_sums(rows, c, sums, [&](int64_t r, double* __restrict acc) {
    const float* __restrict in = x + r * c;
    for (int64_t ch = 0; ch < c; ch++) {
      const float d = in[ch] - mean[ch];
      acc[ch] += d * d;
    }
  });
  for (int64_t ch = 0; ch < c; ch++) {
    const float variance = static_cast<float>(sums[ch] / static_cast<double>(rows));
    rstd[ch] = 1.0f / std::sqrt(variance + eps);
    new_mean[ch] = moving_mean[ch] * keep + mean[ch] * mean_weight;
    new_var[ch] = moving_var[ch] * keep + variance * var_weight;
  }
  const float* __restrict pm = mean;
  const float* __restrict pr = rstd;
#pragma omp parallel for if (rows * c > 32768)
  for (int64_t r = 0; r < rows; r++) {
    const float* __restrict in = x + r * c;
    float* __restrict out = y + r * c;
    for (int64_t ch = 0; ch < c; ch++) out[ch] = ((in[ch] - pm[ch]) * pr[ch]) * gamma[ch] + beta[ch];
  }
  return info.Env().Undefined();
}

// batchNormTrainBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, channels): the gradients of
// batchNormTrain in closed form (x̂ = (x − mean)·rstd recomputed, not stored):
//   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ·rstd · ((dy − dβ/n) − x̂·dγ/n)
// in two passes over dy and x, each operation in model.ts's order.
Napi::Value BatchNormTrainBackward(const Napi::CallbackInfo& info) {
  const float* dy = f32(info[0], "dy");
  const float* x = f32(info[1], "x");
  const float* gamma = f32(info[2], "gamma");
  const float* mean = f32(info[3], "mean");
  const float* rstd = f32(info[4], "rstd");
  float* dx = f32(info[5], "dx");
  float* dgamma = f32(info[6], "dgamma");
  float* dbeta = f32(info[7], "dbeta");
  const int64_t c = info[8].As<Napi::Number>().Int64Value();
  const int64_t rows = f32len(info[0]) / c;
  // Σ dy and Σ dy·x̂ side by side: one pass, 2c sums.
  std::vector<double> sums;
  channel_sums(rows, 2 * c, sums, [&](int64_t r, double* __restrict acc) {
    const float* __restrict g = dy + r * c;
    const float* __restrict in = x + r * c;
    for (int64_t ch = 0; ch < c; ch++) {
      acc[ch] += g[ch];
      acc[c + ch] += g[ch] * ((in[ch] - mean[ch]) * rstd[ch]);
    }
  });
  const float n = static_cast<float>(rows);
  std::vector<float> scale(c), shift(c), slope(c);
  for (int64_t ch = 0; ch < c; ch++) {
    dbeta[ch] = static_cast<float>(sums[ch]);
    dgamma[ch] = static_cast<float>(sums[c + ch]);
    scale[ch] = gamma[ch] * rstd[ch];
    shift[ch] = dbeta[ch] / n;
    slope[ch] = dgamma[ch] / n;
  }
  const float* __restrict ps = scale.data();
  const float* __restrict pb = shift.data();
  const float* __restrict pg = slope.data();
#pragma omp parallel for if (rows * c > 32768)
  for (int64_t r = 0; r < rows; r++) {
    const float* __restrict g = dy + r * c;
    const float* __restrict in = x + r * c;
    float* __restrict out = dx + r * c;
    for (int64_t ch = 0; ch < c; ch++) {
      const float xhat = (in[ch] - mean[ch]) * rstd[ch];
      out[ch] = ps[ch] * ((g[ch] - pb[ch]) - xhat * pg[ch]);
    }
  }
  return info.Env().Undefined();
}

// biasActivation(y, bias|null, channels, relu): in place, y = act(y + bias) per last-axis channel.
Napi::Value BiasActivation(const Napi::CallbackInfo& info) {
  float* y = f32(info[0], "y");
  bool has_bias = !info[1].IsNull();
  float* b = has_bias ? f32(info[1], "bias") : nullptr;
  int64_t c = info[2].As<Napi::Number>().Int64Value();
  bool relu = info[3].As<Napi::Boolean>().Value();
  int64_t rows = f32len(info[0]) / c;
#pragma omp parallel for if (rows * c > 32768)
  for (int64_t r = 0; r < rows; r++) {
    float* __restrict o = y + r * c;
    for (int64_t ch = 0; ch < c; ch++) {
      float v = o[ch] + (has_bias ? b[ch] : 0.0f);
      o[ch] = relu ? std::max(v, 0.0f) : v;
    }
  }
  return info.Env().Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(info.Env(), "thread count must be at least 1");
  omp_set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), omp_get_max_threads()); }

Napi::Value Version(const Napi::CallbackInfo& info) {
  const dnnl_version_t* v = dnnl_version();
  return Napi::String::New(info.Env(), std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Every kernel returns a fresh Float32Array (tfjs owns its outputs), tens of MB per training
  // step. Above glibc's mmap threshold each is a new mapping whose pages fault in on first write,
  // which cost more than the convolutions. Serving them from the heap, and not trimming it, makes
  // freed buffers reusable without faults; RSS stays at the working set's peak.
  mallopt(M_MMAP_THRESHOLD, 512 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  exports.Set("conv2dForward", Napi::Function::New(env, Conv2dForward));
  exports.Set("conv2dBackwardData", Napi::Function::New(env, Conv2dBackwardData));
  exports.Set("conv2dBackwardWeights", Napi::Function::New(env, Conv2dBackwardWeights));
  exports.Set("matMul", Napi::Function::New(env, MatMul));
  exports.Set("maxPool", Napi::Function::New(env, MaxPool));
  exports.Set("maxPoolBackward", Napi::Function::New(env, MaxPoolBackward));
  exports.Set("preluMaxPool", Napi::Function::New(env, PreluMaxPool));
  exports.Set("preluMaxPoolBackward", Napi::Function::New(env, PreluMaxPoolBackward));
  exports.Set("preluMean", Napi::Function::New(env, PreluMean));
  exports.Set("preluMeanBackward", Napi::Function::New(env, PreluMeanBackward));
  exports.Set("avgPool", Napi::Function::New(env, AvgPool));
  exports.Set("avgPoolBackward", Napi::Function::New(env, AvgPoolBackward));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("prelu", Napi::Function::New(env, Prelu));
  exports.Set("preluBackward", Napi::Function::New(env, PreluBackward));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("sgdMomentum", Napi::Function::New(env, SgdMomentum));
  exports.Set("sgdMomentumInPlace", Napi::Function::New(env, SgdMomentumInPlace));
  exports.Set("batchNorm", Napi::Function::New(env, BatchNorm));
  exports.Set("batchNormTrain", Napi::Function::New(env, BatchNormTrain));
  exports.Set("batchNormTrainBackward", Napi::Function::New(env, BatchNormTrainBackward));
  exports.Set("biasActivation", Napi::Function::New(env, BiasActivation));
  exports.Set("reduceSum", Napi::Function::New(env, ReduceSum));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("threads", Napi::Function::New(env, Threads));
  exports.Set("version", Napi::Function::New(env, Version));
  linea::register_cnn_step(env, exports);
  return exports;
}

NODE_API_MODULE(linea_onednn, Init)

// A whole training step of a plain CNN (src/models/architectures/plain-cnn.ts) in one call:
// forward in training mode, softmax cross entropy, and the gradient of every parameter, with the
// batch norms' new moving statistics. The same maths as the model's op-by-op path on the onednn
// backend, which pays tfjs's bookkeeping (a tensor, a kernel lookup and a tape entry) on each of
// ~190 kernel calls per step, and a oneDNN primitive descriptor per convolution call: on the
// claims preset's network (16–32 channels on 14×14 down to 3×3 maps) that was as long as the
// arithmetic. Here the primitives are made once per batch size, the activations live in buffers
// the step owns, and batch norm, the activation and pooling are fused loops.
//
// Layout: channels-last (NHWC) activations, HWIO filters, as tfjs stores them; every layer is a
// 3×3 'same' convolution (stride 1), optional batch norm, ReLU / channel-wise PReLU / identity,
// optional 2×2 pooling (stride 2, 'valid'); then global average pooling and a dense head.
#include "common.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

using linea::cpu_engine;
using linea::cpu_stream;

enum class Act { linear, relu, prelu };

// Per-channel sums of term(row, sums) over rows, as common.h's channel_sums, but each block of
// 64 rows is summed in float before it is added to the thread's double partial: the per-element
// conversions to double made the batch norms' sums the larger part of a step. The threads'
// partials are added in thread order, so the result depends on the thread count, not on timing.
template <typename Term>
void block_sums(int64_t rows, int64_t width, std::vector<double>& out, Term term) {
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (rows + kBlock - 1) / kBlock;
  const int threads = omp_get_max_threads();
  std::vector<double> partial(static_cast<size_t>(threads) * width, 0.0);
#pragma omp parallel if (rows * width > 32768)
  {
    double* __restrict mine = partial.data() + static_cast<size_t>(omp_get_thread_num()) * width;
    std::vector<float> block(width);
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; b++) {
      std::fill(block.begin(), block.end(), 0.0f);
      const int64_t end = std::min(rows, (b + 1) * kBlock);
      for (int64_t r = b * kBlock; r < end; r++) term(r, block.data());
      for (int64_t k = 0; k < width; k++) mine[k] += block[k];
    }
  }
  out.assign(width, 0.0);
  for (int t = 0; t < threads; t++)
    for (int64_t k = 0; k < width; k++) out[k] += partial[static_cast<size_t>(t) * width + k];
}

struct Config {
  int64_t h = 0, w = 0, cin = 0, classes = 0;
  std::vector<int64_t> channels;
  std::vector<bool> pool;
  bool max_pool = false, batch_norm = false;
  // The head reads the last layer's output flattened (its positions × channels), not its GAP.
  bool flatten = false;
  Act act = Act::relu;
  float eps = 1e-5f, momentum = 0.1f;
};

// `user` in the layout `want` without a copy, where the two differ only in name: the same
// layout, or a channels-last activation of exactly 16 channels, which already is oneDNN's blocked
// nChw16c ([N][C/16][H][W][16]) that the weight gradients' and Winograd's kernels ask for (those
// reorders were a tenth of a step). A null memory where a reorder is needed.
memory as_is(const memory::desc& want, const memory& user) {
  const memory::desc have = user.get_desc();
  if (want == have) return user;
  const memory::dims d = have.dims();
  if (d.size() == 4 && d[1] == 16 && have == memory::desc(d, dt::f32, tag::nhwc) &&
      want == memory::desc(d, dt::f32, tag::aBcd16b))
    return memory(want, cpu_engine(), user.get_data_handle());
  return memory();
}

memory& scratch_for(const memory::desc& want, memory& scratch) {
  if (!scratch || scratch.get_desc() != want) scratch = memory(want, cpu_engine());
  return scratch;
}

// A user buffer in the layout a primitive wants: reordered into `scratch` when they differ.
memory in_layout(const memory::desc& want, memory user, memory& scratch) {
  if (memory same = as_is(want, user)) return same;
  reorder(user, scratch_for(want, scratch)).execute(cpu_stream(), user, scratch);
  return scratch;
}

// Where a primitive writes a result the caller wants in `user`: `user` itself where as_is allows,
// else `scratch`, which back_to then reorders into `user`.
memory out_layout(const memory::desc& want, memory user, memory& scratch) {
  if (memory same = as_is(want, user)) return same;
  return scratch_for(want, scratch);
}

void back_to(memory& result, memory& user) {
  if (result.get_data_handle() != user.get_data_handle()) reorder(result, user).execute(cpu_stream(), result, user);
}

// What turns a layer's convolution output z into its activation, channel by channel: batch
// norm's (z − mean)·rstd·γ + β where there is one, then max(v, 0) + s·min(v, 0) with a slope s
// on the negative side (α for PReLU, 0 for ReLU, 1 for the identity). One branch-free form for
// the three activations, so the loops vectorise; pooled layers recompute it from z in the
// backward pass rather than keep it.
template <bool BN>
struct Pointwise {
  const float *mean, *rstd, *gamma, *beta, *slope;
  inline float operator()(float z, int64_t ch) const {
    const float v = BN ? ((z - mean[ch]) * rstd[ch]) * gamma[ch] + beta[ch] : z;
    return std::max(v, 0.0f) + slope[ch] * std::min(v, 0.0f);
  }
};

// One layer for one batch size: its geometry, its convolution primitives, and its buffers.
struct Layer {
  int64_t h, w, ci, co, oh, ow;  // input = conv output size (h×w); after pooling oh×ow
  bool pooled, first;
  memory::desc src_md, dst_md, wei_md, bias_md;
  convolution_forward::primitive_desc fwd_pd;
  convolution_forward fwd;
  convolution_backward_data::primitive_desc bwd_data_pd;
  convolution_backward_data bwd_data;
  convolution_backward_weights::primitive_desc bwd_w_pd;
  convolution_backward_weights bwd_w;
  memory wei_fwd, wei_bwd, src_bw, dst_bw, dwei_bw;  // scratch in the primitives' layouts
  memory src_fwd, dst_fwd, dz_bwd, dsrc_bwd;  // the same, for Winograd's blocked activations
  memory src_read;  // what this step's forward convolution read: the input, or its reordered copy
  // z: convolution output; a: after batch norm and the activation (unpooled layers; pooled ones
  // go from z to p in one pass); p: after pooling. gamma, beta (the caller's, during run) and the
  // activation's slope: this step's, per channel, for both passes.
  const float *gamma = nullptr, *beta = nullptr;
  std::vector<float> slope;
  std::vector<float> z, a, p, dout, da, dz, mean, rstd;
  const float* input = nullptr;  // what the convolution reads (the batch or the previous output)
  float* output() { return pooled ? p.data() : a.data(); }
};

// One 2×2 window of pool_backward: each tap's z (z0…z3, row-major) and gradient (d0…d3), c
// channels each. Functions of their own because GCC honours __restrict on parameters only: in
// the loop body the four stores could alias for all it knew, and it kept the loops scalar.
// Max pooling gives the window's gradient to its first maximum (a later tap wins only when
// strictly greater), as a chain of selects (3, else 2, else 1, else 0): a computed tap index
// kept the loop scalar too.
template <typename Act>
inline void max_window_backward(const float* __restrict z0, const float* __restrict z1, const float* __restrict z2,
                                const float* __restrict z3, float* __restrict d0, float* __restrict d1,
                                float* __restrict d2, float* __restrict d3, const float* __restrict grad, Act act,
                                int64_t c) {
  for (int64_t ch = 0; ch < c; ch++) {
    const float v0 = act(z0[ch], ch), v1 = act(z1[ch], ch), v2 = act(z2[ch], ch), v3 = act(z3[ch], ch);
    const bool w1 = v1 > v0;
    const float m01 = w1 ? v1 : v0;
    const bool w2 = v2 > m01;
    const float m012 = w2 ? v2 : m01;
    const bool w3 = v3 > m012;
    const float gv = grad[ch];
    const float r3 = w3 ? 0.0f : gv;
    const float r2 = w2 ? 0.0f : r3;
    d3[ch] = w3 ? gv : 0.0f;
    d2[ch] = w2 ? r3 : 0.0f;
    d1[ch] = w1 ? r2 : 0.0f;
    d0[ch] = w1 ? 0.0f : r2;
  }
}

// Average pooling's: a quarter of the window's gradient to each tap.
inline void mean_window_backward(float* __restrict d0, float* __restrict d1, float* __restrict d2,
                                 float* __restrict d3, const float* __restrict grad, int64_t c) {
  for (int64_t ch = 0; ch < c; ch++) {
    const float quarter = grad[ch] * 0.25f;
    d0[ch] = quarter;
    d1[ch] = quarter;
    d2[ch] = quarter;
    d3[ch] = quarter;
  }
}

class Plan {
 public:
  Plan(const Config& c, int64_t n) : c_(c), n_(n) {
    int64_t h = c.h, w = c.w, ci = c.cin;
    for (size_t i = 0; i < c.channels.size(); i++) {
      auto L = std::make_unique<Layer>();
      L->h = h;
      L->w = w;
      L->ci = ci;
      L->co = c.channels[i];
      L->pooled = c.pool[i];
      L->first = i == 0;
      L->oh = L->pooled ? h / 2 : h;
      L->ow = L->pooled ? w / 2 : w;
      build(*L, !c.batch_norm);
      const size_t size = static_cast<size_t>(n * h * w * L->co);
      L->z.resize(size);
      if (!L->pooled) L->a.resize(size);
      L->da.resize(size);
      L->dz.resize(size);
      if (L->pooled) {
        L->p.resize(static_cast<size_t>(n * L->oh * L->ow * L->co));
        L->dout.resize(L->p.size());
      }
      L->mean.resize(L->co);
      L->rstd.resize(L->co);
      h = L->oh;
      w = L->ow;
      ci = L->co;
      layers_.push_back(std::move(L));
    }
    for (size_t i = 1; i < layers_.size(); i++) layers_[i]->input = layers_[i - 1]->output();
    // A flatten head reads the last output in place; only a GAP head has features of its own.
    width_ = c.flatten ? h * w * ci : ci;
    if (!c.flatten) {
      feats_.resize(static_cast<size_t>(n * ci));
      dfeats_.resize(feats_.size());
    }
    logits_.resize(static_cast<size_t>(n * c.classes));
  }

  // The whole step; see CnnStep::Run for the arguments.
  void run(const float* x, const int32_t* labels, const std::vector<float*>& params, const std::vector<float*>& grads,
           const std::vector<float*>& stats, double* result) {
    layers_[0]->input = x;
    size_t pi = 0, gi = 0, si = 0;
    struct Slots {
      float *kernel, *bias, *gamma, *beta, *moving_mean, *moving_var, *alpha;
      float *dkernel, *dbias, *dgamma, *dbeta, *dalpha, *new_mean, *new_var;
    };
    std::vector<Slots> slots(layers_.size());
    for (auto& s : slots) {
      s = {};
      s.kernel = params[pi++];
      s.dkernel = grads[gi++];
      if (!c_.batch_norm) {
        s.bias = params[pi++];
        s.dbias = grads[gi++];
      } else {
        s.gamma = params[pi++];
        s.beta = params[pi++];
        s.moving_mean = params[pi++];
        s.moving_var = params[pi++];
        s.dgamma = grads[gi++];
        s.dbeta = grads[gi++];
        s.new_mean = stats[si++];
        s.new_var = stats[si++];
      }
      if (c_.act == Act::prelu) {
        s.alpha = params[pi++];
        s.dalpha = grads[gi++];
      }
    }
    const float* head_w = params[pi++];
    const float* head_b = params[pi++];
    float* dhead_w = grads[gi++];
    float* dhead_b = grads[gi++];

    for (size_t i = 0; i < layers_.size(); i++) {
      Layer& L = *layers_[i];
      const Slots& s = slots[i];
      convolve(L, s.kernel, s.bias);
      if (c_.batch_norm) moments(L, s.moving_mean, s.moving_var, s.new_mean, s.new_var);
      L.slope = slopes(L.co, s.alpha);
      L.gamma = s.gamma;
      L.beta = s.beta;
      with_pointwise(L, [&](auto act) {
        if (L.pooled) pool_forward(L, act);
        else activate(L, act);
      });
    }
    Layer& last = *layers_.back();
    if (!c_.flatten) global_mean(last);
    head(head_w, head_b, labels, result, dhead_w, dhead_b);

    // Backward: the gradient of the last layer's output is the head's (spread over positions
    // under a GAP head; written in place by head() under a flatten head).
    if (!c_.flatten) spread_mean(last);
    for (size_t i = layers_.size(); i-- > 0;) {
      Layer& L = *layers_[i];
      const Slots& s = slots[i];
      if (L.pooled) with_pointwise(L, [&](auto act) { pool_backward(L, act); });
      if (c_.batch_norm) normalise_backward(L, s.dgamma, s.dbeta, s.dalpha);
      else activate_backward(L, s.dalpha);
      convolve_backward(L, s.kernel, s.dkernel, s.dbias, i > 0 ? layers_[i - 1].get() : nullptr);
    }
  }

  // Each layer's convolution kernels as oneDNN names them (forward, then the weight gradient).
  std::vector<std::string> kernels() const {
    std::vector<std::string> out;
    for (const auto& L : layers_) out.push_back(std::string(L->fwd_pd.impl_info_str()) + " / " + L->bwd_w_pd.impl_info_str());
    return out;
  }

 private:
  const Config c_;
  const int64_t n_;
  std::vector<std::unique_ptr<Layer>> layers_;
  int64_t width_ = 0;  // the head's input features
  std::vector<float> feats_, dfeats_, logits_;

  const float* features() { return c_.flatten ? layers_.back()->output() : feats_.data(); }
  // Where the head's input gradient goes: the last layer's output gradient itself when flattened.
  float* feature_grads() {
    Layer& last = *layers_.back();
    return c_.flatten ? (last.pooled ? last.dout.data() : last.da.data()) : dfeats_.data();
  }

  void build(Layer& L, bool bias) {
    L.src_md = memory::desc({n_, L.ci, L.h, L.w}, dt::f32, tag::nhwc);
    L.dst_md = memory::desc({n_, L.co, L.h, L.w}, dt::f32, tag::nhwc);
    L.wei_md = memory::desc({L.co, L.ci, 3, 3}, dt::f32, tag::hwio);
    L.bias_md = memory::desc({L.co}, dt::f32, tag::x);
    if (linea::winograd_wanted(L.h, L.w, L.ci, L.co)) {
      try {
        build_with(L, bias, algorithm::convolution_winograd);
        return;
      } catch (const dnnl::error&) {
        // Not implemented for this layer (channels, or a CPU without AVX-512): the direct kernels.
      }
    }
    build_with(L, bias, algorithm::convolution_direct);
  }

  // Winograd's kernels read and write blocked activations (the caller's channels-last ones are
  // reordered in and out, a tenth of what they save); the direct ones read channels-last as is.
  void build_with(Layer& L, bool bias, algorithm alg) {
    const memory::dims strides{1, 1}, dilates{0, 0}, pad{1, 1};
    const bool wino = alg == algorithm::convolution_winograd;
    const memory::desc wei_any({L.co, L.ci, 3, 3}, dt::f32, tag::any);
    const memory::desc src_any({n_, L.ci, L.h, L.w}, dt::f32, tag::any), dst_any({n_, L.co, L.h, L.w}, dt::f32, tag::any);
    const memory::desc& src = wino ? src_any : L.src_md;
    const memory::desc& dst = wino ? dst_any : L.dst_md;
    auto fd = bias ? convolution_forward::desc(prop_kind::forward_training, alg, src, wei_any, L.bias_md, dst, strides,
                                               dilates, pad, pad)
                   : convolution_forward::desc(prop_kind::forward_training, alg, src, wei_any, dst, strides, dilates,
                                               pad, pad);
    L.fwd_pd = convolution_forward::primitive_desc(fd, cpu_engine());
    L.fwd = convolution_forward(L.fwd_pd);
    if (!L.first) {
      convolution_backward_data::desc bd(alg, src, wei_any, dst, strides, dilates, pad, pad);
      L.bwd_data_pd = convolution_backward_data::primitive_desc(bd, cpu_engine(), L.fwd_pd);
      L.bwd_data = convolution_backward_data(L.bwd_data_pd);
    }
    // Activations in whatever layout the weight-gradient kernel prefers (as addon.cc's
    // conv2dBackwardWeights): reordering them costs less than running it on channels-last data.
    auto wd = bias ? convolution_backward_weights::desc(alg, src_any, wei_any, L.bias_md, dst_any, strides, dilates,
                                                        pad, pad)
                   : convolution_backward_weights::desc(alg, src_any, wei_any, dst_any, strides, dilates, pad, pad);
    L.bwd_w_pd = convolution_backward_weights::primitive_desc(wd, cpu_engine(), L.fwd_pd);
    L.bwd_w = convolution_backward_weights(L.bwd_w_pd);
  }

  void convolve(Layer& L, const float* kernel, const float* bias) {
    memory src = in_layout(L.fwd_pd.src_desc(), memory(L.src_md, cpu_engine(), const_cast<float*>(L.input)), L.src_fwd);
    L.src_read = src;
    memory user_dst(L.dst_md, cpu_engine(), L.z.data());
    memory dst = out_layout(L.fwd_pd.dst_desc(), user_dst, L.dst_fwd);
    memory wei = in_layout(L.fwd_pd.weights_desc(), memory(L.wei_md, cpu_engine(), const_cast<float*>(kernel)), L.wei_fwd);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
    if (bias) args.insert({DNNL_ARG_BIAS, memory(L.bias_md, cpu_engine(), const_cast<float*>(bias))});
    L.fwd.execute(cpu_stream(), args);
    back_to(dst, user_dst);
    cpu_stream().wait();
  }

  void convolve_backward(Layer& L, const float* kernel, float* dkernel, float* dbias, Layer* previous) {
    memory user_src(L.src_md, cpu_engine(), const_cast<float*>(L.input));
    memory user_dz(L.dst_md, cpu_engine(), L.dz.data());
    // The input is unchanged since the forward pass of this step: where the weight gradient wants
    // the layout the forward convolution read it in, it reads that copy rather than reorder again.
    const memory::desc& want_src = L.bwd_w_pd.src_desc();
    memory src = L.src_read.get_desc() == want_src ? L.src_read : in_layout(want_src, user_src, L.src_bw);
    memory diff_dst = in_layout(L.bwd_w_pd.diff_dst_desc(), user_dz, L.dst_bw);
    memory user_dw(L.wei_md, cpu_engine(), dkernel);
    const bool direct = L.bwd_w_pd.diff_weights_desc() == L.wei_md;
    if (!direct && (!L.dwei_bw || L.dwei_bw.get_desc() != L.bwd_w_pd.diff_weights_desc()))
      L.dwei_bw = memory(L.bwd_w_pd.diff_weights_desc(), cpu_engine());
    memory diff_wei = direct ? user_dw : L.dwei_bw;
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, diff_wei}};
    if (dbias) args.insert({DNNL_ARG_DIFF_BIAS, memory(L.bias_md, cpu_engine(), dbias)});
    L.bwd_w.execute(cpu_stream(), args);
    if (!direct) reorder(diff_wei, user_dw).execute(cpu_stream(), diff_wei, user_dw);
    if (previous) {
      // The gradient of the previous layer's output (its pooled output where it pools).
      float* target = previous->pooled ? previous->dout.data() : previous->da.data();
      memory user_dsrc(L.src_md, cpu_engine(), target);
      memory diff_src = out_layout(L.bwd_data_pd.diff_src_desc(), user_dsrc, L.dsrc_bwd);
      // The weight gradient's reordered dz serves here too when both kernels want one layout.
      const memory::desc& want = L.bwd_data_pd.diff_dst_desc();
      memory dz = want == diff_dst.get_desc() ? diff_dst : in_layout(want, user_dz, L.dz_bwd);
      memory wei =
          in_layout(L.bwd_data_pd.weights_desc(), memory(L.wei_md, cpu_engine(), const_cast<float*>(kernel)), L.wei_bwd);
      L.bwd_data.execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, dz}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, diff_src}});
      back_to(diff_src, user_dsrc);
    }
    cpu_stream().wait();
  }

  // The activation as max(v, 0) + s·min(v, 0) with a slope s per channel on the negative side:
  // α for PReLU, 0 for ReLU, 1 for the identity. One branch-free form for all three, so every
  // loop below vectorises; its derivative is 1 where v > 0, else s (0 counts as negative, as in
  // tfjs's gradients), and PReLU's dα sums dy·min(v, 0).
  std::vector<float> slopes(int64_t c, const float* alpha) const {
    std::vector<float> s(c, c_.act == Act::linear ? 1.0f : 0.0f);
    if (c_.act == Act::prelu) std::copy(alpha, alpha + c, s.begin());
    return s;
  }

  // The batch statistics (moments in one shifted pass, sums in double) and the next moving
  // statistics: the model's BATCH_NORM_TRAIN, whose normalisation is applied with the activation.
  void moments(Layer& L, const float* moving_mean, const float* moving_var, float* new_mean, float* new_var) {
    const int64_t c = L.co, rows = n_ * L.h * L.w;
    const float* __restrict z = L.z.data();
    // One pass for both moments, on values shifted by the first row's (a value near each
    // channel's mean keeps Σd² − (Σd)²/n free of cancellation): Σd and Σd², d = z − shift.
    std::vector<float> first(z, z + c);
    const float* __restrict shift = first.data();
    std::vector<double> sums;
    block_sums(rows, 2 * c, sums, [&](int64_t r, float* __restrict acc) {
      const float* __restrict in = z + r * c;
      for (int64_t ch = 0; ch < c; ch++) {
        const float d = in[ch] - shift[ch];
        acc[ch] += d;
        acc[c + ch] += d * d;
      }
    });
    std::vector<double> variances(c);
    for (int64_t ch = 0; ch < c; ch++) {
      const double m = sums[ch] / static_cast<double>(rows);
      L.mean[ch] = static_cast<float>(shift[ch] + m);
      variances[ch] = std::max(0.0, sums[c + ch] / static_cast<double>(rows) - m * m);
    }
    const float* __restrict mean = L.mean.data();
    const float keep = 1.0f - c_.momentum;
    const float var_weight = c_.momentum * static_cast<float>(rows) / static_cast<float>(std::max<int64_t>(rows - 1, 1));
    for (int64_t ch = 0; ch < c; ch++) {
      const float variance = static_cast<float>(variances[ch]);
      L.rstd[ch] = 1.0f / std::sqrt(variance + c_.eps);
      new_mean[ch] = moving_mean[ch] * keep + L.mean[ch] * c_.momentum;
      new_var[ch] = moving_var[ch] * keep + variance * var_weight;
    }
  }

  // Calls f with the layer's Pointwise, batch norm or not.
  template <typename F>
  void with_pointwise(Layer& L, F f) {
    if (c_.batch_norm)
      f(Pointwise<true>{L.mean.data(), L.rstd.data(), L.gamma, L.beta, L.slope.data()});
    else
      f(Pointwise<false>{nullptr, nullptr, nullptr, nullptr, L.slope.data()});
  }

  template <typename Act>
  void activate(Layer& L, Act act) {
    const int64_t c = L.co, rows = n_ * L.h * L.w;
    const float* __restrict z = L.z.data();
    float* __restrict a = L.a.data();
#pragma omp parallel for if (rows * c > 32768)
    for (int64_t r = 0; r < rows; r++)
      for (int64_t ch = 0; ch < c; ch++) a[r * c + ch] = act(z[r * c + ch], ch);
  }

  // Without batch norm: dz = da·act'(z), and PReLU's dα.
  void activate_backward(Layer& L, float* dalpha) {
    const int64_t c = L.co, rows = n_ * L.h * L.w;
    const float* __restrict ps = L.slope.data();
    const float* __restrict z = L.z.data();
    const float* __restrict da = L.da.data();
    float* __restrict dz = L.dz.data();
    std::vector<double> sums;
    block_sums(rows, c, sums, [&](int64_t r, float* __restrict acc) {
      const float* __restrict zr = z + r * c;
      const float* __restrict gr = da + r * c;
      float* __restrict out = dz + r * c;
      for (int64_t ch = 0; ch < c; ch++) {
        const float pos = zr[ch] > 0 ? 1.0f : 0.0f;
        out[ch] = gr[ch] * (pos + (1.0f - pos) * ps[ch]);
        acc[ch] += gr[ch] * std::min(zr[ch], 0.0f);
      }
    });
    if (dalpha)
      for (int64_t ch = 0; ch < c; ch++) dalpha[ch] = static_cast<float>(sums[ch]);
  }

  // The activation's and batch norm's gradients in two passes over da and z: the sums Σdy,
  // Σdy·x̂ and PReLU's dα, then dz = γ·rstd·((dy − Σdy/n) − x̂·Σdy·x̂/n).
  void normalise_backward(Layer& L, float* dgamma, float* dbeta, float* dalpha) {
    const int64_t c = L.co, rows = n_ * L.h * L.w;
    // y = x̂·γ + β (the activation's input) is recomputed from z rather than kept from the
    // forward pass: one stream of memory less each way.
    const float* __restrict z = L.z.data();
    const float* __restrict da = L.da.data();
    const float* __restrict mean = L.mean.data();
    const float* __restrict rstd = L.rstd.data();
    const float* __restrict gamma = L.gamma;
    const float* __restrict beta = L.beta;
    const float* __restrict ps = L.slope.data();
    std::vector<double> sums;
    block_sums(rows, 3 * c, sums, [&](int64_t r, float* __restrict acc) {
      const float* __restrict zr = z + r * c;
      const float* __restrict gr = da + r * c;
      for (int64_t ch = 0; ch < c; ch++) {
        const float xhat = (zr[ch] - mean[ch]) * rstd[ch];
        const float y = xhat * gamma[ch] + beta[ch];
        const float pos = y > 0 ? 1.0f : 0.0f;
        const float g = gr[ch] * (pos + (1.0f - pos) * ps[ch]);
        acc[ch] += g;
        acc[c + ch] += g * xhat;
        acc[2 * c + ch] += gr[ch] * std::min(y, 0.0f);
      }
    });
    const float count = static_cast<float>(rows);
    std::vector<float> scale(c), shift(c), tilt(c);
    for (int64_t ch = 0; ch < c; ch++) {
      dbeta[ch] = static_cast<float>(sums[ch]);
      dgamma[ch] = static_cast<float>(sums[c + ch]);
      if (dalpha) dalpha[ch] = static_cast<float>(sums[2 * c + ch]);
      scale[ch] = gamma[ch] * rstd[ch];
      shift[ch] = dbeta[ch] / count;
      tilt[ch] = dgamma[ch] / count;
    }
    const float* __restrict pk = scale.data();
    const float* __restrict pb = shift.data();
    const float* __restrict pt = tilt.data();
    float* __restrict dz = L.dz.data();
#pragma omp parallel for if (rows * c > 32768)
    for (int64_t r = 0; r < rows; r++) {
      const float* __restrict zr = z + r * c;
      const float* __restrict gr = da + r * c;
      float* __restrict out = dz + r * c;
      for (int64_t ch = 0; ch < c; ch++) {
        const float xhat = (zr[ch] - mean[ch]) * rstd[ch];
        const float y = xhat * gamma[ch] + beta[ch];
        const float pos = y > 0 ? 1.0f : 0.0f;
        const float g = gr[ch] * (pos + (1.0f - pos) * ps[ch]);
        out[ch] = pk[ch] * ((g - pb[ch]) - xhat * pt[ch]);
      }
    }
  }

  // 2×2 pooling, stride 2, 'valid' (a trailing odd row or column is dropped), of the activation
  // recomputed from z: the activation itself is never written out.
  template <typename Act>
  void pool_forward(Layer& L, Act act) {
    const int64_t c = L.co, h = L.h, w = L.w, oh = L.oh, ow = L.ow;
    const float* __restrict z = L.z.data();
    float* __restrict p = L.p.data();
    const bool max = c_.max_pool;
#pragma omp parallel for collapse(2)
    for (int64_t b = 0; b < n_; b++) {
      for (int64_t r = 0; r < oh; r++) {
        for (int64_t q = 0; q < ow; q++) {
          const float* t00 = z + ((b * h + 2 * r) * w + 2 * q) * c;
          const float* t01 = t00 + c;
          const float* t10 = t00 + w * c;
          const float* t11 = t10 + c;
          float* __restrict out = p + ((b * oh + r) * ow + q) * c;
          if (max) {
            for (int64_t ch = 0; ch < c; ch++)
              out[ch] = std::max(std::max(act(t00[ch], ch), act(t01[ch], ch)), std::max(act(t10[ch], ch), act(t11[ch], ch)));
          } else {
            for (int64_t ch = 0; ch < c; ch++)
              out[ch] = (((act(t00[ch], ch) + act(t01[ch], ch)) + act(t10[ch], ch)) + act(t11[ch], ch)) * 0.25f;
          }
        }
      }
    }
  }

  // The pooled output's gradient (dout) back to da: a quarter to each tap (average), or all to
  // the window's first maximum in row-major order (max, as tfjs's cpu backend picks it). Every
  // tap of every window is written, so only a dropped odd row or column needs clearing.
  template <typename Act>
  void pool_backward(Layer& L, Act act) {
    const int64_t c = L.co, h = L.h, w = L.w, oh = L.oh, ow = L.ow;
    const float* __restrict z = L.z.data();
    const float* __restrict g = L.dout.data();
    float* __restrict da = L.da.data();
    const bool max = c_.max_pool;
#pragma omp parallel for
    for (int64_t b = 0; b < n_; b++) {
      float* image = da + b * h * w * c;
      if (h % 2) std::fill(image + (h - 1) * w * c, image + h * w * c, 0.0f);
      if (w % 2)
        for (int64_t y = 0; y < h; y++) std::fill(image + (y * w + w - 1) * c, image + (y * w + w) * c, 0.0f);
      for (int64_t r = 0; r < oh; r++) {
        for (int64_t q = 0; q < ow; q++) {
          const int64_t base = ((b * h + 2 * r) * w + 2 * q) * c;
          const float* grad = g + ((b * oh + r) * ow + q) * c;
          float* d = da + base;
          if (max)
            max_window_backward(z + base, z + base + c, z + base + w * c, z + base + w * c + c, d, d + c, d + w * c,
                                d + w * c + c, grad, act, c);
          else
            mean_window_backward(d, d + c, d + w * c, d + w * c + c, grad, c);
        }
      }
    }
  }

  // Global average pooling of the last layer's output: its mean over each image's positions.
  void global_mean(Layer& L) {
    const int64_t c = L.co, hw = L.oh * L.ow;
    const float* x = L.output();
#pragma omp parallel for if (n_ * hw * c > 32768)
    for (int64_t b = 0; b < n_; b++) {
      for (int64_t ch = 0; ch < c; ch++) {
        double s = 0;
        for (int64_t p = 0; p < hw; p++) s += x[(b * hw + p) * c + ch];
        feats_[b * c + ch] = static_cast<float>(s / static_cast<double>(hw));
      }
    }
  }

  void spread_mean(Layer& L) {
    const int64_t c = L.co, hw = L.oh * L.ow;
    float* g = L.pooled ? L.dout.data() : L.da.data();
    const float count = static_cast<float>(hw);
#pragma omp parallel for if (n_ * hw * c > 32768)
    for (int64_t b = 0; b < n_; b++)
      for (int64_t p = 0; p < hw; p++)
        for (int64_t ch = 0; ch < c; ch++) g[(b * hw + p) * c + ch] = dfeats_[b * c + ch] / count;
  }

  // The dense head, mean softmax cross entropy and its gradient, and the batch's hits (argmax,
  // first maximum, equal to the label): result = [task loss, hits]. The head's three products go
  // through oneDNN's sgemm, as the op-by-op path's matmuls do (row-major, f the features):
  // logits[n,k] = f[n,F]·W[F,k] + b; dW = fᵀ·dlogits; df = dlogits·Wᵀ.
  void head(const float* wt, const float* bias, const int32_t* labels, double* result, float* dw, float* db) {
    const int64_t f = width_, k = c_.classes;
    const float* feats = features();
    float* logits = logits_.data();
    gemm('N', 'N', n_, k, f, feats, f, wt, k, logits, k);
    double loss = 0, hits = 0;
    std::vector<float> dlogits(static_cast<size_t>(n_ * k));
    for (int64_t b = 0; b < n_; b++) {
      float* l = logits + b * k;
      for (int64_t j = 0; j < k; j++) l[j] += bias[j];
      int64_t arg = 0;
      for (int64_t j = 1; j < k; j++)
        if (l[j] > l[arg]) arg = j;
      const float top = l[arg];
      double sum = 0;
      for (int64_t j = 0; j < k; j++) sum += std::exp(static_cast<double>(l[j] - top));
      const int64_t label = labels[b];
      loss += std::log(sum) - static_cast<double>(l[label] - top);
      hits += arg == label ? 1 : 0;
      for (int64_t j = 0; j < k; j++) {
        const double softmax = std::exp(static_cast<double>(l[j] - top)) / sum;
        dlogits[b * k + j] = static_cast<float>((softmax - (j == label ? 1.0 : 0.0)) / static_cast<double>(n_));
      }
    }
    result[0] = loss / static_cast<double>(n_);
    result[1] = hits;
    for (int64_t j = 0; j < k; j++) {
      double s = 0;
      for (int64_t b = 0; b < n_; b++) s += dlogits[b * k + j];
      db[j] = static_cast<float>(s);
    }
    gemm('T', 'N', f, k, n_, feats, f, dlogits.data(), k, dw, k);
    gemm('N', 'T', n_, f, k, dlogits.data(), k, wt, k, feature_grads(), f);
  }

  // c[m,n] = op(a)[m,kk]·op(b)[kk,n], row-major.
  static void gemm(char ta, char tb, int64_t m, int64_t n, int64_t kk, const float* a, int64_t lda, const float* b,
                   int64_t ldb, float* c, int64_t ldc) {
    const dnnl_status_t st = dnnl_sgemm(ta, tb, m, n, kk, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    if (st != dnnl_success) throw std::runtime_error("oneDNN sgemm failed with status " + std::to_string(st));
  }
};

int64_t number(const Napi::Object& o, const char* key) {
  auto v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("CnnStep: config.") + key + " must be a number");
  return v.As<Napi::Number>().Int64Value();
}

std::vector<float*> buffers(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string("CnnStep.run: ") + what + " must be an array");
  auto a = v.As<Napi::Array>();
  std::vector<float*> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(v.Env(), std::string("CnnStep.run: ") + what + "[" + std::to_string(i) + "] must be a Float32Array");
    out[i] = e.As<Napi::Float32Array>().Data();
  }
  return out;
}

// new CnnStep({ height, width, inChannels, channels: number[], pool: boolean[], maxPool, batchNorm,
//               activation: 0 identity | 1 relu | 2 prelu, classes, epsilon, momentum })
// step.run(n, x, labels: Int32Array, params, grads, stats, result: Float64Array(2)):
//   params per layer: kernel, then bias (no batch norm) or gamma, beta, moving mean, moving
//   variance; then alpha (PReLU); after the layers the head's kernel and bias. grads: the same
//   order without the moving statistics; stats: each batch norm's new moving mean and variance.
class CnnStep : public Napi::ObjectWrap<CnnStep> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CnnStep",
                       {InstanceMethod("run", &CnnStep::Run), InstanceMethod("kernels", &CnnStep::Kernels)});
  }

  explicit CnnStep(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CnnStep>(info) {
    if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "CnnStep: expected a config object");
    auto o = info[0].As<Napi::Object>();
    c_.h = number(o, "height");
    c_.w = number(o, "width");
    c_.cin = number(o, "inChannels");
    c_.classes = number(o, "classes");
    auto channels = o.Get("channels").As<Napi::Array>();
    auto pool = o.Get("pool").As<Napi::Array>();
    for (uint32_t i = 0; i < channels.Length(); i++) {
      c_.channels.push_back(channels.Get(i).As<Napi::Number>().Int64Value());
      c_.pool.push_back(pool.Get(i).ToBoolean().Value());
    }
    if (c_.channels.empty()) throw Napi::RangeError::New(info.Env(), "CnnStep: no layers");
    c_.max_pool = o.Get("maxPool").ToBoolean().Value();
    c_.batch_norm = o.Get("batchNorm").ToBoolean().Value();
    c_.flatten = o.Get("flatten").ToBoolean().Value();
    const int64_t act = number(o, "activation");
    c_.act = act == 0 ? Act::linear : act == 1 ? Act::relu : Act::prelu;
    c_.eps = static_cast<float>(o.Get("epsilon").As<Napi::Number>().DoubleValue());
    c_.momentum = static_cast<float>(o.Get("momentum").As<Napi::Number>().DoubleValue());
  }

 private:
  Config c_;
  // One plan per batch size met (the last batch of an epoch is often smaller).
  std::map<int64_t, std::unique_ptr<Plan>> plans_;

  // step.kernels(n): each layer's convolution kernels in the plan for batches of n (made by run).
  Napi::Value Kernels(const Napi::CallbackInfo& info) {
    const int64_t n = info[0].As<Napi::Number>().Int64Value();
    auto found = plans_.find(n);
    if (found == plans_.end()) throw Napi::RangeError::New(info.Env(), "CnnStep.kernels: no step has run on a batch of that size");
    auto names = found->second->kernels();
    auto out = Napi::Array::New(info.Env(), names.size());
    for (size_t i = 0; i < names.size(); i++) out.Set(i, names[i]);
    return out;
  }

  Napi::Value Run(const Napi::CallbackInfo& info) {
    const int64_t n = info[0].As<Napi::Number>().Int64Value();
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(info.Env(), "CnnStep.run: x must be a Float32Array");
    if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw Napi::TypeError::New(info.Env(), "CnnStep.run: labels must be an Int32Array");
    auto x = info[1].As<Napi::Float32Array>();
    auto labels = info[2].As<Napi::Int32Array>();
    if (static_cast<int64_t>(x.ElementLength()) != n * c_.h * c_.w * c_.cin || static_cast<int64_t>(labels.ElementLength()) != n)
      throw Napi::RangeError::New(info.Env(), "CnnStep.run: x or labels do not match the batch size");
    for (size_t b = 0; b < labels.ElementLength(); b++)
      if (labels[b] < 0 || labels[b] >= c_.classes)
        throw Napi::RangeError::New(info.Env(), "CnnStep.run: label " + std::to_string(labels[b]) + " of example " +
                                                    std::to_string(b) + " is outside the model's " +
                                                    std::to_string(c_.classes) + " classes (0 to " +
                                                    std::to_string(c_.classes - 1) + ")");
    auto params = buffers(info[3], "params");
    auto grads = buffers(info[4], "grads");
    auto stats = buffers(info[5], "stats");
    auto result = info[6].As<Napi::Float64Array>();
    try {
      auto& plan = plans_[n];
      if (!plan) plan = std::make_unique<Plan>(c_, n);
      plan->run(x.Data(), labels.Data(), params, grads, stats, result.Data());
    } catch (const dnnl::error& e) {
      throw Napi::Error::New(info.Env(), std::string("oneDNN, in a plain CNN's training step: ") + e.what());
    } catch (const std::runtime_error& e) {
      throw Napi::Error::New(info.Env(), std::string("oneDNN, in a plain CNN's training step: ") + e.what());
    }
    return info.Env().Undefined();
  }
};

}  // namespace

namespace linea {

void register_cnn_step(Napi::Env env, Napi::Object exports) { exports.Set("CnnStep", CnnStep::Define(env)); }

}  // namespace linea

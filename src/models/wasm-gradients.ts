/**
 * Gradient kernels the wasm backend lacks (tfjs 4.22): Conv2DBackpropFilter and the two depthwise
 * backprop kernels. Without them, training any convolutional model on wasm throws. Its own
 * Conv2DBackpropInput is replaced too: it is a scalar loop that dominated a training step.
 *
 * Each is written with ops the wasm backend does have: the dense ones as a single XNNPACK forward
 * convolution over transposed or dilated operands, the depthwise ones one filter tap at a time
 * (pad, strided slices, elementwise products), so memory stays at one tap's patch.
 * Ops called inside a kernel are not recorded on the gradient tape (tfjs counts kernel depth),
 * and `tidy` frees every intermediate before the kernel returns.
 */
import * as tf from './tf.ts';
import type { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { attrsAs } from './kernel-attrs.ts';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;

interface ConvAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dilations?: [number, number] | number;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function tensor(info: TensorInfo | undefined, what: string): tf.Tensor4D {
  // The engine hands kernels the input Tensors themselves; only their TensorInfo type is declared.
  if (!(info instanceof tf.Tensor)) throw new Error(`wasm gradient kernel: input '${what}' is not a tensor`);
  return info as tf.Tensor4D;
}

function requireNHWC(kernel: string, attrs: ConvAttrs): void {
  if (attrs.dataFormat === 'NCHW') throw new Error(`${kernel} on wasm: only NHWC data is supported`);
}

/** Pad x as the forward convolution did, so tap (kh, kw) of output (oh, ow) reads xp[oh·s + kh·d]. */
function padLikeForward(x: tf.Tensor4D, info: backend_util.Conv2DInfo): tf.Tensor4D {
  const { top, bottom, left, right } = info.padInfo;
  if (top === 0 && bottom === 0 && left === 0 && right === 0) return x;
  return tf.pad(x, [
    [0, 0],
    [top, Math.max(bottom, 0)],
    [left, Math.max(right, 0)],
    [0, 0],
  ]);
}

/** The [N, outH, outW, C] window of xp that filter tap (kh, kw) meets across all output positions. */
function tapPatch(xp: tf.Tensor4D, info: backend_util.Conv2DInfo, kh: number, kw: number): tf.Tensor4D {
  const { batchSize, outHeight, outWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const channels = xp.shape[3];
  const begin = [0, kh * dilationHeight, kw * dilationWidth, 0];
  if (strideHeight === 1 && strideWidth === 1) return tf.slice(xp, begin, [batchSize, outHeight, outWidth, channels]);
  const end = [
    batchSize,
    begin[1]! + (outHeight - 1) * strideHeight + 1,
    begin[2]! + (outWidth - 1) * strideWidth + 1,
    channels,
  ];
  return tf.stridedSlice(xp, begin, end, [1, strideHeight, strideWidth, 1]) as tf.Tensor4D;
}

function conv2dBackpropFilter({ inputs, attrs }: { inputs: NamedTensorInfoMap; attrs?: NamedAttrMap }): TensorInfo {
  const a = attrsAs<ConvAttrs & { filterShape: [number, number, number, number] }>(attrs);
  requireNHWC('Conv2DBackpropFilter', a);
  const x = tensor(inputs.x, 'x');
  const dy = tensor(inputs.dy, 'dy');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    a.filterShape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1)
    throw new Error('Conv2DBackpropFilter on wasm: dilated filters are not supported');
  return filterGradientAsConv(x, dy, info);
}

/**
 * dW as one forward convolution, so XNNPACK's conv does the work as one large GEMM (tap-by-tap
 * matmuls with a 100k-long reduction run ~10× slower on wasm): with x as [Ci, H, W, N] and dy as
 * a filter [OH, OW, N, Co] dilated by the stride,
 *   dW[kh, kw, ci, co] = Σ_{oh, ow, n} x[ci, kh + oh·s, kw + ow·s, n] · dy[oh, ow, n, co].
 */
function filterGradientAsConv(x: tf.Tensor4D, dy: tf.Tensor4D, info: backend_util.Conv2DInfo): tf.Tensor4D {
  const {
    batchSize,
    outHeight,
    outWidth,
    strideHeight: sh,
    strideWidth: sw,
    filterHeight: fh,
    filterWidth: fw,
    inChannels,
  } = info;
  return tf.tidy(() => {
    const needH = fh + (outHeight - 1) * sh;
    const needW = fw + (outWidth - 1) * sw;
    const xp = tf.slice(padLikeForward(x, info), [0, 0, 0, 0], [batchSize, needH, needW, inChannels]);
    const xT = tf.transpose(xp, [3, 1, 2, 0]);
    const dyT = tf.transpose(dy, [1, 2, 0, 3]);
    const out = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', [sh, sw]); // [Ci, fh, fw, Co]
    return tf.transpose(out, [1, 2, 0, 3]);
  });
}

/** dy with (stride − 1) zeros between rows and between columns: [N, (oh−1)·sh+1, (ow−1)·sw+1, C]. */
function dilateByStride(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, oh, ow, c] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, c]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return tf.slice(
    tf.reshape(spread, [n, oh * sh, ow * sw, c]) as tf.Tensor4D,
    [0, 0, 0, 0],
    [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c],
  );
}

/**
 * dx as one forward convolution of the stride-dilated, padded dy with the spatially flipped,
 * in/out-transposed filter: dx[i] = Σ_k dy_padded[i + k] · W[fh−1−k]. The wasm backend's own
 * Conv2DBackpropInput is a scalar loop, ~10× slower than XNNPACK's convolution.
 */
function conv2dBackpropInput({ inputs, attrs }: { inputs: NamedTensorInfoMap; attrs?: NamedAttrMap }): TensorInfo {
  const a = attrsAs<ConvAttrs & { inputShape: [number, number, number, number] }>(attrs);
  requireNHWC('Conv2DBackpropInput', a);
  const dy = tensor(inputs.dy, 'dy');
  const filter = tensor(inputs.filter, 'filter');
  const info = tf.backend_util.computeConv2DInfo(
    a.inputShape,
    filter.shape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    filterHeight: fh,
    filterWidth: fw,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const { top, left } = info.padInfo;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || top > fh - 1 || left > fw - 1) {
    throw new Error('Conv2DBackpropInput on wasm: dilated filters and padding wider than the filter are not supported');
  }
  return tf.tidy(() => {
    const dilated = dilateByStride(dy, sh, sw);
    const padded = tf.pad(dilated, [
      [0, 0],
      [fh - 1 - top, Math.max(inHeight + top - dilated.shape[1], 0)],
      [fw - 1 - left, Math.max(inWidth + left - dilated.shape[2], 0)],
      [0, 0],
    ]);
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    const dx = tf.conv2d(padded, flipped as tf.Tensor4D, 1, 'valid');
    return dx.shape[1] === inHeight && dx.shape[2] === inWidth
      ? dx
      : tf.slice(dx, [0, 0, 0, 0], [batchSize, inHeight, inWidth, inChannels]);
  });
}

function depthwiseBackpropFilter({ inputs, attrs }: { inputs: NamedTensorInfoMap; attrs?: NamedAttrMap }): TensorInfo {
  const a = attrsAs<ConvAttrs & { filterShape: [number, number, number, number] }>(attrs);
  requireNHWC('DepthwiseConv2dNativeBackpropFilter', a);
  const x = tensor(inputs.x, 'x');
  const dy = tensor(inputs.dy, 'dy');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    a.filterShape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    true,
    'channelsLast',
  );
  const [, , channels, multiplier] = a.filterShape;
  return tf.tidy(() => {
    const xp = padLikeForward(x, info);
    const rows = info.batchSize * info.outHeight * info.outWidth;
    const dy3 = tf.reshape(dy, [rows, channels, multiplier]);
    const taps: tf.Tensor[] = [];
    for (let kh = 0; kh < info.filterHeight; kh++) {
      for (let kw = 0; kw < info.filterWidth; kw++) {
        const patch = tf.reshape(tapPatch(xp, info, kh, kw), [rows, channels, 1]);
        taps.push(tf.sum(tf.mul(patch, dy3), 0)); // [C, multiplier]
      }
    }
    return tf.reshape(tf.stack(taps), a.filterShape);
  });
}

/**
 * dx of a depthwise convolution: every output gradient is spread back over the input window it
 * read. Inserting stride−1 zeros between dy's rows and columns turns that scatter into a gather:
 * dx = Σ_taps window(dy_dilated_padded) · W[flipped tap], summed over the channel multiplier.
 */
function depthwiseBackpropInput({ inputs, attrs }: { inputs: NamedTensorInfoMap; attrs?: NamedAttrMap }): TensorInfo {
  const a = attrsAs<ConvAttrs & { inputShape: [number, number, number, number] }>(attrs);
  requireNHWC('DepthwiseConv2dNativeBackpropInput', a);
  const dy = tensor(inputs.dy, 'dy');
  const filter = tensor(inputs.filter, 'filter');
  const info = tf.backend_util.computeConv2DInfo(
    a.inputShape,
    filter.shape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    true,
    'channelsLast',
  );
  const {
    batchSize,
    strideHeight: sh,
    strideWidth: sw,
    dilationHeight: dh,
    dilationWidth: dw,
    inHeight,
    inWidth,
  } = info;
  const [fh, fw, channels, multiplier] = filter.shape;
  return tf.tidy(() => {
    const outC = channels * multiplier;
    const dilated = dilateByStride(dy, sh, sw);
    // dx[i] gathers dilated[i + top − kh·dh] for each tap; pad so every such index exists.
    const { top, left } = info.padInfo;
    const padTop = Math.max((fh - 1) * dh - top, 0);
    const padLeft = Math.max((fw - 1) * dw - left, 0);
    const full = tf.pad(dilated, [
      [0, 0],
      [padTop, Math.max(inHeight + top - dilated.shape[1], 0)],
      [padLeft, Math.max(inWidth + left - dilated.shape[2], 0)],
      [0, 0],
    ]);
    let dx: tf.Tensor | undefined;
    for (let kh = 0; kh < fh; kh++) {
      for (let kw = 0; kw < fw; kw++) {
        const window = tf.slice(
          full,
          [0, top - kh * dh + padTop, left - kw * dw + padLeft, 0],
          [batchSize, inHeight, inWidth, outC],
        );
        const weights = tf.reshape(tf.slice(filter, [kh, kw, 0, 0], [1, 1, channels, multiplier]), [
          channels,
          multiplier,
        ]);
        const term = tf.sum(
          tf.mul(tf.reshape(window, [batchSize, inHeight, inWidth, channels, multiplier]), weights),
          4,
        );
        dx = dx ? tf.add(dx, term) : term;
      }
    }
    return dx as tf.Tensor;
  });
}

/** Kernels wasm has, but so slowly that training is bound by them: replaced, not added. */
const replacements: KernelConfig[] = [
  {
    kernelName: tf.Conv2DBackpropInput,
    backendName: 'wasm',
    kernelFunc: conv2dBackpropInput as KernelConfig['kernelFunc'],
  },
];

const kernels: KernelConfig[] = [
  {
    kernelName: tf.Conv2DBackpropFilter,
    backendName: 'wasm',
    kernelFunc: conv2dBackpropFilter as KernelConfig['kernelFunc'],
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName: 'wasm',
    kernelFunc: depthwiseBackpropFilter as KernelConfig['kernelFunc'],
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backendName: 'wasm',
    kernelFunc: depthwiseBackpropInput as KernelConfig['kernelFunc'],
  },
];

/** Idempotent: adds the kernels wasm lacks and swaps in the faster replacements. */
export function registerWasmGradientKernels(): void {
  for (const kernel of kernels) {
    if (!tf.getKernel(kernel.kernelName, 'wasm')) tf.registerKernel(kernel);
  }
  for (const kernel of replacements) {
    if (tf.getKernel(kernel.kernelName, 'wasm')?.kernelFunc === kernel.kernelFunc) continue;
    if (tf.getKernel(kernel.kernelName, 'wasm')) tf.unregisterKernel(kernel.kernelName, 'wasm');
    tf.registerKernel(kernel);
  }
}

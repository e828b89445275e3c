/**
 * Gradient kernels the wasm backend lacks (tfjs 4.22): Conv2DBackpropFilter and the two depthwise
 * backprop kernels. Without them, training any convolutional model on wasm throws.
 *
 * Each is written with ops the wasm backend does have (pad, strided slices, XNNPACK matmuls),
 * one filter tap at a time, so memory stays at one tap's patch rather than a full im2col matrix.
 * Ops called inside a kernel are not recorded on the gradient tape (tfjs counts kernel depth),
 * and `tidy` frees every intermediate before the kernel returns.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

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
function padLikeForward(x: tf.Tensor4D, info: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const { top, bottom, left, right } = info.padInfo;
  if (top === 0 && bottom === 0 && left === 0 && right === 0) return x;
  return tf.pad(x, [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]]);
}

/** The [N, outH, outW, C] window of xp that filter tap (kh, kw) meets across all output positions. */
function tapPatch(xp: tf.Tensor4D, info: tf.backend_util.Conv2DInfo, kh: number, kw: number): tf.Tensor4D {
  const { batchSize, outHeight, outWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const channels = xp.shape[3];
  const begin = [0, kh * dilationHeight, kw * dilationWidth, 0];
  if (strideHeight === 1 && strideWidth === 1) return tf.slice(xp, begin, [batchSize, outHeight, outWidth, channels]);
  const end = [batchSize, begin[1]! + (outHeight - 1) * strideHeight + 1, begin[2]! + (outWidth - 1) * strideWidth + 1, channels];
  return tf.stridedSlice(xp, begin, end, [1, strideHeight, strideWidth, 1]) as tf.Tensor4D;
}

function conv2dBackpropFilter({ inputs, attrs }: { inputs: NamedTensorInfoMap; attrs?: NamedAttrMap }): TensorInfo {
  const a = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  requireNHWC('Conv2DBackpropFilter', a);
  const x = tensor(inputs.x, 'x');
  const dy = tensor(inputs.dy, 'dy');
  const info = tf.backend_util.computeConv2DInfo(x.shape, a.filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
  return tf.tidy(() => {
    const xp = padLikeForward(x, info);
    const rows = info.batchSize * info.outHeight * info.outWidth;
    const dy2 = tf.reshape(dy, [rows, info.outChannels]);
    const taps: tf.Tensor[] = [];
    for (let kh = 0; kh < info.filterHeight; kh++) {
      for (let kw = 0; kw < info.filterWidth; kw++) {
        const patch = tf.reshape(tapPatch(xp, info, kh, kw), [rows, info.inChannels]);
        taps.push(tf.matMul(patch, dy2, true, false)); // [inC, outC]
      }
    }
    return tf.reshape(tf.stack(taps), a.filterShape);
  });
}

function depthwiseBackpropFilter({ inputs, attrs }: { inputs: NamedTensorInfoMap; attrs?: NamedAttrMap }): TensorInfo {
  const a = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  requireNHWC('DepthwiseConv2dNativeBackpropFilter', a);
  const x = tensor(inputs.x, 'x');
  const dy = tensor(inputs.dy, 'dy');
  const info = tf.backend_util.computeConv2DInfo(x.shape, a.filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, true, 'channelsLast');
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
  const a = attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  requireNHWC('DepthwiseConv2dNativeBackpropInput', a);
  const dy = tensor(inputs.dy, 'dy');
  const filter = tensor(inputs.filter, 'filter');
  const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, true, 'channelsLast');
  const { batchSize, outHeight, outWidth, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, inHeight, inWidth } = info;
  const [fh, fw, channels, multiplier] = filter.shape;
  return tf.tidy(() => {
    const outC = channels * multiplier;
    // dy with (stride − 1) zeros between rows and between columns: [N, (oh−1)·sh+1, (ow−1)·sw+1, C·m]
    let dilated: tf.Tensor4D = dy;
    if (sh > 1 || sw > 1) {
      const spread = tf.pad(tf.reshape(dy, [batchSize, outHeight, 1, outWidth, 1, outC]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
      dilated = tf.slice(tf.reshape(spread, [batchSize, outHeight * sh, outWidth * sw, outC]) as tf.Tensor4D, [0, 0, 0, 0], [batchSize, (outHeight - 1) * sh + 1, (outWidth - 1) * sw + 1, outC]);
    }
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
        const window = tf.slice(full, [0, top - kh * dh + padTop, left - kw * dw + padLeft, 0], [batchSize, inHeight, inWidth, outC]);
        const weights = tf.reshape(tf.slice(filter, [kh, kw, 0, 0], [1, 1, channels, multiplier]), [channels, multiplier]);
        const term = tf.sum(tf.mul(tf.reshape(window, [batchSize, inHeight, inWidth, channels, multiplier]), weights), 4);
        dx = dx ? tf.add(dx, term) : term;
      }
    }
    return dx as tf.Tensor;
  });
}

const kernels: KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2dBackpropFilter as KernelConfig['kernelFunc'] },
  { kernelName: tf.DepthwiseConv2dNativeBackpropFilter, backendName: 'wasm', kernelFunc: depthwiseBackpropFilter as KernelConfig['kernelFunc'] },
  { kernelName: tf.DepthwiseConv2dNativeBackpropInput, backendName: 'wasm', kernelFunc: depthwiseBackpropInput as KernelConfig['kernelFunc'] },
];

/** Idempotent: registers only the kernels wasm does not already have. */
export function registerWasmGradientKernels(): void {
  for (const kernel of kernels) {
    if (!tf.getKernel(kernel.kernelName, 'wasm')) tf.registerKernel(kernel);
  }
}

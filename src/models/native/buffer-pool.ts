/**
 * Recycled output buffers for the native kernels.
 *
 * A training step allocates every activation and gradient anew: 150-250 MB per step of the
 * reference models. Left to V8, each of those buffers lives until a garbage collection finds its
 * ArrayBuffer dead, and the external memory they add is what triggers the collections: two
 * mark-compacts and four scavenges per fmnist-small step, 15-18 ms of a 60-80 ms step. tfjs
 * already knows the moment a tensor's data is dropped (the backend's disposeData), so a buffer
 * can go back into use then, and the next step's tensor of the same size takes it.
 *
 * A buffer is reused only when nothing can still see it:
 * - it was made here (`take`), never by a caller or a JavaScript kernel;
 * - no live tensor holds it or a view of it (a cpu kernel's `slice` returns a subarray of its
 *   input): `retain`/`release` count the tensors that refer to the buffer;
 * - it was never handed out (`expose`): `dataSync()` returns the backend's own array, and a
 *   caller may keep reading it after disposing the tensor.
 */

interface Holders {
  /** Tensors (dataIds) whose values are this buffer or a view of it. */
  refs: number;
  /** Handed out to a caller (dataSync, data, buffer): never reused. */
  exposed: boolean;
}

export class BufferPool {
  private readonly holders = new WeakMap<ArrayBufferLike, Holders>();
  /** Free buffers by length in floats. */
  private readonly free = new Map<number, Float32Array[]>();
  /** Free buffers, oldest first: the first to go when the pool is over its size. */
  private readonly order: Float32Array[] = [];
  private freeBytes = 0;

  /** @param capacityBytes the most the pool keeps free; beyond it the oldest is left to the GC. */
  constructor(readonly capacityBytes: number) {}

  /** A buffer of `n` floats, contents undefined: a free one of that length, else a new one. */
  take(n: number): Float32Array {
    const reused = this.free.get(n)?.pop();
    if (reused) {
      this.order.splice(this.order.indexOf(reused), 1);
      this.freeBytes -= reused.byteLength;
      return reused;
    }
    // allocUnsafeSlow: unpooled and not zero-filled (V8's `new Float32Array` zero-fills, a whole
    // extra pass over memory for outputs of tens of MB that the kernel writes in full anyway).
    const bytes = Buffer.allocUnsafeSlow(n * 4);
    const fresh = new Float32Array(bytes.buffer, bytes.byteOffset, n);
    this.holders.set(fresh.buffer, { refs: 0, exposed: false });
    return fresh;
  }

  /** A tensor now refers to `values` (the backend wrote or moved them under a dataId). */
  retain(values: unknown): void {
    const h = this.holdersOf(values);
    if (h) h.refs++;
  }

  /** A tensor that referred to `values` is gone; the buffer is free once none is left. */
  release(values: unknown): void {
    const h = this.holdersOf(values);
    if (!h) return;
    h.refs--;
    if (h.refs > 0 || h.exposed) return;
    const whole = values as Float32Array;
    const buffer = new Float32Array(whole.buffer, 0, whole.buffer.byteLength / 4);
    if (buffer.byteLength > this.capacityBytes) return;
    const list = this.free.get(buffer.length) ?? [];
    list.push(buffer);
    this.free.set(buffer.length, list);
    this.order.push(buffer);
    this.freeBytes += buffer.byteLength;
    while (this.freeBytes > this.capacityBytes) this.evictOldest();
  }

  /**
   * Whether `values` may be written in place: made here, held by exactly one tensor, and never
   * handed out (the same conditions as for reuse, with the one holder that writes it).
   */
  exclusive(values: unknown): boolean {
    const h = this.holdersOf(values);
    return h !== undefined && h.refs === 1 && !h.exposed;
  }

  /** `values` were handed to a caller, who may read them at any time: never reuse them. */
  expose(values: unknown): void {
    const h = this.holdersOf(values);
    if (h) h.exposed = true;
  }

  /** Bytes held free, for tests and profiling. */
  get bytesFree(): number {
    return this.freeBytes;
  }

  clear(): void {
    this.free.clear();
    this.order.length = 0;
    this.freeBytes = 0;
  }

  private evictOldest(): void {
    const oldest = this.order.shift()!;
    const list = this.free.get(oldest.length)!;
    list.splice(list.indexOf(oldest), 1);
    if (list.length === 0) this.free.delete(oldest.length);
    this.freeBytes -= oldest.byteLength;
  }

  private holdersOf(values: unknown): Holders | undefined {
    return ArrayBuffer.isView(values) ? this.holders.get(values.buffer) : undefined;
  }
}

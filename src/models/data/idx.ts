/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): two zero bytes,
 * a type code, the number of dimensions, big-endian uint32 sizes, then the data, big-endian.
 * Files ending in .gz are gunzipped first.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';

const TYPES = {
  8: { name: 'uint8', bytes: 1 },
  9: { name: 'int8', bytes: 1 },
  11: { name: 'int16', bytes: 2 },
  12: { name: 'int32', bytes: 4 },
  13: { name: 'float32', bytes: 4 },
  14: { name: 'float64', bytes: 8 },
} as const;

export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0)
    throw new Error(`${source} is not an IDX file (bad magic number)`);
  const type = TYPES[bytes[2] as keyof typeof TYPES];
  if (!type) throw new Error(`${source}: unknown IDX type code 0x${bytes[2]!.toString(16)}`);
  const rank = bytes[3]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * rank) throw new Error(`${source}: truncated IDX header`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const offset = 4 + 4 * rank;
  if (bytes.length - offset !== count * type.bytes) {
    throw new Error(
      `${source}: header says ${dims.join('×')} ${type.name} values (${count * type.bytes} bytes) but the file has ${bytes.length - offset}`,
    );
  }
  const body = bytes.subarray(offset);
  switch (type.name) {
    case 'uint8':
      return { dims, data: new Uint8Array(body) };
    case 'int8':
      return { dims, data: new Int8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)) };
    default: {
      const out =
        type.name === 'int16'
          ? new Int16Array(count)
          : type.name === 'int32'
            ? new Int32Array(count)
            : type.name === 'float32'
              ? new Float32Array(count)
              : new Float64Array(count);
      const read = { int16: view.getInt16, int32: view.getInt32, float32: view.getFloat32, float64: view.getFloat64 }[
        type.name
      ];
      for (let i = 0; i < count; i++) out[i] = read.call(view, offset + i * type.bytes, false);
      return { dims, data: out };
    }
  }
}

export function readIdx(path: string): IdxArray {
  let bytes: Uint8Array = readFileSync(path);
  if (path.endsWith('.gz')) {
    try {
      bytes = gunzipSync(bytes);
    } catch (error) {
      throw new Error(`${path}: not a valid gzip file (${(error as Error).message})`);
    }
  }
  return parseIdx(bytes, path);
}

/** uint8 IDX bytes (the only type the embedded subset and the tests write). */
export function encodeIdx(dims: readonly number[], data: Uint8Array, gzip = false): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header[2] = 0x08;
  header[3] = dims.length;
  for (const [i, d] of dims.entries()) view.setUint32(4 + 4 * i, d, false);
  const bytes = new Uint8Array(header.length + data.length);
  bytes.set(header);
  bytes.set(data, header.length);
  return gzip ? gzipSync(bytes, { level: 9 }) : bytes;
}

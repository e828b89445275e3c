/**
 * The native backend's recycled output buffers (src/models/native/buffer-pool.ts): a buffer goes
 * back into use only once no tensor holds it or a view of it, and never after it was handed out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../src/models/native/buffer-pool.ts';

test('a released buffer is the next one taken of its length, and only of its length', () => {
  const pool = new BufferPool(1 << 20);
  const a = pool.take(256);
  pool.retain(a);
  pool.release(a);
  assert.equal(pool.bytesFree, 1024);
  assert.notEqual(pool.take(128).buffer, a.buffer, 'another length gets a new buffer');
  assert.equal(pool.take(256).buffer, a.buffer);
  assert.equal(pool.bytesFree, 0);
  assert.notEqual(pool.take(256).buffer, a.buffer, 'a buffer is handed out once');
});

test('a buffer is not reused while a view of it is still held', () => {
  const pool = new BufferPool(1 << 20);
  const a = pool.take(100);
  pool.retain(a);
  const view = a.subarray(10, 20); // what tfjs's cpu slice returns for a contiguous slice
  pool.retain(view);
  pool.release(a);
  assert.equal(pool.bytesFree, 0);
  assert.notEqual(pool.take(100).buffer, a.buffer);
  pool.release(view);
  assert.equal(pool.take(100).buffer, a.buffer, 'free once the view is gone too');
});

test('a buffer handed out (dataSync) is never reused', () => {
  const pool = new BufferPool(1 << 20);
  const a = pool.take(64);
  pool.retain(a);
  pool.expose(a);
  pool.release(a);
  assert.equal(pool.bytesFree, 0);
  assert.notEqual(pool.take(64).buffer, a.buffer);
});

test('buffers the pool did not make are left alone', () => {
  const pool = new BufferPool(1 << 20);
  const mine = new Float32Array(64);
  pool.retain(mine);
  pool.release(mine);
  assert.equal(pool.bytesFree, 0);
  assert.notEqual(pool.take(64).buffer, mine.buffer);
});

test('over its capacity the pool lets the oldest free buffers go', () => {
  const pool = new BufferPool(3 * 4096);
  const taken = [pool.take(1024), pool.take(1024), pool.take(1024), pool.take(1024)];
  for (const b of taken) {
    pool.retain(b);
    pool.release(b);
  }
  assert.equal(pool.bytesFree, 3 * 4096);
  const again = [pool.take(1024), pool.take(1024), pool.take(1024)].map((b) => b.buffer);
  assert.ok(!again.includes(taken[0]!.buffer), 'the oldest was dropped');
  for (const b of taken.slice(1)) assert.ok(again.includes(b.buffer));
});

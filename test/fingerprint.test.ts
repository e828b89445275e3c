// The cache key is a pure function of a canonical record, and diffs name fields with values.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { cacheKey, describeReason, diffFingerprints, type Fingerprint } from '../src/engine/key/fingerprint.ts';
import { canonicalJson, type ArtifactDigest, type FileDigest } from '../src/engine/core/json.ts';

const base: Fingerprint = {
  engineVersion: '1',
  stage: 'sparsify',
  code: { 'stages/sparsify.ts': 'a'.repeat(64) as FileDigest },
  packages: { zod: '4.0.0' },
  params: { omega: 0.001, schedule: { lr: 0.1, epochs: 3 } },
  inputs: { dense: 'b'.repeat(64) as ArtifactDigest },
  env: { backend: 'wasm' },
};

describe('fingerprint', () => {
  it("is sha256 of the record's canonical JSON, whether its code digest is a shared frozen object or not", () => {
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const frozen = { ...base, code: Object.freeze({ ...base.code }), packages: Object.freeze({ ...base.packages }) };
    assert.equal(cacheKey(base), sha(canonicalJson(base)));
    assert.equal(cacheKey(frozen), cacheKey(base));
    // The frozen part is serialised once: a second record sharing it, with other params, keys differently.
    const other = { ...frozen, params: { omega: 0.01 } };
    assert.equal(cacheKey(other), sha(canonicalJson(other)));
    assert.notEqual(cacheKey(other), cacheKey(frozen));
    const withExtra = { ...base, note: 'x' } as Fingerprint;
    assert.equal(cacheKey(withExtra), sha(canonicalJson(withExtra)), 'a record with other fields is hashed whole');
  });

  it('does not depend on key order', () => {
    const shuffled = {
      env: base.env,
      inputs: base.inputs,
      params: { schedule: { epochs: 3, lr: 0.1 }, omega: 0.001 },
      packages: base.packages,
      code: base.code,
      stage: base.stage,
      engineVersion: '1',
    };
    assert.equal(cacheKey(shuffled as Fingerprint), cacheKey(base));
  });

  it('changes with every field', () => {
    const variants: Fingerprint[] = [
      { ...base, engineVersion: '2' },
      { ...base, stage: 'other' },
      { ...base, code: { 'stages/sparsify.ts': 'c'.repeat(64) as FileDigest } },
      { ...base, packages: { zod: '4.0.1' } },
      { ...base, params: { ...(base.params as object), omega: 0.0003 } },
      { ...base, inputs: { dense: 'd'.repeat(64) as ArtifactDigest } },
      { ...base, env: { backend: 'cpu' } },
    ];
    const keys = new Set([cacheKey(base), ...variants.map(cacheKey)]);
    assert.equal(keys.size, variants.length + 1);
  });

  it('diffs name nested params with old and new values', () => {
    const next = { ...base, params: { omega: 0.0003, schedule: { lr: 0.1, epochs: 5 } }, env: { backend: 'cpu' } };
    assert.deepEqual(diffFingerprints(base, next).map(describeReason), [
      'params.omega 0.001 → 0.0003',
      'params.schedule.epochs 3 → 5',
      'env.backend "wasm" → "cpu"',
    ]);
  });

  it('canonical JSON refuses values it cannot represent', () => {
    assert.throws(() => canonicalJson({ a: Number.NaN }), /value\.a is NaN/);
    assert.throws(() => canonicalJson({ d: new Date(0) }), /value\.d is a Date/);
    assert.equal(canonicalJson({ b: 1, a: [2, { d: undefined, c: -0 }] }), '{"a":[2,{"c":0}],"b":1}');
  });

  it("canonical JSON is JSON.stringify of a copy with every object's keys sorted (cache keys depend on it byte for byte)", () => {
    // The definition, written the obvious way: a sorted deep copy, then JSON.stringify.
    const sortedCopy = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(sortedCopy)
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
                .map((k) => [k, sortedCopy((v as Record<string, unknown>)[k])]),
            )
          : Object.is(v, -0)
            ? 0
            : v;
    // A small deterministic generator (xorshift), so a failure names a reproducible case.
    let state = 0x9e3779b9;
    const rand = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) / 2 ** 32;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const keys = ['a', 'B', 'b', '10', '9', '0', '-1', 'é', 'e\u0301', '𝒳', 'a b', 'quote"', 'nl\n', '', 'z', 'aa'];
    const numbers = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789.125, Number.MAX_SAFE_INTEGER, -2.5e-300];
    const value = (depth: number): unknown => {
      const r = rand();
      if (depth > 3 || r < 0.35) return pick<unknown>([null, true, false, pick(numbers), pick(keys), `s${rand()}`]);
      if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
      const o: Record<string, unknown> = {};
      const n = Math.floor(rand() * (rand() < 0.1 ? 40 : 6));
      for (let i = 0; i < n; i++)
        o[rand() < 0.7 ? pick(keys) : `k${Math.floor(rand() * 50)}`] = rand() < 0.1 ? undefined : value(depth + 1);
      return o;
    };
    for (let i = 0; i < 3000; i++) {
      const v = value(0);
      assert.equal(canonicalJson(v), JSON.stringify(sortedCopy(v)), `case ${i}: ${JSON.stringify(v)}`);
    }
    assert.throws(() => canonicalJson({ a: [1, { b: () => 1 }] }), /value\.a\[1\]\.b is a function/);
    const loop: Record<string, unknown> = {};
    loop.self = { again: loop };
    assert.throws(() => canonicalJson(loop, 'params'), /params\.self\.again is a circular reference/);
  });
});

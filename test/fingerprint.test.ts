// The cache key is a pure function of a canonical record, and diffs name fields with values.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheKey, describeReason, diffFingerprints, type Fingerprint } from '../src/engine/fingerprint.ts';
import { canonicalJson, type ArtifactDigest, type FileDigest } from '../src/engine/json.ts';

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
});

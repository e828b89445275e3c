/**
 * Backend selection: fastest working backend first, every skipped one with its reason; a forced
 * backend (--backend, LINEA_BACKEND) that cannot load is an error that says why.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { backendNames, selectBackend } from '../src/models/backends.ts';
import { makeProject, REPO, type Project } from './helpers/project.ts';

const PROBE = join(REPO, 'test', 'fixtures', 'backend-probe.ts');
const require = createRequire(import.meta.url);
const installed = (pkg: string) => {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};

interface Probe {
  selection?: { name: string; forced: boolean; skipped: { name: string; reason: string }[] };
  log?: string[];
  error?: string;
}

async function probe(mode = '', env: Record<string, string> = {}): Promise<Probe> {
  const run = await execa(process.execPath, ['--import', 'tsx', PROBE, mode], {
    cwd: REPO,
    env: { LINEA_BACKEND: '', ...env },
  });
  return JSON.parse(run.stdout) as Probe;
}

const onednnBuilt = existsSync(join(REPO, 'native', 'onednn', 'build', 'Release', 'linea_onednn.node'));

test('the order is node-gpu, node, native (onednn), wasm, cpu; the first that works is chosen and the skipped ones say why', async () => {
  assert.deepEqual(backendNames(), ['node-gpu', 'node', 'onednn', 'wasm', 'cpu']);
  const { selection, log } = await probe();
  if (!installed('@tensorflow/tfjs-node-gpu') && !installed('@tensorflow/tfjs-node')) {
    const expected = onednnBuilt ? 'onednn' : 'wasm';
    assert.equal(selection?.name, expected);
    assert.match(selection!.skipped[0]!.reason, /@tensorflow\/tfjs-node-gpu is not installed/);
    assert.match(
      log![0]!,
      new RegExp(`^backend: ${expected}; skipped node-gpu \\(@tensorflow/tfjs-node-gpu is not installed`),
    );
    if (!onednnBuilt)
      assert.ok(
        selection!.skipped.some((s) => s.name === 'onednn'),
        'onednn is listed with the reason it was not built',
      );
  }
  assert.equal(selection?.forced, false);
  const disabled = await probe('', { LINEA_ONEDNN: '0' });
  assert.deepEqual(
    disabled.selection?.skipped.find((s) => s.name === 'onednn'),
    { name: 'onednn', reason: 'disabled by LINEA_ONEDNN=0' },
  );
});

test('a registered native backend comes after tfjs-node and before wasm; a broken one is skipped with its reason', async () => {
  const ok = await probe('native-ok', { LINEA_ONEDNN: '0' });
  if (!installed('@tensorflow/tfjs-node') && !installed('@tensorflow/tfjs-node-gpu'))
    assert.equal(ok.selection?.name, 'fake-native');
  const broken = await probe('native-broken', { LINEA_ONEDNN: '0' });
  assert.equal(broken.selection?.name, installed('@tensorflow/tfjs-node') ? 'node' : 'wasm');
  assert.deepEqual(
    broken.selection?.skipped.find((s) => s.name === 'fake-native'),
    { name: 'fake-native', reason: 'libfake.so: cannot open shared object file' },
  );
});

test('LINEA_BACKEND forces a backend; an unknown or unloadable one is an error that says why', async () => {
  assert.deepEqual((await probe('', { LINEA_BACKEND: 'cpu' })).selection, {
    name: 'cpu',
    tfName: 'cpu',
    skipped: [],
    forced: true,
  });
  assert.match(
    (await probe('', { LINEA_BACKEND: 'tpu' })).error!,
    /unknown backend 'tpu' \(from LINEA_BACKEND\); choose one of: node-gpu, node, onednn, wasm, cpu/,
  );
  assert.match(
    (await probe('', { LINEA_BACKEND: 'onednn', LINEA_ONEDNN: '0' })).error!,
    /backend 'onednn' was asked for but cannot be used: disabled by LINEA_ONEDNN=0/,
  );
  if (!installed('@tensorflow/tfjs-node')) {
    await assert.rejects(
      selectBackend({ force: 'node' }),
      /backend 'node' was asked for but cannot be used: @tensorflow\/tfjs-node is not installed/,
    );
  }
  assert.equal((await selectBackend({ force: 'wasm' })).name, 'wasm');
});

let project: Project;
before(async () => {
  project = makeProject();
});
after(() => project.remove());

test('linea run --backend hands the choice to stages, and a stage that declares it reruns when it changes', async () => {
  await project.linea(['run', '--pipeline', 'backend.pipeline.ts', '--backend', 'wasm']);
  await project.linea(['run', '--pipeline', 'backend.pipeline.ts', '--backend', 'wasm']);
  await project.linea(['run', '--pipeline', 'backend.pipeline.ts', '--backend', 'cpu']);
  const seen = project.executions().map((l) => l.split(' ').at(-1));
  assert.deepEqual(seen, ['backend=wasm', 'backend=cpu']);
});

test('every @tensorflow package is pinned to one version, so there is a single tfjs-core instance', async () => {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as Record<
    string,
    Record<string, string> | undefined
  >;
  const declared = { ...pkg.dependencies, ...pkg.optionalDependencies };
  const versions = new Set(
    Object.entries(declared)
      .filter(([name]) => name.startsWith('@tensorflow/'))
      .map(([, v]) => v),
  );
  assert.equal(versions.size, 1, `@tensorflow versions: ${[...versions]}`);
  assert.match([...versions][0]!, /^\d+\.\d+\.\d+$/, 'an exact version, not a range');
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  const cores = Object.keys(lock.packages).filter((p) => p.endsWith('node_modules/@tensorflow/tfjs-core'));
  assert.deepEqual(cores, ['node_modules/@tensorflow/tfjs-core']);
  assert.ok(versions.has(lock.packages['node_modules/@tensorflow/tfjs-core']!.version!));
});

/**
 * Tensor backend selection. The fastest backend that loads *and works* wins, in a fixed order:
 * tfjs-node-gpu (with a CUDA device), tfjs-node, a registered native CPU backend, wasm, cpu.
 * Every skipped candidate keeps the reason it was skipped, so a slow run explains itself.
 *
 * tfjs-node(-gpu) are optional dependencies (their install downloads libtensorflow, which fails
 * offline), so they are only ever reached through a dynamic import that may fail.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from './tf.ts';
import { requireTf } from './tf.ts';
import { onednnCandidate } from './native/onednn.ts';
import { registerWasmGradientKernels } from './wasm-gradients.ts';

/** A backend we can try: `load` registers it with tfjs (or throws why it cannot). */
export interface BackendCandidate {
  /** The user-facing name, as given to `--backend` / `LINEA_BACKEND`. */
  readonly name: string;
  /** The name tfjs registers it under (tfjs-node and tfjs-node-gpu are both 'tensorflow'). */
  readonly tfName: string;
  /** Make the backend available to tfjs; throws an Error whose message says why it cannot. */
  load(): Promise<void>;
  /** After tf.setBackend succeeded: throws if this backend is not what it claims (e.g. no GPU). */
  check?(): Promise<void>;
}

export interface Skipped {
  readonly name: string;
  readonly reason: string;
}

export interface BackendSelection {
  readonly name: string;
  readonly tfName: string;
  /** The faster candidates that were tried first, and why each was not used. */
  readonly skipped: readonly Skipped[];
  /** True when `--backend` / LINEA_BACKEND chose it. */
  readonly forced: boolean;
}

export class BackendError extends Error {
  override name = 'BackendError';
}

const require = createRequire(import.meta.url);

// Required, not imported: tf.ts says why. The CPU backend registers itself.
requireTf('@tensorflow/tfjs-backend-cpu');
// tfjs-core's CJS build registers no gradients, and its ESM dist cannot be imported by Node (extensionless
// imports). tfjs-layers' Node bundle registers all of core's gradients into the shared global registry.
requireTf('@tensorflow/tfjs-layers');
const { setWasmPaths } = requireTf('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');

/** Native CPU backends, fastest first: linea's oneDNN backend, then any registered later. */
const nativeCandidates: BackendCandidate[] = [onednnCandidate];

export function registerNativeBackend(candidate: BackendCandidate): void {
  if (!nativeCandidates.some((c) => c.name === candidate.name)) nativeCandidates.push(candidate);
}

async function importOptional(pkg: string): Promise<void> {
  try {
    require.resolve(pkg);
  } catch {
    throw new BackendError(`${pkg} is not installed (optional; its install needs to download libtensorflow)`);
  }
  // Required, as tfjs-core is (tf.ts): a CommonJS package, and a computed import() would keep
  // the module graph from being planned (src/engine/load/module-plan.ts).
  requireTf(pkg);
}

const nodeGpu: BackendCandidate = {
  name: 'node-gpu',
  tfName: 'tensorflow',
  load: () => importOptional('@tensorflow/tfjs-node-gpu'),
  async check() {
    // tfjs-node-gpu falls back to the CPU build of libtensorflow silently when CUDA is absent.
    const backend: object = tf.backend();
    if ('isUsingGpuDevice' in backend && backend.isUsingGpuDevice === false)
      throw new BackendError('no CUDA device is visible to libtensorflow');
  },
};

const node: BackendCandidate = {
  name: 'node',
  tfName: 'tensorflow',
  load: () => importOptional('@tensorflow/tfjs-node'),
};

const wasm: BackendCandidate = {
  name: 'wasm',
  tfName: 'wasm',
  async load() {
    // In Node the .wasm binaries are read from the package's dist/ folder, never fetched.
    const dist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
    setWasmPaths(dist);
    registerWasmGradientKernels();
  },
};

const cpu: BackendCandidate = { name: 'cpu', tfName: 'cpu', async load() {} };

/** All candidates, fastest first. */
export function backendCandidates(): BackendCandidate[] {
  return [nodeGpu, node, ...nativeCandidates, wasm, cpu];
}

export function backendNames(): string[] {
  return backendCandidates().map((c) => c.name);
}

/** A tiny computation whose answer we know: a backend that loads but computes garbage is skipped. */
function smokeTest(): void {
  const value = tf.tidy(() =>
    tf
      .matMul(
        tf.tensor2d([
          [1, 2],
          [3, 4],
        ]),
        tf.tensor2d([[1], [1]]),
      )
      .dataSync(),
  );
  if (value[0] !== 3 || value[1] !== 7) throw new BackendError(`a 2×2 matmul gave [${Array.from(value)}], not [3, 7]`);
}

async function activate(candidate: BackendCandidate): Promise<void> {
  await candidate.load();
  if (!(await tf.setBackend(candidate.tfName))) {
    throw new BackendError(`tfjs could not initialise the '${candidate.tfName}' backend`);
  }
  await tf.ready();
  await candidate.check?.();
  smokeTest();
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

let current: BackendSelection | undefined;

/**
 * Pick and activate a backend. `force` (from `--backend`, else `LINEA_BACKEND`) names one; a forced
 * backend that cannot load is an error that says why, never a silent fallback.
 */
export async function selectBackend(
  options: { force?: string; log?: (line: string) => void } = {},
): Promise<BackendSelection> {
  const force = options.force ?? (process.env.LINEA_BACKEND || undefined);
  if (current && (force === undefined || force === current.name)) return current;
  const candidates = backendCandidates();
  let selection: BackendSelection | undefined;
  if (force !== undefined) {
    const candidate = candidates.find((c) => c.name === force);
    if (!candidate) {
      throw new BackendError(
        `unknown backend '${force}' (from ${options.force ? '--backend' : 'LINEA_BACKEND'}); choose one of: ${candidates.map((c) => c.name).join(', ')}`,
      );
    }
    try {
      await activate(candidate);
    } catch (error) {
      throw new BackendError(`backend '${force}' was asked for but cannot be used: ${reasonOf(error)}`);
    }
    selection = { name: candidate.name, tfName: candidate.tfName, skipped: [], forced: true };
  } else {
    const skipped: Skipped[] = [];
    for (const candidate of candidates) {
      try {
        await activate(candidate);
        selection = { name: candidate.name, tfName: candidate.tfName, skipped, forced: false };
        break;
      } catch (error) {
        skipped.push({ name: candidate.name, reason: reasonOf(error) });
      }
    }
    if (!selection)
      throw new BackendError(`no tensor backend works: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
  }
  current = selection;
  options.log?.(describeSelection(selection));
  return selection;
}

export function describeSelection(selection: BackendSelection): string {
  const head = `backend: ${selection.name}${selection.forced ? ' (forced)' : ''}`;
  if (selection.skipped.length === 0) return head;
  const skipped = `${head}; skipped ${selection.skipped.map((s) => `${s.name} (${s.reason})`).join(', ')}`;
  // Falling back from the native backend costs the most: say how much, and the one fix.
  const lostNative = selection.skipped.some((s) => s.name === 'onednn') && ['wasm', 'cpu'].includes(selection.name);
  if (!lostNative) return skipped;
  return `${skipped}\n  training on ${selection.name} is about 6× slower than on onednn here (the dense run of the default pipeline: 88 s instead of 15 s); to fix it: sudo apt-get install libdnnl-dev && npm run build:native`;
}

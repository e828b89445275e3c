/**
 * Training speed against PyTorch: one SGD-momentum step (batch 128) of the four models of
 * bench/torch_reference.py (its two small PReLU CNNs, and the claims preset's network in its
 * dense ReLU and sparsified PReLU phases), on every tfjs backend that works here, and in the same
 * invocation the PyTorch reference itself when python3-torch is installed. Each backend runs in
 * its own process (as a pipeline worker would), so one backend's state cannot slow another.
 *
 *   node --import tsx bench/train-step.ts [--steps 5] [--rounds 1] [--batch 128] [--backend wasm] [--json] [--profile]
 *
 * Method, as the reference: 3 warm-up steps, then the median of --steps timed steps; a step is
 * linea's own `trainingStep` (forward, backward, update, read back the loss), which on onednn
 * runs a plain CNN's forward and backward as one native call (src/models/native/cnn-step.ts).
 *
 * With --rounds N the whole measurement (PyTorch, then each backend) runs N times in turn, and a
 * backend's ratio to PyTorch is the median of the N rounds' ratios: on a shared VM whose speed
 * drifts by 10–30 % over tens of seconds, a ratio of two runs minutes apart measures the drift as
 * much as the code, while each round's two runs are seconds apart.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { execa } from 'execa';
import * as tf from '@tensorflow/tfjs-core';
import { backendNames, selectBackend } from '../src/models/backends.ts';
import { buildModel, type ModelConfig, parseModelConfig } from '../src/models/architectures/index.ts';
import { mulberry32, normalArray } from '../src/models/random.ts';
import { REFERENCE_MODELS, referenceModel, type ReferenceModelName } from '../src/models/reference-models.ts';
import { optimizerFor, trainingStep } from '../src/models/train.ts';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const TORCH_REFERENCE = join(REPO, 'bench', 'torch_reference.py');

/**
 * The claims preset's network (pipeline.ts): six 3×3 convs with batch norm, 2×2 average pooling
 * after the first and third, a GAP head, on 14×14 inputs; ReLU in its dense phase, channel-wise
 * PReLU in its sparsified one.
 */
function claimsModel(activation: 'relu' | 'prelu'): ModelConfig {
  return parseModelConfig({
    kind: 'plain-cnn',
    inputShape: [14, 14, 1],
    classes: 4,
    channels: [16, 16, 16, 32, 32, 32],
    poolAfter: [0, 2],
    pool: 'avg',
    batchNorm: true,
    head: 'gap',
    activation,
    init: 'he',
  });
}

/** Every model measured, by the name the PyTorch reference gives its twin. */
const MODELS: Readonly<Record<string, () => ModelConfig>> = {
  ...Object.fromEntries(
    (Object.keys(REFERENCE_MODELS) as ReferenceModelName[]).map((name) => [name, () => referenceModel(name)]),
  ),
  'claims-dense': () => claimsModel('relu'),
  'claims-sparse': () => claimsModel('prelu'),
};

interface Row {
  backend: string;
  model: string;
  batch: number;
  images_per_s: number;
  ms_per_step?: number;
  /** Every timed step (ms), in the order they ran. */
  samples?: number[];
  /** With --profile: one step's kernels, by total time (ms) and count of calls. */
  kernels?: { name: string; ms: number; calls: number }[];
  /**
   * With --profile: the step's convolutions, counted as the PyTorch reference counts them (2 × MACs
   * of each forward convolution, × 3 for forward and both gradients), and the time all the
   * convolution kernels of that step took.
   */
  conv?: { gflop: number; ms: number };
}

const USAGE = `usage: node --import tsx bench/train-step.ts [options]
  --backend NAME   a backend to measure (repeatable; default: every one that loads here)
  --steps N        timed steps per model and backend, after 3 warm-up steps (default 5)
  --batch N        images per step (default 128)
  --rounds N       measure PyTorch and the backends N times in turn; the ratio is the median of
                   the rounds' ratios (default 1)
  --budget S       seconds per model and backend; slow backends are timed on fewer steps (default 240)
  --profile        also time one step kernel by kernel (op by op: a fused step has no kernels)
                   and print where it goes, with the convolutions' GFLOP/s against the
                   machine's peak
  --peak G         that peak in GFLOP/s (default: a spec-sheet figure, cores × clock × FMA width
                   from /proc/cpuinfo; bench/fma-peak.c measures what the machine delivers)
  --json           rows of {"backend","model","batch","images_per_s"} instead of a table
`;

const { values: flags } = parseFlags({
  options: {
    help: { type: 'boolean', short: 'h', default: false },
    steps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '128' },
    backend: { type: 'string', multiple: true },
    json: { type: 'boolean', default: false },
    /** Also time one step kernel by kernel (tf.profile) and print where each backend's step goes. */
    profile: { type: 'boolean', default: false },
    /** The machine's peak GFLOP/s for --profile's share (default: from /proc/cpuinfo). */
    peak: { type: 'string' },
    /** Internal: measure one backend in this process and print its rows as JSON. */
    worker: { type: 'string' },
    /** Seconds per model and backend: slower backends are measured on fewer steps (at least one). */
    budget: { type: 'string', default: '240' },
    /** Measure PyTorch and every backend this many times in turn (pairs close in time). */
    rounds: { type: 'string', default: '1' },
  },
});
/** parseArgs, with an unknown or malformed flag reported as a usage error (exit 2), not a stack trace. */
function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    process.stderr.write(`train-step: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
/** A flag that must be a positive whole number: a typo stops here, naming the flag. */
function positiveInteger(name: 'steps' | 'batch' | 'budget' | 'rounds'): number {
  const value = Number(flags[name]);
  if (Number.isInteger(value) && value > 0) return value;
  process.stderr.write(`train-step: --${name} must be a positive whole number, not '${flags[name]}'\n${USAGE}`);
  process.exit(2);
}
const steps = positiveInteger('steps');
const batch = positiveInteger('batch');
const budget = positiveInteger('budget');
const rounds = positiveInteger('rounds');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs inside a worker process: time `trainingStep` for both models on one backend. */
async function measure(backend: string): Promise<Row[]> {
  await selectBackend({ force: backend });
  const rows: Row[] = [];
  for (const [name, config] of Object.entries(MODELS)) {
    const model = buildModel(config(), 0);
    const classes = model.config.kind === 'mlp' ? model.config.outputs : model.config.classes;
    const optimizer = optimizerFor(model, {
      optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false },
      weightDecay: 0,
    });
    const step = trainingStep(model, optimizer);
    const opByOp = flags.profile ? trainingStep(model, optimizer, [], 0, { fused: false }) : undefined;
    const warm = 10;
    const rand = mulberry32(1);
    const x = tf.tensor(normalArray(rand, batch * model.inputShape.reduce((a, b) => a * b, 1)), [
      batch,
      ...model.inputShape,
    ]);
    const labels = tf.tensor1d(
      Int32Array.from({ length: batch }, () => Math.floor(rand() * classes)),
      'int32',
    );
    const timeStep = () => {
      const t0 = performance.now();
      tf.tidy(() => step(x, labels, 0.01));
      return performance.now() - t0;
    };
    // Warm-up (3 steps, as the reference). A backend so slow that one step takes more than half
    // the budget is reported from that one step: warm-up cannot change such a figure materially.
    const first = timeStep();
    const times: number[] = [];
    if (first > (budget * 1000) / 2) {
      times.push(first);
    } else {
      for (let i = 0; i < 2; i++) timeStep();
      const deadline = performance.now() + budget * 1000;
      for (let i = 0; i < steps; i++) {
        times.push(timeStep());
        if (performance.now() > deadline) break;
      }
    }
    const ms = median(times);
    rows.push({
      backend,
      model: name,
      batch,
      images_per_s: Math.round((batch / ms) * 1000 * 10) / 10,
      ms_per_step: Math.round(ms * 10) / 10,
      samples: times.map((t) => Math.round(t * 100) / 100),
      // A step that ran as one native call (native/cnn-step.ts) has no kernels to list: the profile
      // is of the same step op by op, whose convolutions are the same oneDNN primitives.
      ...(opByOp ? await kernelTimes(() => tf.tidy(() => opByOp(x, labels, 0.01)), warm) : {}),
    });
    tf.dispose([x, labels]);
    optimizer.dispose();
    model.dispose();
  }
  return rows;
}

/** Kernels that compute a convolution or one of its gradients. */
const CONV_KERNELS = new Set([
  'Conv2D',
  'FusedConv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'LineaConv2DParamGradients',
]);

/**
 * One call of `f` under tf.profile: each kernel's total time and calls, longest first, and the
 * convolutions' work (2 × MACs of each forward convolution, from its input and filter shapes, × 3)
 * against the time of every convolution kernel.
 */
async function kernelTimes(f: () => void, warmUp: number): Promise<Pick<Row, 'kernels' | 'conv'>> {
  // Warmed up as the timed steps were (primitives made, code compiled).
  for (let i = 0; i < warmUp; i++) f();
  const info = await tf.profile(() => {
    f();
    return [];
  });
  const byName = new Map<string, { ms: number; calls: number }>();
  const conv = { gflop: 0, ms: 0 };
  for (const kernel of info.kernels) {
    // tf.profile also lists the op scopes around kernels (fusedConv2d__op, a custom gradient's
    // forward): counting them would count their kernels twice.
    if (!tf.getKernel(kernel.name, tf.getBackend())) continue;
    const time = await kernel.kernelTimeMs;
    const ms = typeof time === 'number' ? time : 0;
    const entry = byName.get(kernel.name) ?? { ms: 0, calls: 0 };
    entry.ms += ms;
    entry.calls++;
    byName.set(kernel.name, entry);
    if (!CONV_KERNELS.has(kernel.name)) continue;
    conv.ms += ms;
    if (kernel.name === 'Conv2D' || kernel.name === 'FusedConv2D') {
      const [kh, kw, cin] = kernel.inputShapes[1]!;
      const outputs = kernel.outputShapes[0]!.reduce((a, b) => a * b, 1);
      conv.gflop += (3 * 2 * outputs * kh! * kw! * cin!) / 1e9;
    }
  }
  const kernels = [...byName]
    .map(([name, e]) => ({ name, ms: Math.round(e.ms * 10) / 10, calls: e.calls }))
    .sort((a, b) => b.ms - a.ms);
  return { kernels, conv };
}

/**
 * A spec-sheet FP32 peak (GFLOP/s): cores × clock × FLOPs per cycle, the clock from
 * /proc/cpuinfo, 64 FLOPs per cycle with AVX-512 (two 512-bit FMA pipes: 2 × 16 lanes × 2), else
 * 32 with AVX2 FMA. Both can be wrong: a VM shows its base clock, not the one it runs at, and AMD's
 * Zen 4 runs AVX-512 on 256-bit pipes (32 FLOPs per cycle). The README divides by what
 * bench/fma-peak.c measures instead; pass that as --peak.
 */
function peakGflops(): { gflops: number; how: string } {
  if (flags.peak) return { gflops: Number(flags.peak), how: '--peak' };
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: the table leaves the share out
  }
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(text)?.[1] ?? Number.NaN);
  const perCycle = /\bavx512f\b/.test(text) ? 64 : 32;
  const cores = availableParallelism();
  return {
    gflops: (cores * mhz * perCycle) / 1000,
    how: `${cores} cores × ${(mhz / 1000).toFixed(2)} GHz × ${perCycle} FLOP/cycle`,
  };
}

/** The --profile table: where one step's time goes, kernel by kernel, for each backend and model. */
function kernelTable(rows: readonly Row[]): string {
  const lines: string[] = [];
  for (const row of rows) {
    if (!row.kernels) continue;
    const total = row.kernels.reduce((a, k) => a + k.ms, 0);
    const peak = peakGflops();
    const convRate = row.conv && row.conv.ms > 0 ? row.conv.gflop / (row.conv.ms / 1000) : undefined;
    // The clock is the base one /proc/cpuinfo states: a VM may run above it (then a share over
    // 100 % says so), and cannot see how far.
    const share =
      convRate !== undefined && Number.isFinite(peak.gflops)
        ? ` (${((100 * convRate) / peak.gflops).toFixed(1)} % of the ${peak.gflops.toFixed(0)} GFLOP/s peak at the base clock: ${peak.how})`
        : '';
    lines.push(
      `\n${row.backend} ${row.model}: one step ${row.ms_per_step} ms; the same step op by op, kernel by kernel: ${total.toFixed(1)} ms in kernels`,
      ...(row.conv && convRate !== undefined
        ? [
            `convolutions: ${row.conv.gflop.toFixed(3)} GFLOP in ${row.conv.ms.toFixed(1)} ms, ${convRate.toFixed(1)} GFLOP/s${share}`,
          ]
        : []),
      '| kernel | calls | ms | share of the kernels |',
      '|---|---|---|---|',
    );
    // Kernels under 1 % of the kernels' time are left out of the table.
    for (const k of row.kernels.filter((k) => k.ms >= 0.01 * total))
      lines.push(`| ${k.name} | ${k.calls} | ${k.ms} | ${((100 * k.ms) / total).toFixed(1)} % |`);
  }
  return lines.join('\n');
}

async function findTorchPython(): Promise<string | undefined> {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const probe = await execa(python, ['-c', 'import torch'], { reject: false });
    if (probe.exitCode === 0) return python;
  }
  return undefined;
}

async function torchRows(log: (line: string) => void): Promise<Row[]> {
  if (!existsSync(TORCH_REFERENCE)) {
    log(`torch: skipped (${TORCH_REFERENCE} not found)`);
    return [];
  }
  const python = await findTorchPython();
  if (!python) {
    log('torch: skipped (no python3 with torch; apt-get install python3-torch libopenblas0-pthread)');
    return [];
  }
  const run = await execa(python, [
    TORCH_REFERENCE,
    '--json',
    '--threads',
    '2',
    '--steps',
    String(Math.max(steps, 5)),
    '--batch',
    String(batch),
  ]);
  const parsed = JSON.parse(run.stdout) as {
    model: string;
    batch: number;
    images_per_s: number;
    ms_per_step: number;
    samples_ms?: number[];
    torch: string;
  }[];
  log(`torch ${parsed[0]?.torch ?? ''}: ${python}`);
  return parsed.map((r) => ({
    backend: 'torch',
    model: r.model,
    batch: r.batch,
    images_per_s: r.images_per_s,
    ms_per_step: r.ms_per_step,
    ...(r.samples_ms ? { samples: r.samples_ms } : {}),
  }));
}

/** One backend's rows, measured in a worker process of its own, or why it gave none. */
async function backendRows(backend: string): Promise<Row[] | { skipped: string }> {
  // Workers run with the V8 flags the linea CLI uses (bin/linea.js).
  const args = [
    '--single-threaded-gc',
    '--import',
    'tsx',
    fileURLToPath(import.meta.url),
    '--worker',
    backend,
    '--steps',
    String(steps),
    '--batch',
    String(batch),
    '--budget',
    String(budget),
    ...(flags.profile ? ['--profile'] : []),
  ];
  // Each model about `budget` seconds at most unless a single step takes longer.
  const limit = 2 * Object.keys(MODELS).length * budget + 60;
  const run = await execa(process.execPath, args, { reject: false, cwd: REPO, timeout: limit * 1000 });
  if (run.timedOut) return { skipped: `no result within ${limit} s; raise --budget to measure it` };
  if (run.exitCode !== 0) return { skipped: run.stderr.trim().split('\n').at(-1) ?? `exit ${run.exitCode}` };
  return JSON.parse(run.stdout) as Row[] | { skipped: string };
}

/** A row per backend and model over every round: all samples, their median, the ratios to PyTorch. */
interface Combined extends Row {
  /** Each round's ratio to PyTorch's run of that round (its images/s over PyTorch's). */
  ratios: number[];
}

function combine(perRound: Row[][]): Combined[] {
  const out = new Map<string, Combined>();
  for (const rows of perRound) {
    const torch = new Map(rows.filter((r) => r.backend === 'torch').map((r) => [r.model, r.images_per_s]));
    for (const r of rows) {
      const key = `${r.backend}\u0000${r.model}`;
      const entry = out.get(key) ?? { ...r, samples: [], ratios: [] };
      entry.samples!.push(...(r.samples ?? []));
      const ref = torch.get(r.model);
      if (ref) entry.ratios.push(r.images_per_s / ref);
      out.set(key, entry);
    }
  }
  return [...out.values()].map((e) => {
    if (!e.samples?.length) return e;
    const ms = median(e.samples);
    return {
      ...e,
      ms_per_step: Math.round(ms * 100) / 100,
      images_per_s: Math.round((e.batch / ms) * 1000 * 10) / 10,
    };
  });
}

async function main(): Promise<void> {
  if (flags.worker) {
    try {
      process.stdout.write(JSON.stringify(await measure(flags.worker)));
    } catch (error) {
      process.stdout.write(JSON.stringify({ skipped: (error as Error).message }));
    }
    return;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const skipped = new Set<string>();
  const perRound: Row[][] = [];
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) log(`round ${round} of ${rounds}`);
    const rows: Row[] = [...(await torchRows(log))];
    for (const backend of flags.backend ?? backendNames()) {
      if (skipped.has(backend)) continue;
      const result = await backendRows(backend);
      if (!Array.isArray(result)) {
        log(`${backend}: skipped (${result.skipped})`);
        skipped.add(backend);
        continue;
      }
      rows.push(...result);
      log(`${backend}: measured`);
    }
    perRound.push(rows);
  }
  const rows = combine(perRound);
  if (flags.json) {
    process.stdout.write(
      JSON.stringify(
        rows.map(({ backend, model, batch: b, images_per_s }) => ({ backend, model, batch: b, images_per_s })),
      ) + '\n',
    );
    return;
  }
  const lines = [
    `| backend | model | batch | ms/step (median) | images/s | ÷ PyTorch${rounds > 1 ? ' (median; each round)' : ''} | every step (ms) |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const ratio = r.ratios.length ? median(r.ratios).toFixed(3) : 'n/a';
    const each = rounds > 1 && r.ratios.length ? ` (${r.ratios.map((x) => x.toFixed(2)).join(', ')})` : '';
    lines.push(
      `| ${r.backend} | ${r.model} | ${r.batch} | ${r.ms_per_step ?? ''} | ${r.images_per_s} | ${ratio}${each} | ${(r.samples ?? []).join(', ')} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (flags.profile) process.stdout.write(`${kernelTable(rows)}\n`);
}

await main();

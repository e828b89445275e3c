/**
 * Where a command's time goes, for bench/engine-overhead.ts: with $LINEA_PROFILE set, each phase
 * (process start to the CLI, loading pipeline.ts, expanding instances, digesting stage code,
 * opening the index, planning or running, output) is timed and one JSON line is printed to stderr
 * at exit, with what no phase covered (output, the event loop draining) as "unaccounted".
 * Without it, `phase` only calls its function.
 */
const enabled = Boolean(process.env.LINEA_PROFILE);
const phases: [string, number][] = [];
/** Phases timed inside another (code digests within opening the project): not summed twice. */
const nested = new Set<string>();
let depth = 0;

if (enabled) {
  // Milliseconds from the process's start to the first line of the CLI: node, loaders, imports.
  phases.push(['start', performance.now()]);
  process.on('exit', () => {
    // Whatever no phase covered (output, the event loop draining) up to exit.
    const covered = phases.reduce((sum, [name, ms]) => (nested.has(name) ? sum : sum + ms), 0);
    phases.push(['unaccounted', performance.now() - covered]);
    process.stderr.write(
      `linea-profile ${JSON.stringify(Object.fromEntries(phases.map(([n, ms]) => [n, Math.round(ms)])))}\n`,
    );
  });
}

/** Run `f`, adding its duration to the phase `name` when profiling. */
export async function phase<T>(name: string, f: () => Promise<T>): Promise<T> {
  if (!enabled) return f();
  const t0 = performance.now();
  if (depth > 0) nested.add(name);
  depth++;
  try {
    return await f();
  } finally {
    depth--;
    const entry = phases.find(([n]) => n === name);
    const ms = performance.now() - t0;
    if (entry) entry[1] += ms;
    else phases.push([name, ms]);
  }
}

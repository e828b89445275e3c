#!/usr/bin/env -S node --single-threaded-gc
// --single-threaded-gc: V8's helper GC threads otherwise compete with the native backend's
// OpenMP threads for the same cores; measured ≈ 15 % faster training steps on 2 cores.
//
// The `linea` command of this repository. It runs the compiled engine (packages/engine/dist, as
// the package does) while that is current: `npm run build:engine` stamps the sources it compiled,
// and an edit since makes the stamp stale. Otherwise, or with LINEA_ENGINE=source, the engine runs
// from its TypeScript through tsx, about 300 ms slower to start. Either way the user's pipeline
// and stages load with no build step, and import the one engine that runs
// (src/engine/load/engine-source.ts).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = (await compiledMain()) ?? (await sourceMain());
process.exitCode = await main(process.argv.slice(2));

async function compiledMain() {
  if (process.env.LINEA_ENGINE === 'source') return undefined;
  const dist = new URL('../packages/engine/dist/', import.meta.url);
  let current = false;
  try {
    const stamp = JSON.parse(readFileSync(new URL('../sources.json', dist), 'utf8'));
    const { stampIsCurrent } = await import(new URL('engine/load/engine-source.js', dist).href);
    current = stampIsCurrent(fileURLToPath(new URL('..', import.meta.url)), stamp);
  } catch {
    // not built: run from source
  }
  if (!current) {
    // Said where someone reads it: an engine edited since the last build is not an error.
    if (process.env.LINEA_DEBUG || (process.stderr.isTTY && !process.env.CI))
      process.stderr.write(
        'linea: the compiled engine is missing or older than src/, so the engine runs from source (~0.3 s slower to start); `npm run build:engine` compiles it\n',
      );
    return undefined;
  }
  if (process.env.LINEA_DEBUG) process.stderr.write('linea: running the compiled engine (packages/engine/dist)\n');
  return (await import(new URL('engine/cli/main.js', dist).href)).main;
}

async function sourceMain() {
  const { register } = await import('tsx/esm/api');
  register();
  return (await import('../src/engine/cli/main.ts')).main;
}

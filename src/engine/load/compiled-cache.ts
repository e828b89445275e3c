/**
 * Housekeeping of the compiled-TypeScript cache (typescript.ts): one per user, shared by every
 * project, so it grows with every edit of every project's stages unless something sweeps it.
 * Its layout, written by typescript-hooks.ts and module-plan.ts:
 *   <dir>/<2 hex>/<sha256>.js   one compiled file per (esbuild version, path, source)
 *   <dir>/plans/<sha256>.json   a module plan per entry (pipeline.ts, a stage's module)
 *   <dir>/mirrors/<build>-<i>.mjs  the compiled graph a plan names
 *
 * What gc removes: compiled files and plans not used for KEEP_MS (a use refreshes the mtime,
 * at most once a day: `touchIfOld`), plans whose entry file is gone, mirrors that no remaining
 * plan names, and temporary files a killed writer left. Nothing younger than the grace period
 * goes: a command may be writing a plan's mirrors before the plan that names them.
 */
import { readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { entriesOf } from '../core/folder.ts';

/** A compiled file or plan unused this long is swept (the longest a project plausibly sits idle, capped). */
export const COMPILED_KEEP_MS = 30 * 24 * 3600_000;
/** A use refreshes the mtime only when it is older than this: at most one write a day per file. */
const TOUCH_AFTER_MS = 24 * 3600_000;
/** Mirrors and temporary files younger than this may belong to a plan being written. */
const WRITE_GRACE_MS = 10 * 60_000;

/** Mark a cache file used: its mtime is what the sweep reads. Costs a stat, and a write once a day. */
export function touchIfOld(path: string, now = Date.now()): void {
  try {
    if (now - statSync(path).mtimeMs > TOUCH_AFTER_MS) utimesSync(path, now / 1000, now / 1000);
  } catch {
    // a cache file that cannot be touched is swept a little early, and compiled again
  }
}

/** The paths the sweep removes (or would, in a dry run) from the compiled cache at `dir`. */
export function sweepCompiledCache(dir: string, options: { dryRun: boolean; now?: number }): string[] {
  const now = options.now ?? Date.now();
  const age = (path: string) => now - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? now);
  const swept: string[] = [];
  const named = new Set<string>();

  for (const name of entriesOf(join(dir, 'plans'))) {
    const path = join(dir, 'plans', name);
    if (name.endsWith('.tmp')) {
      if (age(path) > WRITE_GRACE_MS) swept.push(path);
      continue;
    }
    const plan = readPlan(path);
    const entryGone = plan && !exists(plan.entry);
    if (!plan || entryGone || age(path) > COMPILED_KEEP_MS) {
      // A plan is written whole and renamed, so an unreadable one is damage; still, one younger
      // than the grace period is left for the next gc rather than judged in passing.
      if (plan || age(path) > WRITE_GRACE_MS) swept.push(path);
      continue;
    }
    for (const mirror of plan.mirrors) named.add(mirror);
  }
  for (const name of entriesOf(join(dir, 'mirrors'))) {
    const path = join(dir, 'mirrors', name);
    if (!named.has(path) && age(path) > WRITE_GRACE_MS) swept.push(path);
  }
  for (const shard of entriesOf(dir)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const name of entriesOf(join(dir, shard))) {
      const path = join(dir, shard, name);
      const limit = name.endsWith('.tmp') ? WRITE_GRACE_MS : COMPILED_KEEP_MS;
      if (age(path) > limit) swept.push(path);
    }
  }
  if (!options.dryRun) for (const path of swept) rmSync(path, { force: true });
  return swept;
}

/** A plan's entry (a path) and its mirrors (paths), or undefined when it cannot be read. */
function readPlan(path: string): { entry: string; mirrors: string[] } | undefined {
  try {
    const plan = JSON.parse(readFileSync(path, 'utf8')) as { entry?: unknown; modules?: { mirror?: unknown }[] };
    if (typeof plan.entry !== 'string' || !Array.isArray(plan.modules)) return undefined;
    const mirrors = plan.modules.flatMap((m) => (typeof m.mirror === 'string' ? [fileURLToPath(m.mirror)] : []));
    return { entry: fileURLToPath(plan.entry), mirrors };
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined;
}

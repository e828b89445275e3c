/**
 * A settled answer: a `linea run` or `linea status` that found every instance cached, with
 * everything its answer depended on. The next identical command (same arguments, directory, Node and compiled engine)
 * replays the answer without loading the pipeline, expanding it or computing a key, while every
 * file and folder the settled run read has the stat it had and every environment variable it
 * looked up has the value it had (core/observed-reads.ts). That covers the pipeline's modules
 * and the module plan that loaded them, each stage's code and the packages it names, data files,
 * the index entries, the objects' manifests and files, and the published results.
 *
 * An all-cached rerun of this repository's pipeline costs ~450 ms the long way, most of it
 * loading zod, the pipeline and its stages; a replay costs Node's start and a few hundred stats.
 * Anything else takes the long way, which writes a new record when it settles again: a stat or a
 * variable that moved, a damaged or missing record, an index on a server or in SQLite (read
 * without node:fs), --verify-inputs, a run that started a child process or a connection while it
 * was observed, the engine running from source, or LINEA_REPLAY=0.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FileStat, RACY_MS, sameStat, statOf } from '../core/file-stat.ts';
import { sha256 } from '../core/json.ts';
import type { Observed } from '../core/observed-reads.ts';

type Seen = FileStat | null | 'folder';

/** What a path is now, as a record keeps it. */
function seen(path: string, listed: boolean): Seen {
  if (!listed) {
    const s = statSync(path, { throwIfNoEntry: false });
    if (s?.isDirectory()) return 'folder';
  }
  return statOf(path);
}

function sameSeen(now: Seen, then: Seen): boolean {
  return now === 'folder' || then === 'folder' ? now === then : sameStat(now, then);
}

/** Variables that change what the engine says about itself, never an answer. */
const DIAGNOSTIC = new Set(['LINEA_DEBUG', 'LINEA_PROFILE', 'LINEA_REPLAY']);

/** Bumped when the record's shape or what it must cover changes. */
const SETTLED_VERSION = 2;

interface SettledRun {
  readonly version: typeof SETTLED_VERSION;
  /** What names the record (settledFile), kept to rule out a hash collision. */
  readonly identity: string;
  /** Every variable the run looked up, with its value (null: unset). */
  readonly env: Readonly<Record<string, string | null>>;
  /**
   * Every path the run read, and the files of the engine that ran it, with their stat (null:
   * absent). A folder the run only looked at (it exists) is 'folder': its mtime moves with every
   * entry made in it, which changes nothing the run read unless it listed the folder.
   */
  readonly stats: Readonly<Record<string, Seen>>;
  /** Its answer, as printed. */
  readonly output: string;
}

/** What a command's answer may depend on beyond what it reads: its words, its place, its Node. */
function identityOf(argv: readonly string[]): string {
  return JSON.stringify([argv, process.cwd(), process.execPath, process.version, process.execArgv]);
}

function settledFile(cacheDir: string, identity: string): string {
  return join(cacheDir, 'settled', `${sha256(identity).slice(0, 32)}.json`);
}

/**
 * The compiled engine's folder (dist/), whose files' stats a record holds: a rebuilt or upgraded
 * engine may compute other keys. Undefined when the engine runs from its TypeScript, whose
 * imports nothing here follows: such a run is never recorded.
 */
function engineDir(): string | undefined {
  if (import.meta.url.endsWith('.ts')) return undefined;
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** Whether replays are on: LINEA_REPLAY=0 turns them off (a pipeline that reads the clock). */
export function replayAllowed(): boolean {
  return process.env.LINEA_REPLAY !== '0' && engineDir() !== undefined;
}

/**
 * The settled answer to this command, if there is one and all it depended on is unchanged;
 * undefined otherwise (the command then takes the long way). Never throws: a record that cannot
 * be read or does not hold is no record.
 */
export function replaySettled(cacheDir: string, argv: readonly string[]): string | undefined {
  if (!replayAllowed()) return undefined;
  const identity = identityOf(argv);
  let record: SettledRun;
  try {
    record = JSON.parse(readFileSync(settledFile(cacheDir, identity), 'utf8')) as SettledRun;
  } catch {
    return undefined;
  }
  if (!isSettledRun(record) || record.identity !== identity) return undefined;
  for (const [name, value] of Object.entries(record.env)) if ((process.env[name] ?? null) !== value) return undefined;
  try {
    for (const [path, then] of Object.entries(record.stats))
      if (!sameSeen(seen(path, then !== 'folder'), then)) return undefined;
  } catch {
    // A path this user may no longer look at: the long way says what that means.
    return undefined;
  }
  return record.output;
}

/**
 * Keep a settled run's answer for replaySettled, when what it read can be checked later: nothing
 * opaque, and no stat so recent that an edit in the same mtime tick could go unseen (the next
 * settled run records it). Best effort: a record that cannot be written is no record.
 */
export function recordSettled(
  cacheDir: string,
  argv: readonly string[],
  observed: Observed,
  output: string,
  /** Folders whose files the engine writes whole and renames into place, or under names never reused (the cache, the compiled-module cache). */
  engineFolders: readonly string[] = [cacheDir],
): 'recorded' | string {
  const engine = engineDir();
  if (!engine || !replayAllowed()) return 'the engine runs from source, or LINEA_REPLAY=0';
  if (observed.opaque) return `the run ${observed.opaque}`;
  const identity = identityOf(argv);
  const file = settledFile(cacheDir, identity);
  const paths = new Set(observed.paths);
  for (const f of readdirSync(engine, { recursive: true, encoding: 'utf8' })) paths.add(join(engine, f));
  // What runs keep while they run (this one's activity file, leases, workspaces) changes with every
  // run and decides nothing an all-cached answer says; nor do the records kept here.
  const transient = ['active', 'leases', 'tmp', 'trash', 'events', 'settled'].map((d) => join(cacheDir, d));
  for (const path of paths) if (transient.some((d) => path === d || path.startsWith(d + sep))) paths.delete(path);
  const now = Date.now();
  const stats: Record<string, Seen> = {};
  for (const path of [...paths].sort()) {
    // Pseudo-files (a process's state, the machine's): their stat says nothing of their content.
    if (/^\/(proc|sys|dev)\//.test(path)) continue;
    const stat = seen(path, observed.listed.has(path));
    // The engine's files are never rewritten in place, so a later write is a new inode whatever
    // the clock says; a file edited in place within the same mtime tick could go unseen.
    const engines = engineFolders.some((d) => path.startsWith(d + sep));
    if (stat && stat !== 'folder' && !engines && now - stat[1] < RACY_MS)
      return `${path} changed in the last ${RACY_MS / 1000} s`;
    stats[path] = stat;
  }
  const record: SettledRun = {
    version: SETTLED_VERSION,
    identity,
    env: Object.fromEntries(
      [...observed.env].filter(([name]) => !DIAGNOSTIC.has(name)).sort(([a], [b]) => (a < b ? -1 : 1)),
    ),
    stats,
    output,
  };
  try {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(record));
    renameSync(tmp, file);
  } catch (error) {
    return `it could not be written (${(error as Error).message})`;
  }
  return 'recorded';
}

function isSettledRun(value: unknown): value is SettledRun {
  const r = value as Partial<SettledRun> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.version === SETTLED_VERSION &&
    typeof r.identity === 'string' &&
    typeof r.env === 'object' &&
    r.env !== null &&
    typeof r.stats === 'object' &&
    r.stats !== null &&
    typeof r.output === 'string' &&
    Object.values(r.env).every((v) => v === null || typeof v === 'string') &&
    Object.values(r.stats).every(
      (s) =>
        s === null || s === 'folder' || (Array.isArray(s) && s.length === 3 && s.every((n) => typeof n === 'number')),
    )
  );
}

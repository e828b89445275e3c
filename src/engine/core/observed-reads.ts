/**
 * What a piece of work read from outside the process: the files and folders it looked at through
 * node:fs, and the environment variables it looked up. A settled run (schedule/settled.ts)
 * replays a no-op's answer only while all of it is as it was, as Gradle's configuration cache
 * replays a build's configuration while the files and variables it read are unchanged.
 *
 * What cannot be observed this way makes the observation `opaque`: a child process (its output
 * could be anything, say `git rev-parse HEAD` in a param) or a network connection. An opaque
 * observation is never replayed. The clock is not observed: a definition that reads it
 * (`new Date()` in a param) would change its keys at every command anyway, except where it reads
 * the clock coarsely (today's date); docs/cli.md says to run such a pipeline with LINEA_REPLAY=0.
 */
import childProcess from 'node:child_process';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Observed {
  /** Absolute paths read, stat'ed, listed or opened (files and folders, present or not). */
  readonly paths: ReadonlySet<string>;
  /** Those of `paths` whose entries were listed (a folder's listing changes its mtime; a look at it does not). */
  readonly listed: ReadonlySet<string>;
  /** Each variable looked up, with the value it had (null: unset). */
  readonly env: ReadonlyMap<string, string | null>;
  /** Why the work read something that cannot be checked later, if it did. */
  readonly opaque?: string;
}

/** node:fs functions whose first argument names what they read. */
const FS_READS = [
  'access',
  'accessSync',
  'exists',
  'existsSync',
  'lstat',
  'lstatSync',
  'open',
  'openSync',
  'opendir',
  'opendirSync',
  'readdir',
  'readdirSync',
  'readFile',
  'readFileSync',
  'readlink',
  'readlinkSync',
  'realpath',
  'realpathSync',
  'stat',
  'statSync',
  'createReadStream',
] as const;
const LISTINGS = new Set(['opendir', 'opendirSync', 'readdir', 'readdirSync']);
const PROMISES_READS = ['access', 'lstat', 'open', 'opendir', 'readdir', 'readFile', 'readlink', 'realpath', 'stat'];
const CHILD_PROCESS = ['exec', 'execFile', 'execFileSync', 'execSync', 'fork', 'spawn', 'spawnSync'];

let active: Observation | undefined;
/** Calls of trusted() in progress. */
let trusting = 0;

/**
 * Run the engine's own tool, esbuild, whose child process reads only files the engine reads or
 * stats itself (modules, a stage's code closure), without making the observation opaque.
 */
export function trusted<T>(use: () => T): T {
  trusting++;
  let result: T;
  try {
    result = use();
  } catch (error) {
    trusting--;
    throw error;
  }
  if (result instanceof Promise) return result.finally(() => trusting--) as T;
  trusting--;
  return result;
}

/**
 * Say that the work read something this thread cannot observe (module hooks read the pipeline's
 * files on a thread of their own): the observation in progress, if any, becomes opaque.
 */
export function readUnobserved(why: string): void {
  if (active) active.opaque ??= why;
}

/**
 * Start observing (one observation per process at a time). Call `stop` when the work is done:
 * it puts node:fs, process.env, child_process and net back as they were.
 */
export function observeReads(): Observation | undefined {
  if (active) return undefined;
  active = new Observation();
  return active;
}

type Patched = [target: object, name: string, original: unknown];

export class Observation {
  private readonly paths = new Set<string>();
  private readonly listed = new Set<string>();
  private readonly env = new Map<string, string | null>();
  opaque: string | undefined;
  private readonly patched: Patched[] = [];
  private readonly realEnv = process.env;

  constructor() {
    const record = (listing: boolean) => (path: unknown) => {
      const p = pathOf(path);
      if (p === undefined) return;
      this.paths.add(p);
      if (listing) this.listed.add(p);
    };
    for (const name of FS_READS) this.wrap(fs, name, record(LISTINGS.has(name)));
    for (const name of PROMISES_READS) this.wrap(fs.promises, name, record(LISTINGS.has(name)));
    const opaque = (why: string) => () => {
      if (trusting === 0) this.opaque ??= why;
    };
    for (const name of CHILD_PROCESS) this.wrap(childProcess, name, opaque(`started a child process (${name})`));
    this.wrap(net.Socket.prototype, 'connect', opaque('opened a connection'));
    // Named imports of node:fs and child_process (`import { statSync } from 'node:fs'`) see the patch only once synced.
    syncBuiltinESMExports();
    const seen = this.env;
    const note = (name: string | symbol) => {
      if (typeof name === 'string' && !seen.has(name)) seen.set(name, this.realEnv[name] ?? null);
    };
    process.env = new Proxy(this.realEnv, {
      get(target, name) {
        note(name);
        return Reflect.get(target, name);
      },
      has(target, name) {
        note(name);
        return Reflect.has(target, name);
      },
      ownKeys(target) {
        // Whoever lists the environment may depend on all of it.
        for (const name of Reflect.ownKeys(target)) note(name);
        return Reflect.ownKeys(target);
      },
    });
  }

  /** Stop observing and say what was read. Safe to call twice. */
  stop(): Observed {
    if (active === this) {
      for (const [target, name, original] of this.patched.reverse()) Reflect.set(target, name, original);
      this.patched.length = 0;
      syncBuiltinESMExports();
      process.env = this.realEnv;
      active = undefined;
    }
    return { paths: this.paths, listed: this.listed, env: this.env, ...(this.opaque ? { opaque: this.opaque } : {}) };
  }

  private wrap(target: object, name: string, before: (first: unknown) => void): void {
    const original: unknown = Reflect.get(target, name);
    if (typeof original !== 'function') return;
    const wrapped = function (this: unknown, ...args: unknown[]) {
      before(args[0]);
      return Reflect.apply(original, this, args);
    };
    // realpathSync.native, promisify's custom forms: what callers reach through the function.
    Object.defineProperties(wrapped, Object.getOwnPropertyDescriptors(original));
    this.patched.push([target, name, original]);
    Reflect.set(target, name, wrapped);
  }
}

function pathOf(path: unknown): string | undefined {
  if (typeof path === 'string') return resolve(path);
  if (path instanceof URL) return path.protocol === 'file:' ? fileURLToPath(path) : undefined;
  if (Buffer.isBuffer(path)) return resolve(path.toString());
  return undefined;
}

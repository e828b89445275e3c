/**
 * Where the run index lives, by URI: `sqlite:///abs/cache/index.sqlite` (the default, a file in
 * the cache directory) or a server shared by several machines. Each backend turns its URI into a
 * keyv store adapter and knows its own failure modes (what "damaged" means, how to move a damaged
 * index aside). RunIndex (run-index.ts) sees only keyv; nothing else in the engine sees a backend.
 *
 * Adding a backend: an object implementing IndexBackend, added to BACKENDS, with its driver
 * imported inside `open` (so a user who does not choose it never loads it). src/engine/README.md
 * walks through it.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { KeyvStoreAdapter } from 'keyv';
import { writable } from './access.ts';
import { errorMessage, LineaError } from './errors.ts';

export interface OpenedStore {
  readonly adapter: KeyvStoreAdapter;
  /** Scratch files to remove on close (the sqlite read-only snapshot). */
  readonly scratch?: string;
}

export interface IndexBackend {
  /** URI schemes it serves, without the colon. */
  readonly schemes: readonly string[];
  open(uri: URL, options: { readOnly: boolean }): Promise<OpenedStore>;
  /** Move a damaged index out of the way before a rebuild; where it went (nothing if there was none). */
  moveAside(uri: URL): Promise<string[]>;
  /** Whether an error from this backend means the index's data is damaged (rebuild it) rather than unreachable. */
  isDamaged(error: unknown): boolean;
}

const sqlite: IndexBackend = {
  schemes: ['sqlite'],
  /**
   * `readOnly` (status, log, verify) also works where this user cannot write the cache (a shared
   * or archived store): sqlite must create its WAL side files even to read, so a snapshot of the
   * index files is opened from a private temporary directory instead.
   */
  async open(uri, { readOnly }) {
    const path = fileURLToPath(uri.href.replace(/^sqlite:/, 'file:'));
    let scratch: string | undefined;
    let file = path;
    if (readOnly && !writable(dirname(path))) {
      scratch = await mkdtemp(join(tmpdir(), 'linea-index-'));
      file = join(scratch, 'index.sqlite');
      for (const suffix of ['', '-wal'])
        if (existsSync(`${path}${suffix}`)) await copyFile(`${path}${suffix}`, `${file}${suffix}`);
    }
    const { default: KeyvSqlite } = await importDriver<typeof import('@keyv/sqlite')>('@keyv/sqlite', 'sqlite');
    const adapter = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 30_000, iterationLimit: 500 });
    // WAL lets concurrent `linea run`s read while one writes; the setting persists in the file.
    await adapter.query('PRAGMA journal_mode=WAL');
    return { adapter, ...(scratch ? { scratch } : {}) };
  },
  async moveAside(uri) {
    const path = fileURLToPath(uri.href.replace(/^sqlite:/, 'file:'));
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const moved: string[] = [];
    for (const suffix of ['', '-wal', '-shm']) {
      if (!existsSync(`${path}${suffix}`)) continue;
      const aside = `${path}${suffix}.damaged-${stamp}`;
      await rename(`${path}${suffix}`, aside);
      moved.push(aside);
    }
    return moved;
  },
  isDamaged(error) {
    const code = (error as { code?: unknown } | undefined)?.code;
    return typeof code === 'string' && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
  },
};

const BACKENDS: readonly IndexBackend[] = [sqlite];

/**
 * The index URI for a cache directory: `--index` (or $LINEA_INDEX) when given, else the sqlite
 * file in the cache. `sqlite` alone means that default file.
 */
export function indexUri(cacheDir: string, chosen?: string): URL {
  const given = chosen ?? process.env.LINEA_INDEX;
  if (!given || given === 'sqlite')
    return new URL(`sqlite://${pathToFileURL(resolve(cacheDir, 'index.sqlite')).pathname}`);
  let uri: URL;
  try {
    uri = new URL(given);
  } catch {
    throw new LineaError(`--index ${given}: not a URI; use sqlite, ${exampleUris()}`, 'usage');
  }
  backendFor(uri);
  return uri;
}

export function backendFor(uri: URL): IndexBackend {
  const scheme = uri.protocol.replace(/:$/, '');
  const backend = BACKENDS.find((b) => b.schemes.includes(scheme));
  if (!backend)
    throw new LineaError(
      `--index ${redact(uri)}: no index backend for '${scheme}:'; use sqlite, ${exampleUris()}`,
      'usage',
    );
  return backend;
}

/** Is this error one of the backends saying the index's data is damaged? */
export function isDamagedIndex(error: unknown): boolean {
  return BACKENDS.some((b) => b.isDamaged(error));
}

/** The URI with any password masked, for messages and logs. */
export function redact(uri: URL): string {
  if (!uri.password) return uri.href;
  const copy = new URL(uri.href);
  copy.password = '***';
  return copy.href;
}

function exampleUris(): string {
  return (
    BACKENDS.flatMap((b) => b.schemes.filter((s) => s !== 'sqlite').map((s) => `${s}://…`)).join(', ') ||
    'sqlite:///path/index.sqlite'
  );
}

/** A backend's driver, loaded only when that backend is chosen, with a clear message when it is missing. */
async function importDriver<T>(name: string, backend: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    throw new LineaError(
      `the ${backend} run index needs the package ${name}, which cannot be loaded (${errorMessage(error)}); install it (npm install ${name}) or choose another --index`,
      'config',
    );
  }
}

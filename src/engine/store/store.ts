/**
 * The content-addressed object store. An artifact is a directory of files plus a manifest (each
 * file's sha256 and size, and the stage's JSON value); its digest is the sha256 of the canonical
 * manifest. Objects are built in tmp/ and renamed into objects/ab/cdef…: a reader sees a whole
 * object or none, whatever was killed when; `sync` makes one durable before any record names it
 * (durability.ts). Objects are never modified after the rename.
 */
import { createHash } from 'node:crypto';
import { entriesOf } from '../core/folder.ts';
import { uniqueSuffix } from '../core/unique.ts';
import { type AtomicFile, syncThenWrite, writeFilesAtomically } from './durability.ts';
import {
  chmodSync,
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { LineaError } from '../core/errors.ts';
import {
  canonicalJson,
  digestOf,
  type ArtifactDigest,
  type CacheKey,
  type FileDigest,
  type Json,
} from '../core/json.ts';
import { hostName, processAlive } from '../core/process.ts';

export interface Manifest {
  readonly value: Json;
  /** POSIX path relative to the artifact's files/ → content digest and size. */
  readonly files: Readonly<Record<string, { readonly sha256: FileDigest; readonly size: number }>>;
}

/** size and mtime of each file at commit: lets a later check skip rehashing untouched files. */
export type StatStamp = Readonly<Record<string, readonly [size: number, mtimeMs: number]>>;

/**
 * A copy of an object's manifest kept in its run record, with the manifest file's size and mtime
 * at commit: while they match, a lookup reads the copy instead of the file (one read and parse
 * less per cached stage), still checking the copy against the object's digest.
 */
export interface KnownManifest {
  readonly manifest: Manifest;
  readonly stamp: readonly [size: number, mtimeMs: number];
}

export type Verified = { ok: true; manifest: Manifest; rehashed: boolean } | { ok: false; problem: string };

export interface Workspace {
  /** tmp directory that becomes the object. */
  readonly dir: string;
  /** Where the stage writes its files. */
  readonly outDir: string;
}

/** An object `verifyAll` found damaged, and where it was moved (absent if it could not be). */
export interface DamagedObject {
  readonly digest: ArtifactDigest;
  readonly problem: string;
  readonly movedTo?: string;
}

/** A result kept through gc whatever the plan: made by `linea pin`, kept in the index and the store. */
export interface Pin {
  readonly key: CacheKey;
  /** The instance it was pinned as. */
  readonly note: string;
  readonly at: string;
}

/** Written whole and renamed into place: a reader sees the old file or the new one. */
function writeJsonAtomically(path: string, value: object): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}-${uniqueSuffix()}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, path);
}

/** What sealing a workspace gives: the object's digest, its manifest, and stamps for its record. */
export interface Sealed {
  readonly digest: ArtifactDigest;
  readonly stamp: StatStamp;
  readonly manifest: Manifest;
  readonly known?: KnownManifest;
}

export class Store {
  readonly objectsDir: string;
  readonly tmpDir: string;
  readonly checkpointsDir: string;
  readonly trashDir: string;
  /**
   * A copy of every run record, one file per cache key: the run index is a fast pointer that can
   * be damaged or lost; these let it be rebuilt (and a lost entry found again) from the store.
   */
  readonly recordsDir: string;
  /** Pins, one file per cache key, for the same reason: a pin must outlive the index it was made in. */
  readonly pinsDir: string;

  constructor(readonly root: string) {
    this.objectsDir = join(root, 'objects');
    this.tmpDir = join(root, 'tmp');
    this.checkpointsDir = join(root, 'checkpoints');
    this.trashDir = join(root, 'trash');
    this.recordsDir = join(root, 'records');
    this.pinsDir = join(root, 'pins');
  }

  async init(): Promise<void> {
    try {
      // Synchronous: four directories that exist after the first run, where an await each cost a
      // no-op its first trip through the thread pool.
      for (const dir of [this.objectsDir, this.tmpDir, this.checkpointsDir, this.trashDir])
        mkdirSync(dir, { recursive: true });
    } catch (error) {
      throw new LineaError(
        `cannot use cache directory ${this.root}: ${(error as Error).message}; pick another with --cache-dir or LINEA_CACHE_DIR`,
        'store',
      );
    }
  }

  objectDir(digest: ArtifactDigest): string {
    return join(this.objectsDir, digest.slice(0, 2), digest.slice(2));
  }

  filesDir(digest: ArtifactDigest): string {
    return join(this.objectDir(digest), 'files');
  }

  async newWorkspace(): Promise<Workspace> {
    const dir = join(this.tmpDir, `${hostName()}-${process.pid}-${uniqueSuffix()}`);
    const outDir = join(dir, 'files');
    try {
      // Two plain mkdirs: tmp/ is there after init, and a recursive one tries the deepest first.
      mkdirSync(dir);
      mkdirSync(outDir);
    } catch {
      mkdirSync(outDir, { recursive: true });
    }
    return { dir, outDir };
  }

  /**
   * Seal a workspace into an object and make it durable: `seal`, then `sync`. For callers that
   * write a record at once; a run pipelines the two (run.ts commitRun).
   */
  async commit(
    workspace: Workspace,
    value: Json,
    beforePublish?: (digest: ArtifactDigest) => Promise<void>,
  ): Promise<Sealed> {
    const sealed = await this.seal(workspace, value, beforePublish);
    await this.sync(sealed);
    return sealed;
  }

  /**
   * Seal a workspace into an object: hash its files, write the manifest, make read-only, and
   * rename into place. An existing object with the same digest is kept if it verifies, or
   * replaced if it does not (a corrupted object must not shadow a good recomputation, and one a
   * crash left before it was durable may be partial).
   *
   * Sealed is not durable: the object is whole for every reader now, but on disk only after
   * `sync`. Nothing may name it in a run record before then (durability.ts).
   *
   * The metadata calls (stat, chmod, rename) are synchronous: each is small and local, and a
   * thread-pool round trip per call made a commit cost several times its system calls. Only
   * hashing large files stays asynchronous, so a big artifact does not hold the event loop.
   *
   * `beforePublish` runs once the digest is known and before the object appears in objects/: a
   * run names the object in its in-use record there, so a gc that lists the object also sees it
   * in use (gc.ts reads the records after listing), even with no grace period.
   */
  async seal(
    workspace: Workspace,
    value: Json,
    beforePublish?: (digest: ArtifactDigest) => Promise<void>,
  ): Promise<Sealed> {
    const files: Record<string, { sha256: FileDigest; size: number }> = {};
    // The stat taken to hash a file is its stamp too: chmod and rename leave size and mtime alone.
    const stamp: Record<string, [number, number]> = {};
    for (const path of listFiles(workspace.outDir)) {
      const abs = join(workspace.outDir, path);
      const { size, mtimeMs } = statSync(abs);
      files[path] = { sha256: await hashFile(abs, size), size };
      stamp[path] = [size, mtimeMs];
      chmodSync(abs, 0o444);
    }
    const manifest: Manifest = { value, files };
    const text = canonicalJson(manifest);
    const digest = digestOf<'artifact'>(manifest);
    writeFileSync(join(workspace.dir, 'manifest.json'), text);
    await beforePublish?.(digest);
    const target = this.objectDir(digest);
    const placed = await this.place(workspace.dir, target, digest);
    const known = this.knownManifest(digest, manifest);
    return {
      digest,
      // An object found in place has its own files, with their own stamps.
      stamp: placed ? stamp : await this.stamp(digest, manifest),
      manifest,
      ...(known ? { known } : {}),
    };
  }

  /** objects/ab/ folders known to exist: made once per process, not checked per commit. */
  private readonly prefixes = new Set<string>();

  /**
   * Rename a sealed workspace to its object's place; false where an intact object with the same
   * digest is there already (then the workspace goes). A damaged one there is replaced.
   */
  private async place(dir: string, target: string, digest: ArtifactDigest): Promise<boolean> {
    const prefix = dirname(target);
    if (!this.prefixes.has(prefix)) {
      mkdirSync(prefix, { recursive: true });
      this.prefixes.add(prefix);
    }
    try {
      renameSync(dir, target);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        // The prefix folder went meanwhile (removed by hand, say): make it again.
        this.prefixes.delete(prefix);
        mkdirSync(prefix, { recursive: true });
        renameSync(dir, target);
        return true;
      }
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
    if ((await this.verify(digest)).ok) {
      await rm(dir, { recursive: true, force: true });
      return false;
    }
    await this.discard(target);
    await rename(dir, target);
    return true;
  }

  /**
   * Make a sealed object durable, then keep its run record (as saveRecord): each of its files,
   * its manifest, every directory of it and the entry in objects/ab/ that names it fsynced, and
   * only then the record written, on the store's disk thread in a batch with every other object
   * sealed meanwhile (durability.ts). Handed over at once: it completes even while the main
   * thread is held by the next stage.
   */
  sync(
    { digest, manifest }: Pick<Sealed, 'digest' | 'manifest'>,
    record?: { key: CacheKey; value: object },
    /** Written after the record, in the same request (an index of local files: run-index.ts put). */
    after: readonly AtomicFile[] = [],
  ): Promise<void> {
    const object = this.objectDir(digest);
    const files = join(object, 'files');
    const paths = Object.keys(manifest.files).map((path) => join(files, path));
    const dirs = new Set<string>([files]);
    for (const path of Object.keys(manifest.files)) {
      const parts = path.split('/');
      for (let i = 1; i < parts.length; i++) dirs.add(join(files, ...parts.slice(0, i)));
    }
    return syncThenWrite(
      [...paths, join(object, 'manifest.json'), ...dirs, object, dirname(object)],
      [...(record ? [this.recordFile(record.key, record.value)] : []), ...after],
    );
  }

  /** The manifest with its file's stamp now, for a run record (undefined if it cannot be read). */
  knownManifest(digest: ArtifactDigest, manifest: Manifest): KnownManifest | undefined {
    const s = statSync(join(this.objectDir(digest), 'manifest.json'), { throwIfNoEntry: false });
    return s ? { manifest, stamp: [s.size, s.mtimeMs] } : undefined;
  }

  async stamp(digest: ArtifactDigest, manifest: Manifest): Promise<StatStamp> {
    const stamp: Record<string, [number, number]> = {};
    for (const path of Object.keys(manifest.files)) {
      const s = statSync(join(this.filesDir(digest), path));
      stamp[path] = [s.size, s.mtimeMs];
    }
    return stamp;
  }

  /**
   * Check an object against its digest. The manifest is always rehashed (it is small); files are
   * rehashed unless their size and mtime still match the stamp taken at commit, as git does.
   */
  async verify(digest: ArtifactDigest, stamp?: StatStamp, known?: KnownManifest): Promise<Verified> {
    const checked = this.checkStamps(digest, stamp, known);
    if (!checked.ok) return checked;
    for (const { path, abs, size } of checked.unstamped) {
      const expected = checked.manifest.files[path]!;
      if (size !== expected.size)
        return { ok: false, problem: `has a corrupted file ${path} (${expected.size} bytes expected, ${size} found)` };
      const found = await hashFile(abs);
      if (found !== expected.sha256)
        return {
          ok: false,
          problem: `has a corrupted file ${path} (sha256 ${expected.sha256.slice(0, 12)}… expected, ${found.slice(0, 12)}… found)`,
        };
    }
    return { ok: true, manifest: checked.manifest, rehashed: checked.unstamped.length > 0 };
  }

  /**
   * verify() without waiting: the answer when every file's stamp holds, undefined when a file
   * would have to be rehashed (then call verify()).
   */
  verifyNow(digest: ArtifactDigest, stamp: StatStamp, known?: KnownManifest): Verified | undefined {
    const checked = this.checkStamps(digest, stamp, known);
    if (!checked.ok) return checked;
    return checked.unstamped.length ? undefined : { ok: true, manifest: checked.manifest, rehashed: false };
  }

  /**
   * What verify() can tell from metadata alone: the manifest against the digest, each file there,
   * and which files' stamps no longer hold (to rehash).
   */
  private checkStamps(
    digest: ArtifactDigest,
    stamp?: StatStamp,
    known?: KnownManifest,
  ):
    | { ok: true; manifest: Manifest; unstamped: { path: string; abs: string; size: number }[] }
    | {
        ok: false;
        problem: string;
      } {
    // The manifest and the stats are read synchronously: they are small and local, and a no-op
    // run verifies a chain of cached results one after another, where a round trip through the
    // thread pool per call costs several times the call itself. Rehashing stays asynchronous.
    let manifest = this.readManifest(digest, known);
    let matches = typeof manifest !== 'string' && digestOf(manifest) === digest;
    // A copy that does not match the digest (a run record edited or damaged) is no evidence
    // against the object: read its file.
    if (!matches && known && manifest === known.manifest) {
      manifest = this.readManifest(digest);
      matches = typeof manifest !== 'string' && digestOf(manifest) === digest;
    }
    if (typeof manifest === 'string') return { ok: false, problem: manifest };
    if (!matches) return { ok: false, problem: 'has a manifest that does not match its digest' };
    const unstamped: { path: string; abs: string; size: number }[] = [];
    for (const path of Object.keys(manifest.files)) {
      const abs = join(this.filesDir(digest), path);
      const s = statSync(abs, { throwIfNoEntry: false });
      if (!s) return { ok: false, problem: `lost its file ${path}` };
      const stamped = stamp?.[path];
      if (!stamped || stamped[0] !== s.size || stamped[1] !== s.mtimeMs) unstamped.push({ path, abs, size: s.size });
    }
    return { ok: true, manifest, unstamped };
  }

  /** The object's manifest: the known copy while the file's stamp matches it, else the file; or what is wrong. */
  private readManifest(digest: ArtifactDigest, known?: KnownManifest): Manifest | string {
    const path = join(this.objectDir(digest), 'manifest.json');
    if (known) {
      const s = statSync(path, { throwIfNoEntry: false });
      if (!s) return 'is missing from the store';
      if (s.size === known.stamp[0] && s.mtimeMs === known.stamp[1]) return known.manifest;
    }
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return 'is missing from the store';
    }
    try {
      return JSON.parse(text) as Manifest;
    } catch {
      return 'has an unreadable manifest';
    }
  }

  /** Mark an object as used now (its directory's mtime): gc evicts least recently used first. */
  touch(digest: ArtifactDigest): void {
    const now = new Date();
    try {
      utimesSync(this.objectDir(digest), now, now);
    } catch {
      // Gone or read-only: the mark only orders gc's eviction.
    }
  }

  /** Keep a copy of a run record beside the objects (written atomically, on the disk thread). */
  async saveRecord(key: CacheKey, record: object): Promise<void> {
    await writeFilesAtomically([this.recordFile(key, record)]);
  }

  private recordFile(key: CacheKey, record: object): AtomicFile {
    const path = join(this.recordsDir, key.slice(0, 2), `${key}.json`);
    return { path, content: JSON.stringify(record), tmp: `${path}.${process.pid}-${uniqueSuffix()}.tmp` };
  }

  async savePin(pin: Pin): Promise<void> {
    writeJsonAtomically(join(this.pinsDir, `${pin.key}.json`), pin);
  }

  /** Whether there was a pin to remove. */
  async deletePin(key: CacheKey): Promise<boolean> {
    const path = join(this.pinsDir, `${key}.json`);
    const existed = existsSync(path);
    await rm(path, { force: true });
    return existed;
  }

  /** Every pin kept in the store (an unreadable one is skipped, and reported by verify as damage to repair by pinning again). */
  async pins(): Promise<Pin[]> {
    const pins: Pin[] = [];
    for (const name of await readdir(this.pinsDir).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue;
      try {
        const pin = JSON.parse(await readFile(join(this.pinsDir, name), 'utf8')) as Partial<Pin>;
        if (typeof pin.key === 'string' && typeof pin.note === 'string') pins.push(pin as Pin);
      } catch {
        // a damaged pin file is no pin
      }
    }
    return pins;
  }

  /** The saved record of a cache key, if any (unreadable counts as none). */
  async loadRecord<T>(key: CacheKey): Promise<T | undefined> {
    try {
      return JSON.parse(readFileSync(join(this.recordsDir, key.slice(0, 2), `${key}.json`), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }

  async deleteRecord(key: CacheKey): Promise<void> {
    await rm(join(this.recordsDir, key.slice(0, 2), `${key}.json`), { force: true });
  }

  /** Every saved run record. */
  async *records<T>(): AsyncGenerator<T> {
    for (const prefix of await readdir(this.recordsDir).catch(() => [] as string[])) {
      for (const name of await readdir(join(this.recordsDir, prefix)).catch(() => [] as string[])) {
        if (!name.endsWith('.json')) continue;
        try {
          yield JSON.parse(await readFile(join(this.recordsDir, prefix, name), 'utf8')) as T;
        } catch {
          // a damaged record is skipped: its run is recomputed when needed
        }
      }
    }
  }

  /**
   * Take a damaged object out of the store (into `quarantine/`, for inspection): its index entries
   * become misses and the next run recomputes it. Returns where it went.
   */
  async quarantine(digest: ArtifactDigest): Promise<string | undefined> {
    const dir = join(this.root, 'quarantine');
    const target = join(dir, `${digest}-${process.pid}-${uniqueSuffix()}`);
    try {
      await mkdir(dir, { recursive: true });
      await rename(this.objectDir(digest), target);
      return target;
    } catch (error) {
      // Gone already, or a cache this user may only read: report the damage without moving it.
      if (['ENOENT', 'EACCES', 'EPERM', 'EROFS'].includes((error as NodeJS.ErrnoException).code ?? ''))
        return undefined;
      throw error;
    }
  }

  /** Move a directory out of the way atomically, then delete it. */
  async discard(dir: string): Promise<void> {
    const trash = await this.takeOut(dir);
    if (trash) await rmTree(trash);
  }

  /**
   * Move a directory out of the store into trash/ (one rename: readers see it whole or gone);
   * where it went, or undefined if it was already gone. gc takes an object out, checks once more
   * that no run has started using it, and then removes it or puts it back.
   */
  async takeOut(dir: string): Promise<string | undefined> {
    const trash = join(this.trashDir, `${process.pid}-${uniqueSuffix()}`);
    try {
      await rename(dir, trash);
      return trash;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Undo takeOut; if the same object was committed again meanwhile, that copy stays and this one goes. */
  async putBack(trash: string, dir: string): Promise<void> {
    try {
      await rename(trash, dir);
    } catch {
      await rmTree(trash);
    }
  }

  async removeTaken(trash: string): Promise<void> {
    await rmTree(trash);
  }

  /** Every object digest in the store. */
  /**
   * Re-hash every object; a damaged one is moved to quarantine at once, so it is never served
   * again (its runs become misses and rerun). Returns every object found and what was wrong.
   */
  async verifyAll(): Promise<{ objects: ArtifactDigest[]; damaged: DamagedObject[] }> {
    const objects = await this.listObjects();
    const damaged: DamagedObject[] = [];
    for (const digest of objects) {
      const verified = await this.verify(digest);
      if (verified.ok) continue;
      const movedTo = await this.quarantine(digest);
      damaged.push({ digest, problem: verified.problem, ...(movedTo ? { movedTo } : {}) });
    }
    return { objects, damaged };
  }

  async listObjects(): Promise<ArtifactDigest[]> {
    const digests: ArtifactDigest[] = [];
    for (const prefix of await readdir(this.objectsDir).catch(() => [] as string[])) {
      for (const rest of await readdir(join(this.objectsDir, prefix)).catch(() => [] as string[])) {
        digests.push(`${prefix}${rest}` as ArtifactDigest);
      }
    }
    return digests;
  }

  async objectSize(digest: ArtifactDigest): Promise<number> {
    let total = 0;
    const dir = this.objectDir(digest);
    for (const path of filesOrNone(dir)) total += (await stat(join(dir, path))).size;
    return total;
  }

  /** Remove workspaces left behind by processes of this host that no longer exist. */
  async sweepTmp(): Promise<number> {
    let removed = 0;
    for (const dir of [this.tmpDir, this.trashDir]) {
      // Listed synchronously (folder.ts): a module plan being written after pipeline.ts changed
      // made the trip through the thread pool ~20 ms.
      for (const name of entriesOf(dir)) {
        const match = /^(?:(.*)-)?(\d+)-[0-9a-f]+$/.exec(name);
        if (!match) continue;
        const [, host, pid] = match;
        if ((host === undefined || host === hostName()) && !processAlive(Number(pid))) {
          await rmTree(join(dir, name));
          removed++;
        }
      }
    }
    return removed;
  }

  // --- checkpoints: keyed by cache key, so a rerun with the same key resumes ---

  checkpointDir(key: CacheKey): string {
    return join(this.checkpointsDir, key);
  }

  async saveCheckpoint(key: CacheKey, state: Json, write?: (dir: string) => void | Promise<void>): Promise<void> {
    const base = this.checkpointDir(key);
    await mkdir(base, { recursive: true });
    const name = `c${Date.now().toString(36)}-${uniqueSuffix()}`;
    const building = join(base, `${name}.tmp`);
    await mkdir(building);
    if (write) await write(building);
    await writeFile(join(building, 'state.json'), canonicalJson(state, 'checkpoint state'));
    for (const path of await listFiles(building)) await fsyncPath(join(building, path));
    await fsyncPath(building);
    await rename(building, join(base, name));
    await writeFile(join(base, 'LATEST.tmp'), name);
    await fsyncPath(join(base, 'LATEST.tmp'));
    await rename(join(base, 'LATEST.tmp'), join(base, 'LATEST'));
    await fsyncPath(base);
    for (const entry of await readdir(base)) {
      if (entry !== name && entry !== 'LATEST') await rmTree(join(base, entry));
    }
  }

  async loadCheckpoint<S extends Json>(key: CacheKey): Promise<{ state: S; dir: string } | undefined> {
    const base = this.checkpointDir(key);
    try {
      const name = (await readFile(join(base, 'LATEST'), 'utf8')).trim();
      const dir = join(base, name);
      const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as S;
      return { state, dir };
    } catch {
      return undefined;
    }
  }

  async dropCheckpoints(key: CacheKey): Promise<void> {
    // Most keys never had one: a stat, rather than a trip through the thread pool to remove nothing.
    if (existsSync(this.checkpointDir(key))) await rmTree(this.checkpointDir(key));
  }

  /** The cache keys that have checkpoints (runs that did not finish, or finished elsewhere). */
  async checkpointKeys(): Promise<CacheKey[]> {
    const names = await readdir(this.checkpointsDir).catch(() => [] as string[]);
    return names.filter((name): name is CacheKey => /^[0-9a-f]{64}$/.test(name));
  }
}

/** All regular files below dir, as sorted POSIX relative paths. Symlinks are refused: an artifact must be self-contained. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const abs = join(current, entry.name);
      if (entry.isDirectory()) walk(abs);
      else if (entry.isFile()) out.push(relative(dir, abs).split(sep).join('/'));
      else
        throw new LineaError(
          `${abs} is not a regular file (symlink or special file); stages must write plain files into outDir`,
          'stage',
        );
    }
  };
  walk(dir);
  return out.sort();
}

/** Files up to this size are read and hashed in one synchronous call; larger ones are streamed. */
const HASH_IN_ONE_READ = 1 << 20;

export async function hashFile(path: string, size?: number): Promise<FileDigest> {
  const hash = createHash('sha256');
  if (size !== undefined && size <= HASH_IN_ONE_READ)
    return hash.update(readFileSync(path)).digest('hex') as FileDigest;
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex') as FileDigest;
}

function filesOrNone(dir: string): string[] {
  try {
    return listFiles(dir);
  } catch {
    return [];
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** rm -rf; objects' files are read-only, but unlinking depends only on the directory's mode. */
export async function rmTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

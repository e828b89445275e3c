/**
 * Which objects the runs in progress are using, so `linea gc` never removes one under them.
 * Each `linea run` that reads or commits an object records its digest, before reading it, in its
 * own file under `<cache>/active/`: a header line (host, pid, process start time), then one digest
 * per line, appended. The file is touched as a heartbeat and removed when the run ends. gc keeps
 * every digest named by a live run's file (same host: the process exists; another host: a fresh
 * heartbeat), and removes the files of dead runs.
 *
 * Appending a line per digest, synchronously, is what keeps a no-op run over a long chain of
 * cached stages cheap: each lookup waits for its digest to be recorded, so a file rewritten whole
 * (or written through the thread pool) would cost each of a thousand stages a round trip and a
 * file that grows with the run. A reader ignores a torn last line: that digest is not yet
 * recorded, and its run has not read the object yet.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { startHeartbeat } from './heartbeat.ts';
import type { ArtifactDigest } from '../core/json.ts';
import { hostName, processAlive, processStartTime } from '../core/process.ts';

interface ActiveHeader {
  readonly host: string;
  readonly pid: number;
  readonly startTime?: string;
}

export class ActiveRun {
  /** Digests the file on disk already names. */
  private readonly recorded = new Set<ArtifactDigest>();
  private readonly file: string;
  private stopHeartbeat: (() => void) | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** The file, open for appending once it exists. */
  private fd: number | undefined;

  constructor(
    private readonly dir: string,
    private readonly heartbeatMs = 15_000,
  ) {
    this.file = join(dir, `${hostName()}-${process.pid}-${randomBytes(4).toString('hex')}.json`);
  }

  /** Record that this run is about to read (or has just committed) `digest`; resolves once the file names it. */
  use(digest: ArtifactDigest): Promise<void> {
    try {
      this.useNow(digest);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** use(), synchronously: the file names `digest` when it returns; throws what the write threw. */
  useNow(digest: ArtifactDigest): void {
    if (this.recorded.has(digest)) return;
    if (this.recorded.size === 0) {
      const startTime = processStartTime(process.pid);
      const header: ActiveHeader = { host: hostName(), pid: process.pid, ...(startTime ? { startTime } : {}) };
      mkdirSync(this.dir, { recursive: true });
      // The header goes in whole with the first digest: a reader never sees a file without one.
      const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
      writeFileSync(tmp, `${JSON.stringify(header)}\n${digest}\n`);
      renameSync(tmp, this.file);
      // A run that only looks up cached results is over before another host's gc could call its
      // file stale; the heartbeat thread starts once the run lasts, or runs a stage (keepAlive).
      this.heartbeatTimer = setTimeout(() => this.keepAlive(), this.heartbeatMs / 3);
      this.heartbeatTimer.unref();
    } else {
      this.fd ??= openSync(this.file, 'a');
      writeSync(this.fd, `${digest}\n`);
    }
    this.recorded.add(digest);
  }

  /**
   * Keep the file's heartbeat from its own thread (heartbeat.ts): a run busy in a long stage,
   * even one that blocks the main thread, still shows it is alive.
   */
  keepAlive(): void {
    if (this.recorded.size === 0) return;
    clearTimeout(this.heartbeatTimer);
    this.stopHeartbeat ??= startHeartbeat(this.file, this.heartbeatMs);
  }

  /** Every digest a live run (this one included) has recorded in this directory. */
  inUseByAnyRun(staleMs?: number): Promise<Set<ArtifactDigest>> {
    return digestsInUse(this.dir, staleMs);
  }

  async close(): Promise<void> {
    clearTimeout(this.heartbeatTimer);
    this.stopHeartbeat?.();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.recorded.size) await unlink(this.file).catch(() => undefined);
  }
}

/** A run's file: its header and every whole digest line after it (undefined: no header yet). */
function parseActive(text: string): { header: ActiveHeader; digests: ArtifactDigest[] } | undefined {
  const lines = text.split('\n');
  let header: ActiveHeader;
  try {
    header = JSON.parse(lines[0]!) as ActiveHeader;
  } catch {
    return undefined;
  }
  // The last element is '' after a whole last line, or a torn digest: only whole lines count.
  const digests = lines.slice(1, -1).filter((line) => /^[0-9a-f]{64}$/.test(line)) as ArtifactDigest[];
  // A run of an earlier version writes one JSON document with its digests in it: gc still spares them.
  const earlier = (header as { digests?: unknown }).digests;
  if (Array.isArray(earlier)) digests.push(...(earlier.filter((d) => typeof d === 'string') as ArtifactDigest[]));
  return { header, digests };
}

/** Every digest a live run has recorded; the files of dead runs are removed on the way. */
export async function digestsInUse(dir: string, staleMs = 120_000): Promise<Set<ArtifactDigest>> {
  const inUse = new Set<ArtifactDigest>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const path = join(dir, name);
    let parsed: ReturnType<typeof parseActive>;
    let mtimeMs: number;
    try {
      [parsed, mtimeMs] = await Promise.all([
        readFile(path, 'utf8').then(parseActive),
        stat(path).then((s) => s.mtimeMs),
      ]);
    } catch {
      continue; // removed right now, or unreadable: the next gc will see it
    }
    if (!parsed) continue;
    const { header: file, digests } = parsed;
    const alive =
      file.host === hostName()
        ? processAlive(file.pid) &&
          (!file.startTime || processStartTime(file.pid) === undefined || processStartTime(file.pid) === file.startTime)
        : Date.now() - mtimeMs <= staleMs;
    if (!alive) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    for (const d of digests) inUse.add(d);
  }
  return inUse;
}

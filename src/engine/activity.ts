/**
 * Which objects the runs in progress are using, so `linea gc` never removes one under them.
 * Each `linea run` that reads or commits an object records its digest, before reading it, in its
 * own file under `<cache>/active/` (host, pid, process start time, digests), rewritten atomically
 * and touched as a heartbeat; the file is removed when the run ends. gc keeps every digest named
 * by a live run's file (same host: the process exists; another host: a fresh heartbeat), and
 * removes the files of dead runs.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHeartbeat } from './heartbeat.ts';
import type { ArtifactDigest } from './json.ts';
import { hostName, processAlive, processStartTime } from './process.ts';

interface ActiveFile {
  readonly host: string;
  readonly pid: number;
  readonly startTime?: string;
  readonly digests: readonly ArtifactDigest[];
}

export class ActiveRun {
  private readonly digests = new Set<ArtifactDigest>();
  /** Digests the file on disk already names. */
  private readonly persisted = new Set<ArtifactDigest>();
  private readonly file: string;
  private stopHeartbeat: (() => void) | undefined;
  /** The last write queued; writes run one after another. */
  private writing: Promise<void> = Promise.resolve();
  /** The queued write that has not started yet: new digests join it instead of queuing another. */
  private pending: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly heartbeatMs = 15_000,
  ) {
    this.file = join(dir, `${hostName()}-${process.pid}-${randomBytes(4).toString('hex')}.json`);
  }

  /**
   * Record that this run is about to read (or has just committed) `digest`; resolves once the file
   * names it. Digests recorded while a write is under way share the next write, so a run that
   * looks up many cached results writes the file a few times, not once per result.
   */
  use(digest: ArtifactDigest): Promise<void> {
    if (this.persisted.has(digest)) return Promise.resolve();
    this.digests.add(digest);
    // From its own thread (heartbeat.ts): a run busy in a long stage still shows it is alive.
    this.stopHeartbeat ??= startHeartbeat(this.file, this.heartbeatMs);
    if (!this.pending) {
      this.pending = this.writing.then(async () => {
        this.pending = undefined;
        const digests = [...this.digests];
        const startTime = processStartTime(process.pid);
        const content: ActiveFile = {
          host: hostName(),
          pid: process.pid,
          ...(startTime ? { startTime } : {}),
          digests,
        };
        await mkdir(this.dir, { recursive: true });
        const tmp = `${this.file}.${randomBytes(4).toString('hex')}.tmp`;
        await writeFile(tmp, JSON.stringify(content));
        await rename(tmp, this.file);
        for (const d of digests) this.persisted.add(d);
      });
      this.writing = this.pending;
    }
    return this.pending;
  }

  /** Every digest a live run (this one included) has recorded in this directory. */
  inUseByAnyRun(staleMs?: number): Promise<Set<ArtifactDigest>> {
    return digestsInUse(this.dir, staleMs);
  }

  async close(): Promise<void> {
    this.stopHeartbeat?.();
    await this.writing.catch(() => undefined);
    if (this.digests.size) await unlink(this.file).catch(() => undefined);
  }
}

/** Every digest a live run has recorded; the files of dead runs are removed on the way. */
export async function digestsInUse(dir: string, staleMs = 120_000): Promise<Set<ArtifactDigest>> {
  const inUse = new Set<ArtifactDigest>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const path = join(dir, name);
    let file: ActiveFile;
    let mtimeMs: number;
    try {
      [file, mtimeMs] = await Promise.all([
        readFile(path, 'utf8').then((t) => JSON.parse(t) as ActiveFile),
        stat(path).then((s) => s.mtimeMs),
      ]);
    } catch {
      continue; // being replaced right now, or unreadable: the next gc will see it
    }
    const alive =
      file.host === hostName()
        ? processAlive(file.pid) &&
          (!file.startTime || processStartTime(file.pid) === undefined || processStartTime(file.pid) === file.startTime)
        : Date.now() - mtimeMs <= staleMs;
    if (!alive) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    for (const d of file.digests ?? []) inUse.add(d);
  }
  return inUse;
}

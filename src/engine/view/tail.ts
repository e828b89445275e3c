/**
 * Following the run journals (journal.ts) as they grow: every line any run appends to
 * `<cache>/events/*.jsonl`, in order per file, delivered once. The directory is watched
 * (fs.watch: an append is seen within milliseconds); a light scan of the files' sizes every
 * `scanMs` catches what a watch misses (network filesystems, where a Slurm job's driver may
 * write on another host). Only the new bytes of a file that grew are read, never the whole state.
 */
import { closeSync, openSync, readdirSync, readSync, statSync, type FSWatcher, watch } from 'node:fs';
import { join } from 'node:path';
import type { JournalEvent } from './journal.ts';

export class JournalTail {
  private readonly offsets = new Map<string, number>();
  private readonly partial = new Map<string, string>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  /**
   * `since`: journals last written before this time (ms) are skipped whole (old runs' events
   * are in their records); a journal written since is read from its start.
   */
  constructor(
    private readonly dir: string,
    private readonly onEvent: (event: JournalEvent) => void,
    private readonly options: { since: number; scanMs?: number } = { since: 0 },
  ) {}

  start(): void {
    this.watchDir();
    this.scan();
    this.timer = setInterval(() => {
      // The directory appears with the first run that computes something: watch it from then.
      this.watchDir();
      this.scan();
    }, this.options.scanMs ?? 1000);
    this.timer.unref();
  }

  private watchDir(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.dir, () => this.scan());
      this.watcher.on('error', () => undefined);
    } catch {
      // no events directory yet, or no watch support: the timer's scan still finds what is written
    }
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
  }

  /** Read what each journal gained since the last scan. */
  scan(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir)
        .filter((n) => n.endsWith('.jsonl'))
        .sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(this.dir, name);
      let size: number;
      try {
        const s = statSync(path);
        size = s.size;
        if (!this.offsets.has(path)) this.offsets.set(path, s.mtimeMs < this.options.since ? size : 0);
      } catch {
        continue;
      }
      const from = this.offsets.get(path)!;
      if (size > from) this.read(path, from, size);
    }
  }

  private read(path: string, from: number, to: number): void {
    const buffer = Buffer.alloc(to - from);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return;
    }
    try {
      readSync(fd, buffer, 0, buffer.length, from);
    } finally {
      closeSync(fd);
    }
    this.offsets.set(path, to);
    const text = (this.partial.get(path) ?? '') + buffer.toString('utf8');
    const lines = text.split('\n');
    this.partial.set(path, lines.pop() ?? '');
    for (const line of lines) {
      if (!line) continue;
      try {
        this.onEvent(JSON.parse(line) as JournalEvent);
      } catch {
        // a damaged line is skipped; the next is whole again (one write per line)
      }
    }
  }
}

/**
 * What says a file is unchanged without reading it, as git's index does: size, mtime and inode
 * (an editor that saves by replacing the file changes the inode even when size and mtime come
 * out equal). Used by the caches kept by stat: code digests (code.ts) and module plans
 * (module-plan.ts).
 */
import { statSync } from 'node:fs';

export type FileStat = readonly [size: number, mtimeMs: number, ino: number];

/** Files modified this recently are not stamped: an edit in the same mtime tick would go unseen. */
export const RACY_MS = 2_000;

/** The file's stat now, or null where it does not exist. */
export function statOf(path: string): FileStat | null {
  const s = statSync(path, { throwIfNoEntry: false });
  return s ? [s.size, s.mtimeMs, s.ino] : null;
}

/** Equal stats, or both absent. */
export function sameStat(now: FileStat | null, then: FileStat | null): boolean {
  if (now === null || then === null) return now === then;
  return now[0] === then[0] && now[1] === then[1] && now[2] === then[2];
}

/** Whether any of these stats was modified too recently (at `now`) to be trusted later. */
export function racy(stats: Iterable<FileStat | null>, now = Date.now()): boolean {
  for (const s of stats) if (s && now - s[1] < RACY_MS) return true;
  return false;
}

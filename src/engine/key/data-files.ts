/**
 * Digests of data files a stage reads at run time, for its declared env: the key then changes when
 * the data does, not when the path or the file's timestamps do. A digest is computed once per
 * process per (path, size, mtime, inode), since `linea status` and `run` ask for each key several
 * times; and, once the project names its stamp file (`useDataStamps`), once per file version
 * across commands, as git's index does for its files and code.ts for a stage's code: a file whose
 * stat (size, mtime, inode) is what it was when hashed gets that digest back unread. A file saved
 * in the last two seconds is not stamped (an edit within the same mtime tick would go unseen).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LineaError } from '../core/errors.ts';
import { type FileStat, racy, sameStat, statOf } from '../core/file-stat.ts';
import { sha256, type FileDigest } from '../core/json.ts';

interface Stamp {
  readonly stat: FileStat;
  readonly digest: FileDigest;
}

const memo = new Map<string, FileDigest>();
/** The project's stamp file, its entries by absolute path, and whether this process added any. */
let kept: { file: string; entries: Record<string, Stamp>; added: boolean } | undefined;
const STAMPS_VERSION = 1;

/**
 * Keep data-file digests in `file` (in the cache) across commands; `saveDataStamps` writes what
 * this process added. A stamp file that cannot be read is no stamps: every file is hashed again.
 */
export function useDataStamps(file: string): void {
  if (kept?.file === file) return;
  let entries: Record<string, Stamp> = {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { version?: number; files?: Record<string, Stamp> };
    if (parsed.version === STAMPS_VERSION && parsed.files) entries = parsed.files;
  } catch {
    // none yet
  }
  kept = { file, entries, added: false };
}

/** Write the stamps this process added (whole, renamed into place: the last writer wins). */
export function saveDataStamps(): void {
  if (!kept?.added) return;
  const { file, entries } = kept;
  kept.added = false;
  // Stamps of files that are gone are dropped, so the file does not grow with every path once hashed.
  const files = Object.fromEntries(Object.entries(entries).filter(([path]) => statOf(path) !== null));
  const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, JSON.stringify({ version: STAMPS_VERSION, files }));
    renameSync(tmp, file);
  } catch {
    // A read-only cache: the next command hashes again.
  }
}

/** sha256 of one file's bytes. */
export function fileDigest(path: string): FileDigest {
  const stat = statOf(path);
  if (!stat) throw new LineaError(`data file ${path} does not exist; check the path in the stage's params`, 'config');
  const id = `${path}\0${stat.join('\0')}`;
  let digest = memo.get(id);
  if (digest) return digest;
  const stamp = kept?.entries[path];
  if (stamp && sameStat(stat, stamp.stat)) digest = stamp.digest;
  else {
    digest = sha256(readFileSync(path)) as FileDigest;
    // The stat must describe the bytes hashed: a file saved meanwhile, or too recently, is not stamped.
    if (kept && sameStat(statOf(path), stat) && !racy([stat])) {
      kept.entries[path] = { stat, digest };
      kept.added = true;
    }
  }
  memo.set(id, digest);
  return digest;
}

/**
 * Digests of the files in a directory (not recursive) whose names `include` accepts, by file name
 * only, so the same data in another place gives the same key. A missing directory gives no files.
 */
export function directoryDigests(
  dir: string,
  include: (name: string) => boolean = () => true,
): Record<string, FileDigest> {
  let names: string[];
  try {
    names = readdirSync(dir).filter(include).sort();
  } catch {
    return {};
  }
  return Object.fromEntries(names.map((name) => [basename(name), fileDigest(join(dir, name))]));
}

/**
 * Digests of data files a stage reads at run time, for its declared env: the key then changes when
 * the data does, not when the path or the file's timestamps do. A digest is computed once per
 * process per (path, size, mtime), since `linea status` and `run` ask for each key several times.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LineaError } from '../core/errors.ts';
import { sha256, type FileDigest } from '../core/json.ts';

const memo = new Map<string, FileDigest>();

/** sha256 of one file's bytes. */
export function fileDigest(path: string): FileDigest {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new LineaError(`data file ${path} does not exist; check the path in the stage's params`, 'config');
  }
  const id = `${path}\0${stat.size}\0${stat.mtimeMs}`;
  let digest = memo.get(id);
  if (!digest) {
    digest = sha256(readFileSync(path)) as FileDigest;
    memo.set(id, digest);
  }
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

/**
 * Publishing: a stage marked `publish` (a report, say) has its artifact's files copied out of the
 * store to a plain directory after each run, cached or not, so a reader finds them at a stable
 * path; a target that still holds exactly that artifact, untouched, is left as it is. The copy is
 * built beside the target and swapped in, so a failed copy never leaves half a report, and the
 * store's object is never touched.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cp, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type FileStat, sameStat, statOf } from '../core/file-stat.ts';
import { sha256 } from '../core/json.ts';
import type { Project } from '../project/project.ts';
import { lookup } from './lookup.ts';
import type { Instance } from '../define/instances.ts';
import type { StageResult } from './run.ts';

export interface Published {
  readonly instance: string;
  readonly dir: string;
}

/** Copy the results of publishing stages to `outDir` (one instance) or `outDir/<instance>` (several). */
export async function publishResults(
  project: Project,
  instances: readonly Instance[],
  results: readonly StageResult[],
  outDir: string,
): Promise<Published[]> {
  const publishing = instances.filter((i) => i.stage.publish);
  const published: Published[] = [];
  for (const instance of publishing) {
    const result = results.find((r) => r.id === instance.id);
    if (!result?.key || result.status === 'failed') continue;
    const found = await lookup(project, result.key, (digest) => project.activity.use(digest));
    if (!found.hit) continue;
    const target = publishing.length === 1 ? outDir : join(outDir, instance.id);
    const marker = join(project.store.root, 'published', `${sha256(target).slice(0, 32)}.json`);
    if (isPublished(marker, target, found.record.digest)) {
      published.push({ instance: instance.id, dir: target });
      continue;
    }
    const staging = `${target}.linea-tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await cp(project.store.filesDir(found.record.digest), staging, { recursive: true });
      await swapIn(staging, target);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    markPublished(marker, target, found.record.digest);
    published.push({ instance: instance.id, dir: target });
  }
  return published;
}

/**
 * What was last published at a target, kept in the cache (not beside the files, which are the
 * user's to read): the artifact, and the stat of every file copied. A no-op rerun whose target
 * still holds exactly that (no file edited, replaced or removed) copies nothing.
 */
interface PublishedMarker {
  readonly target: string;
  readonly digest: string;
  readonly files: Readonly<Record<string, FileStat>>;
}

function isPublished(marker: string, target: string, digest: string): boolean {
  try {
    const m = JSON.parse(readFileSync(marker, 'utf8')) as PublishedMarker;
    if (m.target !== target || m.digest !== digest || typeof m.files !== 'object') return false;
    return Object.entries(m.files).every(([rel, then]) => sameStat(statOf(join(target, rel)), then));
  } catch {
    return false;
  }
}

function markPublished(marker: string, target: string, digest: string): void {
  const files: Record<string, FileStat> = {};
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(join(dir, entry.name), rel);
      else files[rel] = statOf(join(dir, entry.name))!;
    }
  };
  const tmp = `${marker}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    walk(target, '');
    mkdirSync(dirname(marker), { recursive: true });
    writeFileSync(tmp, JSON.stringify({ target, digest, files } satisfies PublishedMarker));
    renameSync(tmp, marker);
  } catch {
    // No marker: the next run copies again.
    rmSync(tmp, { force: true });
  }
}

/**
 * Put the complete directory `staging` at `target`. Several runs may publish to one target at
 * once: each moves whatever is there aside (its own name), renames its copy in, and removes what
 * it moved; if another run's copy landed in between (ENOTEMPTY/EEXIST), it moves that aside too and
 * tries again. Readers always see a whole copy or none, and the last complete publish wins.
 */
async function swapIn(staging: string, target: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const aside = `${target}.linea-old-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await rename(target, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    try {
      await rename(staging, target);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt >= 50) throw error;
    } finally {
      await rm(aside, { recursive: true, force: true });
    }
  }
}

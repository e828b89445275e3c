// Compile the engine package (tsconfig.engine.json: src/index.ts and src/engine/ into
// packages/engine/dist/), bundle the page of `linea view` (src/view/page/ into dist/view/app.js: one
// script, Vega and dagre inside, nothing fetched at run time), remove what an earlier build left
// for sources that no longer exist (a moved or deleted file), so the tarball holds exactly the
// engine, and stamp the sources compiled (packages/engine/sources.json, outside the package's
// files): the repository's bin runs this compiled engine while the stamp is current
// (src/engine/load/engine-source.ts).
//
// Everything is built into a folder of its own first; a file of dist/ is then replaced (by
// rename) only where its content changed. A `linea` command or a test starting while this runs
// never reads a half-written file, and the stamp, removed first and written last, is current
// only once all of dist/ matches it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const packageDir = join(root, 'packages', 'engine');
const dist = join(packageDir, 'dist');
const src = join(root, 'src');
const stampFile = join(packageDir, 'sources.json');
const staging = join(packageDir, `.build-${process.pid}`);
/** An mtime tick no filesystem exceeds (file-stat.ts's RACY_MS). */
const RACY_MS = 2_000;

const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
const statOf = (path) => {
  const s = statSync(path);
  return [s.size, s.mtimeMs, s.ino];
};

const sources = [join(src, 'index.ts'), ...files(join(src, 'engine')), ...files(join(src, 'view', 'page'))].filter(
  (p) => p.endsWith('.ts') || p.endsWith('.json'),
);
// --if-stale (tests, which may run beside each other): nothing to do while the stamp names exactly
// these sources with the stats they have. A build removes the stamp for as long as it runs, and
// every `linea` started meanwhile would run the engine from source.
if (process.argv.includes('--if-stale') && isCurrent()) process.exit(0);
rmSync(stampFile, { force: true });
// A source saved in the last mtime tick could be saved again unseen (the same stat): wait that
// tick out, then take the stats the stamp keeps, before compiling. An edit during the build
// then leaves the stamp stale.
const newest = Math.max(...sources.map((p) => statOf(p)[1]));
if (Date.now() - newest < RACY_MS) await new Promise((r) => setTimeout(r, RACY_MS - (Date.now() - newest)));
const stamp = { version: 1, files: Object.fromEntries(sources.map((p) => [relative(root, p), statOf(p)])) };

try {
  execFileSync(
    join(root, 'node_modules', '.bin', 'tsc'),
    ['-p', join(root, 'tsconfig.engine.json'), '--outDir', staging],
    { stdio: 'inherit' },
  );
  const { build } = await import('esbuild');
  await build({
    entryPoints: [join(src, 'view', 'page', 'main.ts')],
    outfile: join(staging, 'view', 'app.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const built = new Set();
  for (const file of files(staging)) {
    const rel = relative(staging, file);
    built.add(rel);
    const target = join(dist, rel);
    if (existsSync(target) && digest(readFileSync(target)) === digest(readFileSync(file))) continue;
    mkdirSync(dirname(target), { recursive: true });
    renameSync(file, target);
  }
  if (existsSync(dist)) sweep(dist, built);
  writeFileSync(`${stampFile}.tmp`, `${JSON.stringify(stamp)}\n`);
  renameSync(`${stampFile}.tmp`, stampFile);
} finally {
  rmSync(staging, { recursive: true, force: true });
}

function isCurrent() {
  let stamped;
  try {
    stamped = JSON.parse(readFileSync(stampFile, 'utf8')).files;
  } catch {
    return false;
  }
  const now = sources.map((p) => relative(root, p));
  if (typeof stamped !== 'object' || stamped === null || Object.keys(stamped).length !== now.length) return false;
  return now.every((rel) => {
    const then = stamped[rel];
    const [size, mtime, ino] = statOf(join(root, rel));
    return Array.isArray(then) && then[0] === size && then[1] === mtime && then[2] === ino;
  });
}

function digest(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Remove what this build did not produce (a source moved or deleted since an earlier build). */
function sweep(dir, built) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      sweep(path, built);
      if (readdirSync(path).length === 0) rmdirSync(path);
    } else if (!built.has(relative(dist, path))) unlinkSync(path);
  }
}

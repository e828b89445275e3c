// Compile the engine package (tsconfig.engine.json: src/index.ts and src/engine/ into
// packages/engine/dist/), bundle the page of `linea view` (src/view/page/ into dist/view/app.js: one
// script, Vega and dagre inside, nothing fetched at run time), then remove what an earlier build
// left for sources that no longer exist (a moved or deleted file), so the tarball holds exactly
// the engine. Files are overwritten in place and only stale ones are removed: a test that builds
// and packs beside another build never sees the current files missing.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'packages', 'engine', 'dist');
const src = join(root, 'src');
execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.engine.json')], {
  stdio: 'inherit',
});
const { build } = await import('esbuild');
await build({
  entryPoints: [join(src, 'view', 'page', 'main.ts')],
  outfile: join(dist, 'view', 'app.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});

/** The source a compiled file came from: x.js, x.d.ts and their maps come from x.ts. */
const sourceOf = (file) => join(src, relative(dist, file).replace(/(\.d)?\.(js|ts)(\.map)?$/, '.ts'));

function sweep(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (path === join(dist, 'view')) continue; // the page's bundle, built above
    if (statSync(path).isDirectory()) {
      sweep(path);
      if (readdirSync(path).length === 0) rmdirSync(path);
    } else if (!existsSync(sourceOf(path))) unlinkSync(path);
  }
}
sweep(dist);

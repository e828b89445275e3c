// Compile the engine package (tsconfig.engine.json: src/index.ts and src/engine/ into
// packages/engine/dist/), then remove what an earlier build left for sources that no longer exist
// (a moved or deleted file), so the tarball holds exactly the engine. Files are overwritten in
// place and only stale ones are removed: a test that builds and packs beside another build never
// sees the current files missing.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'packages', 'engine', 'dist');
const src = join(root, 'src');
execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.engine.json')], {
  stdio: 'inherit',
});

/** The source a compiled file came from: x.js, x.d.ts and their maps come from x.ts. */
const sourceOf = (file) => join(src, relative(dist, file).replace(/(\.d)?\.(js|ts)(\.map)?$/, '.ts'));

function sweep(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      sweep(path);
      if (readdirSync(path).length === 0) rmdirSync(path);
    } else if (!existsSync(sourceOf(path))) unlinkSync(path);
  }
}
sweep(dist);

/**
 * Loading the user's TypeScript (pipeline.ts, stages) with no build step. When the engine itself
 * runs as TypeScript (this repository's bin and tests, through tsx), whatever loads the engine
 * loads the user's files too. The compiled engine (the linea-engine package) registers its own
 * hooks (typescript-hooks.ts) the first time a .ts module is imported, and only then.
 */
import { readFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

let registered = false;

export function loadsTypeScript(file: string): Promise<void> {
  if (!/\.[cm]?tsx?$/.test(file) && !/\.[cm]?tsx?$/.test(new URL(file, 'file:///').pathname)) return Promise.resolve();
  if (registered || import.meta.url.endsWith('.ts')) return Promise.resolve();
  registered = true;
  // Compiled files are a cache of pure functions of their source: one per user, shared by projects.
  const cacheDir = process.env.LINEA_TS_CACHE ?? join(tmpdir(), `linea-ts-${userInfo().uid}`);
  register(new URL('./typescript-hooks.js', import.meta.url), {
    data: { cacheDir, salt: `${esbuildVersion()} ${HOOKS_VERSION}` },
  });
  process.setSourceMapsEnabled(true);
  return Promise.resolve();
}

/** Bumped when typescript-hooks.ts changes what it emits. */
const HOOKS_VERSION = '1';

function esbuildVersion(): string {
  try {
    const manifest = createRequire(import.meta.url).resolve('esbuild/package.json');
    return `esbuild ${(JSON.parse(readFileSync(manifest, 'utf8')) as { version?: string }).version}`;
  } catch {
    return 'esbuild';
  }
}

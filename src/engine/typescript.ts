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

export async function loadsTypeScript(file: string): Promise<void> {
  if (!/\.[cm]?tsx?$/.test(file) && !/\.[cm]?tsx?$/.test(new URL(file, 'file:///').pathname)) return;
  if (registered || import.meta.url.endsWith('.ts')) return;
  registered = true;
  // Once hooks are registered, every module the pipeline imports is resolved and loaded through
  // them, a round trip to their thread each. The engine's public API and zod (the engine's peer
  // dependency, in which every stage writes its params) are loaded first, so that the pipeline's
  // imports of them find them loaded: about 60 ms less per command.
  await import(new URL('../index.js', import.meta.url).href);
  await import('zod').catch(() => undefined);
  // Compiled files are a cache of pure functions of their source: one per user, shared by projects.
  const cacheDir = process.env.LINEA_TS_CACHE ?? join(tmpdir(), `linea-ts-${userInfo().uid}`);
  register(new URL('./typescript-hooks.js', import.meta.url), {
    data: { cacheDir, salt: `${esbuildVersion()} ${HOOKS_VERSION}` },
  });
  process.setSourceMapsEnabled(true);
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

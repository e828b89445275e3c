import { resolve } from 'node:path';

/** --cache-dir, else $LINEA_CACHE_DIR (both relative to the working directory), else <project>/cache. */
export function resolveCacheDir(root: string, flag?: string): string {
  const chosen = flag ?? process.env.LINEA_CACHE_DIR;
  return chosen ? resolve(chosen) : resolve(root, 'cache');
}

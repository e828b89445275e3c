/**
 * Loading the user's TypeScript (pipeline.ts, stages) with no build step: tsx's loader is
 * registered once, the first time a .ts module is imported, and only then. The engine itself may
 * be compiled JavaScript (the linea-engine package) or TypeScript run through tsx (this
 * repository); either way nothing else needs the loader.
 */
let registered: Promise<void> | undefined;

export function loadsTypeScript(file: string): Promise<void> {
  if (!/\.[cm]?tsx?$/.test(file) && !/\.[cm]?tsx?$/.test(new URL(file, 'file:///').pathname)) return Promise.resolve();
  registered ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  return registered;
}

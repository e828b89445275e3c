/**
 * `linea view`: serve the live page (view/server.ts) until Ctrl-C. It opens the project read-only,
 * so it works beside runs, on a cache this user cannot write, and with any index backend.
 */
import { resolve } from 'node:path';
import { LineaError } from '../../core/errors.ts';
import { startView } from '../../view/server.ts';
import { selectionFrom } from '../selection.ts';
import { type Flags, withProject } from './context.ts';

export async function cmdView(flags: Flags): Promise<number> {
  const port = Number(flags.port ?? 4747);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new LineaError(`--port ${flags.port}: expected a port number (0 picks a free one)`, 'usage');
  const host = flags.host ?? '127.0.0.1';
  const fromFlags = selectionFrom(flags);
  return withProject(
    flags,
    async (project, _instances, loaded) => {
      const view = await startView({
        project,
        pipeline: loaded.pipeline,
        cacheDir: loaded.cacheDir,
        resultsDir: resolve(flags.out ?? resolve(loaded.root, 'results')),
        host,
        port,
        // The page's selection, in the flags' words; without one, the command line's.
        selectionOf: (query) => {
          const asked = ['preset', 'set', 'ablate', 'only'].some((name) => query.has(name));
          if (!asked) return fromFlags;
          return selectionFrom({
            ...(query.get('preset') ? { preset: query.get('preset')! } : {}),
            set: query.getAll('set').filter(Boolean),
            ablate: query.getAll('ablate').filter(Boolean),
            only: query.getAll('only').filter(Boolean),
          });
        },
      });
      process.stderr.write(`linea view: ${view.url}\n`);
      if (view.token)
        process.stderr.write(`linea view: listening beyond loopback; every request needs the token above\n`);
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await view.close();
      return 0;
    },
    { access: 'read' },
  );
}

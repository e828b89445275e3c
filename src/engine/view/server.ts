/**
 * `linea view`'s server: the page, its JSON API and a stream of live events, over node:http.
 *
 *   GET /                       the page (one bundled script, /app.js; nothing from outside)
 *   GET /api/plan?<selection>   what `linea status` says for that selection (state.ts)
 *   GET /api/instance?id=&<selection>   one instance in full
 *   GET /api/results?stage=&<selection>  a results table
 *   GET /api/events             server-sent events: a snapshot of live runs, then each journal line
 *   GET /cache/<path>, /results/<path>   files inside the cache or the results directory only
 *
 * A selection is `preset=`, `set=` (repeated), `ablate=` (repeated), `only=` (repeated): the
 * flags of the command line, read by the same parser. Read-only: no method but GET and HEAD,
 * nothing that runs, deletes or writes. Bound to 127.0.0.1 unless told otherwise; on any other
 * address every request must carry the token printed at start (`?token=`, or the cookie the page
 * sets from it).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../core/errors.ts';
import { processAlive, hostName } from '../core/process.ts';
import { expandInstances, type Instance, type Selection } from '../define/instances.ts';
import type { Pipeline } from '../define/pipeline.ts';
import { planInstances } from '../plan/plan.ts';
import type { Project } from '../project/project.ts';
import { JOURNAL_DIR, type JournalEvent } from './journal.ts';
import { instanceJson, planJson, resultsJson } from './state.ts';
import { JournalTail } from './tail.ts';

export interface ViewOptions {
  readonly project: Project;
  readonly pipeline: Pipeline;
  readonly cacheDir: string;
  readonly resultsDir: string;
  readonly host: string;
  readonly port: number;
  /** The flags' selection parser (cli/selection.ts): the page's selection means what the flags mean. */
  readonly selectionOf: (query: URLSearchParams) => Selection;
}

export interface RunningView {
  readonly url: string;
  /** Present when the server listens beyond loopback. */
  readonly token?: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Journals older than this are not replayed when the view starts: their runs are in the records. */
const REPLAY_MS = 24 * 3600_000;

export async function startView(options: ViewOptions): Promise<RunningView> {
  const loopback = ['127.0.0.1', '::1', 'localhost'].includes(options.host);
  const token = loopback ? undefined : randomBytes(16).toString('hex');
  const live = new LiveRuns();
  const clients = new Set<ServerResponse>();
  const tail = new JournalTail(
    join(options.cacheDir, JOURNAL_DIR),
    (event) => {
      live.add(event);
      const line = `data: ${JSON.stringify(event)}\n\n`;
      for (const client of clients) client.write(line);
    },
    { since: Date.now() - REPLAY_MS, scanMs: 500 },
  );
  tail.start();
  const page = pageAssets();

  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => send(response, 500, { error: errorMessage(error) }));
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://view');
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, { error: 'read-only' });
    if (token && !authorised(request, url, token)) return send(response, 401, { error: 'a token is required' });
    if (token && url.searchParams.get('token') === token)
      response.setHeader('set-cookie', `linea_token=${token}; HttpOnly; SameSite=Strict; Path=/`);
    const path = url.pathname;
    if (path === '/') return sendText(response, 'text/html; charset=utf-8', pageHtml(options.pipeline.name));
    if (path === '/app.js') return sendText(response, 'text/javascript; charset=utf-8', await page());
    if (path === '/api/events') return events(response);
    if (path.startsWith('/api/')) return api(path, url.searchParams, response);
    if (path.startsWith('/cache/')) return serveFile(response, options.cacheDir, path.slice('/cache/'.length));
    if (path.startsWith('/results/')) return serveFile(response, options.resultsDir, path.slice('/results/'.length));
    return send(response, 404, { error: 'not found' });
  }

  async function api(path: string, query: URLSearchParams, response: ServerResponse): Promise<void> {
    let instances: Instance[];
    try {
      instances = expandInstances(options.pipeline, options.selectionOf(query));
    } catch (error) {
      return send(response, 400, { error: errorMessage(error) });
    }
    const planned = await planInstances(options.project, instances);
    const plan = planJson(options.pipeline, instances, planned);
    if (path === '/api/plan') return send(response, 200, plan);
    if (path === '/api/instance') {
      const id = query.get('id') ?? '';
      const instance = instances.find((i) => i.id === id);
      const summary = plan.instances.find((i) => i.id === id);
      if (!instance || !summary) return send(response, 404, { error: `no instance '${id}' in this selection` });
      return send(response, 200, await instanceJson(options.project, instance, summary, planned));
    }
    if (path === '/api/results') {
      const stage = query.get('stage') ?? '';
      return send(response, 200, await resultsJson(options.project, instances, planned, stage));
    }
    return send(response, 404, { error: 'not found' });
  }

  function events(response: ServerResponse): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    response.write(`event: snapshot\ndata: ${JSON.stringify(live.snapshot())}\n\n`);
    clients.add(response);
    const ping = setInterval(() => response.write(': ping\n\n'), 15_000);
    ping.unref();
    response.on('close', () => {
      clearInterval(ping);
      clients.delete(response);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shown = isIP(options.host) === 6 ? `[${options.host}]` : options.host;
  return {
    url: `http://${shown}:${port}/${token ? `?token=${token}` : ''}`,
    ...(token ? { token } : {}),
    server,
    close: async () => {
      tail.stop();
      for (const client of clients) client.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function authorised(request: IncomingMessage, url: URL, token: string): boolean {
  const cookie = /(?:^|;\s*)linea_token=([0-9a-f]+)/.exec(request.headers.cookie ?? '')?.[1];
  const bearer = /^Bearer\s+(\S+)$/.exec(request.headers.authorization ?? '')?.[1];
  const given = url.searchParams.get('token') ?? bearer ?? cookie ?? '';
  return given.length === token.length && timingSafeEqual(Buffer.from(given), Buffer.from(token));
}

/**
 * A file inside `root`, or 403: the path is resolved (symlinks too) and must stay inside the
 * root's real path, so `..`, encoded or not, and links out of the cache lead nowhere.
 */
function serveFile(response: ServerResponse, root: string, relative: string): void {
  const real = resolveInside(root, relative);
  if (typeof real === 'number') {
    send(response, real, { error: real === 403 ? 'outside the served directories' : 'not found' });
    return;
  }
  response.writeHead(200, { 'content-type': CONTENT_TYPES[extname(real)] ?? 'application/octet-stream' });
  createReadStream(real).pipe(response);
}

/** The real path of `relative` under `root` if it is a file there; else the HTTP status that says why not. */
function resolveInside(root: string, relative: string): string | 400 | 403 | 404 {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return 400;
  }
  try {
    const base = realpathSync(root);
    const real = realpathSync(join(base, decoded));
    if (real !== base && !real.startsWith(base + sep)) return 403;
    return statSync(real).isFile() ? real : 404;
  } catch {
    // A path that climbs out is refused as such even when what it names does not exist.
    return resolve(root, decoded).startsWith(resolve(root) + sep) ? 404 : 403;
  }
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.md': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.csv': 'text/plain; charset=utf-8',
};

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}

function sendText(response: ServerResponse, type: string, text: string): void {
  response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(text);
}

function pageHtml(title: string): string {
  const escaped = title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>linea view · ${escaped}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><div id="app"></div><script src="/app.js"></script></body></html>`;
}

/**
 * The page's script: the bundle built at pack time (the package's dist/view/app.js), or, run from
 * the sources, the page's TypeScript bundled with esbuild once per server.
 */
function pageAssets(): () => Promise<string> {
  const dir = fileURLToPath(new URL('../../view/', import.meta.url));
  let bundle: Promise<string> | undefined;
  return () => {
    bundle ??= (async () => {
      if (existsSync(join(dir, 'app.js'))) return readFileSync(join(dir, 'app.js'), 'utf8');
      const { build } = await import('esbuild');
      const result = await build({
        entryPoints: [join(dir, 'page', 'main.ts')],
        bundle: true,
        write: false,
        format: 'iife',
        platform: 'browser',
        target: 'es2022',
        minify: true,
        legalComments: 'none',
        logLevel: 'silent',
      });
      return result.outputFiles[0]!.text;
    })();
    return bundle;
  };
}

/** What runs in progress are doing, for a page that connects mid-run: rebuilt from their journals. */
class LiveRuns {
  private readonly runs = new Map<string, JournalEvent[]>();

  add(event: JournalEvent): void {
    // An ended run's events were sent to every page connected then; a page that comes later
    // reads its results from the plan.
    if (event.e === 'end') this.runs.delete(event.run);
    else {
      const events = this.runs.get(event.run) ?? [];
      events.push(event);
      this.runs.set(event.run, events);
    }
  }

  /** The events of every run not ended whose process (when on this host) is still alive. */
  snapshot(): JournalEvent[] {
    return [...this.runs].flatMap(([name, events]) => (alive(name) ? events : []));
  }
}

/** A run's journal is named `<time>-<host>-<pid>`: a run of this host whose process is gone is over. */
function alive(run: string): boolean {
  const here = hostName().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`-${here}-(\\d+)$`).exec(run);
  return match ? processAlive(Number(match[1])) : true;
}

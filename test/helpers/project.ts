/**
 * A throwaway linea project in a temp directory, made from a fixture, and the real `linea` CLI
 * run against it. node_modules is a folder of links into the repo's, plus `linea` → the repo, so
 * the fixture imports 'linea' and 'zod' exactly as a user's project does.
 */
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { after } from 'node:test';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';

export const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'bin', 'linea.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Project {
  readonly logFile: string;

  constructor(readonly dir: string) {
    this.logFile = join(dir, 'executions.log');
  }

  /** Run `linea <args>` in the project and wait for it. */
  async linea(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    const result = await this.spawn(args, env);
    return { code: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
  }

  /** Start `linea <args>` without waiting (for concurrency and kill tests). */
  spawn(args: string[], env: Record<string, string> = {}): ResultPromise<{ reject: false }> {
    return execa(process.execPath, [BIN, ...args], {
      cwd: this.dir,
      env: { LINEA_TEST_LOG: this.logFile, CI: 'true', ...env },
      reject: false,
      stdin: 'ignore',
    }) as ResultPromise<{ reject: false }>;
  }

  async json<T = unknown>(args: string[], env: Record<string, string> = {}): Promise<T> {
    const result = await this.linea([...args, '--json'], env);
    if (result.code !== 0) throw new Error(`linea ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  }

  /** Lines of the executions log: `<instance> <pid> [note]`, one per stage execution. */
  executions(): string[] {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').split('\n').filter(Boolean) : [];
  }

  /** Instances executed since the log was last cleared, and clear it. */
  takeExecutions(): string[] {
    const ran = this.executions()
      .map(parseExecution)
      .filter((e) => e.note === undefined || e.note.startsWith('start='))
      .map((e) => e.instance);
    rmSync(this.logFile, { force: true });
    return ran.sort();
  }

  read(rel: string): string {
    return readFileSync(join(this.dir, rel), 'utf8');
  }

  write(rel: string, text: string): void {
    writeFileSync(join(this.dir, rel), text);
  }

  edit(rel: string, change: (text: string) => string): void {
    const before = this.read(rel);
    const after = change(before);
    if (after === before) throw new Error(`edit of ${rel} changed nothing`);
    this.write(rel, after);
  }

  get cacheDir(): string {
    return join(this.dir, 'cache');
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function makeProject(fixture = 'toy'): Project {
  const dir = mkdtempSync(join(tmpdir(), `linea-${fixture}-`));
  cpSync(join(REPO, 'test', 'fixtures', fixture), dir, { recursive: true });
  linkNodeModules(dir);
  return new Project(dir);
}

/**
 * Give a project outside the repo a node_modules of links to the repo's, plus `linea` itself
 * (`repo`: the repository or a copy of it, see read-only-cache.test.ts).
 */
export function linkNodeModules(dir: string, repo = REPO): void {
  const modules = join(dir, 'node_modules');
  mkdirSync(modules);
  for (const name of readdirSync(join(repo, 'node_modules'))) {
    if (name.startsWith('@')) {
      mkdirSync(join(modules, name));
      for (const sub of readdirSync(join(repo, 'node_modules', name)))
        symlinkSync(join(repo, 'node_modules', name, sub), join(modules, name, sub));
    } else if (name !== 'linea') {
      symlinkSync(join(repo, 'node_modules', name), join(modules, name));
    }
  }
  symlinkSync(repo, join(modules, 'linea'));
}

export interface Execution {
  instance: string;
  pid: number;
  at: number;
  note?: string;
}

export function parseExecution(line: string): Execution {
  const [instance, pid, at, ...note] = line.split(' ');
  return { instance: instance!, pid: Number(pid), at: Number(at), ...(note.length ? { note: note.join(' ') } : {}) };
}

export interface RunJson {
  stages: { id: string; stage: string; key: string | null; status: 'ran' | 'cached' | 'failed'; seconds: number }[];
  /** Where stages that publish copied their files. */
  published: { instance: string; dir: string }[];
}

export interface StatusJson {
  stages: {
    id: string;
    stage: string;
    key: string | null;
    state: 'cached' | 'stale' | 'missing' | 'blocked';
    reasons: { kind: string; field: string; from?: unknown; to?: unknown; instance?: string; message: string }[];
    /** Who computes it right now: `slurm job 123`, `pid 42 on node1`. */
    running?: string;
  }[];
}

export function statuses(run: RunJson): Record<string, string> {
  return Object.fromEntries(run.stages.map((s) => [s.id, s.status]));
}

export function states(status: StatusJson): Record<string, string> {
  return Object.fromEntries(status.stages.map((s) => [s.id, s.state]));
}

/** Poll `condition` every 100 ms until it holds, or fail after `seconds` naming `what` was awaited. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, seconds = 60): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A maker of fresh fixture projects for one describe block; each is removed after the block. */
export function freshProjects(fixture = 'toy'): () => Project {
  const made: Project[] = [];
  after(() => {
    for (const p of made) p.remove();
  });
  return () => {
    const project = makeProject(fixture);
    made.push(project);
    return project;
  };
}

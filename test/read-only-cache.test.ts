// A cache this user can only read (a shared or archived store, inspected by another user): status,
// log and verify work; run says the cache is not writable and exits 2. Runs the CLI as `nobody`,
// since root ignores file permissions. Where `nobody` cannot enter the clone (under /root, or a
// mktemp -d directory), the CLI runs from a copy of what it needs (hard links where possible).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { linkNodeModules, makeProject, REPO, type Project } from './helpers/project.ts';
import { viewUrl } from './helpers/view.ts';

const asRoot = process.getuid?.() === 0;
const nobody = (() => {
  if (!asRoot) return undefined;
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return { uid: 65534, gid: 65534 };
  } catch {
    return undefined;
  }
})();

const asUser = (user: { uid: number; gid: number }, command: string[]) => [
  '--reuid',
  String(user.uid),
  '--regid',
  String(user.gid),
  '--clear-groups',
  ...command,
];

/** The repository, or a copy `nobody` can read when the clone sits where it cannot enter. */
function readableRepo(user: { uid: number; gid: number }): { dir: string; copy: boolean } {
  const probe = spawnSync('setpriv', asUser(user, ['test', '-r', join(REPO, 'bin', 'linea.js')]));
  if (probe.status === 0) return { dir: REPO, copy: false };
  const dir = mkdtempSync(join(tmpdir(), 'linea-readable-'));
  chmodSync(dir, 0o755);
  const parts = ['bin', 'src', 'package.json', 'node_modules'].map((p) => join(REPO, p));
  // Hard links cost nothing on one filesystem; a copy otherwise.
  if (spawnSync('cp', ['-al', ...parts, dir]).status !== 0) execFileSync('cp', ['-a', ...parts, dir]);
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  return { dir, copy: true };
}

describe('a read-only cache', {
  skip: nobody ? false : 'needs root and setpriv to run the CLI as another user',
}, () => {
  let project: Project;
  let repo: { dir: string; copy: boolean };
  before(async () => {
    repo = readableRepo(nobody!);
    project = makeProject();
    if (repo.copy) {
      rmSync(join(project.dir, 'node_modules'), { recursive: true, force: true });
      linkNodeModules(project.dir, repo.dir);
    }
    // The same copy of the engine as the stages import (two copies would not know each other's stages).
    execFileSync(process.execPath, [join(repo.dir, 'bin', 'linea.js'), 'run', '--json'], {
      cwd: project.dir,
      env: { ...process.env, CI: 'true' },
      stdio: 'ignore',
    });
    // Readable by everyone, writable only by root (its owner).
    execFileSync('chmod', ['-R', 'a+rX,go-w', project.dir]);
    chmodSync(project.dir, 0o755);
  });
  after(() => {
    project.remove();
    if (repo.copy) rmSync(repo.dir, { recursive: true, force: true });
  });

  const asNobody = (args: string[]) =>
    spawnSync('setpriv', asUser(nobody!, [process.execPath, join(repo.dir, 'bin', 'linea.js'), ...args]), {
      cwd: project.dir,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true', HOME: '/tmp' },
    });

  it('status, log and verify work', () => {
    const status = asNobody(['status', '--json']);
    assert.equal(status.status, 0, status.stderr);
    const stages = (JSON.parse(status.stdout) as { stages: { state: string }[] }).stages;
    assert.ok(
      stages.every((s) => s.state === 'cached'),
      status.stdout,
    );
    const log = asNobody(['log', 'source']);
    assert.equal(log.status, 0, log.stderr);
    const verify = asNobody(['verify']);
    assert.equal(verify.status, 0, verify.stderr + verify.stdout);
    assert.match(verify.stdout, /all intact/);
  });

  it('linea view serves the plan of a cache it cannot write', async () => {
    const view = spawn(
      'setpriv',
      asUser(nobody!, [process.execPath, join(repo.dir, 'bin', 'linea.js'), 'view', '--port', '0']),
      {
        cwd: project.dir,
        env: { ...process.env, CI: 'true', HOME: '/tmp' },
      },
    );
    try {
      const url = await viewUrl(view);
      const plan = (await (await fetch(new URL('api/plan', url))).json()) as { instances: { state: string }[] };
      assert.ok(plan.instances.length > 0 && plan.instances.every((i) => i.state === 'cached'));
    } finally {
      view.kill('SIGINT');
    }
  });

  it('run says the cache is not writable and exits 2', () => {
    const run = asNobody(['run', '--set', 'source.n=9']);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /cache .* is not writable by this user/);
    assert.doesNotMatch(run.stderr, /internal error|SQLITE/);
  });
});

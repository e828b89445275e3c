// A cache this user can only read (a shared or archived store, inspected by another user): status,
// log and verify work; run says the cache is not writable and exits 2. Runs the CLI as `nobody`,
// since root ignores file permissions.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import { makeProject, REPO, type Project, type RunJson } from './helpers/project.ts';

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

describe('a read-only cache', {
  skip: nobody ? false : 'needs root and setpriv to run the CLI as another user',
}, () => {
  let project: Project;
  before(async () => {
    project = makeProject();
    await project.json<RunJson>(['run']);
    // Readable by everyone, writable only by root (its owner).
    execFileSync('chmod', ['-R', 'a+rX,go-w', project.dir]);
    chmodSync(project.dir, 0o755);
  });
  after(() => project.remove());

  const asNobody = (args: string[]) =>
    spawnSync(
      'setpriv',
      [
        '--reuid',
        String(nobody!.uid),
        '--regid',
        String(nobody!.gid),
        '--clear-groups',
        process.execPath,
        join(REPO, 'bin', 'linea.js'),
        ...args,
      ],
      {
        cwd: project.dir,
        encoding: 'utf8',
        env: { ...process.env, CI: 'true', HOME: '/tmp' },
      },
    );

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

  it('run says the cache is not writable and exits 2', () => {
    const run = asNobody(['run', '--set', 'source.n=9']);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /cache .* is not writable by this user/);
    assert.doesNotMatch(run.stderr, /internal error|SQLITE/);
  });
});

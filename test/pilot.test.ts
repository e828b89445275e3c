// A pilot job's side of the hand-over (src/engine/execute/pilot.ts), driven in process against a
// temp directory: what a Slurm pilot does between tasks, without Slurm. test/cluster.test.ts runs
// pilots as real jobs.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { assign, isAssigned, keep, newPilotDir, readPilotFile, serve, stop } from '../src/engine/execute/pilot.ts';

const root = mkdtempSync(join(tmpdir(), 'linea-pilot-'));
after(() => rmSync(root, { recursive: true, force: true }));

let made = 0;
/** A cache with a pilot directory in it, and task directories to hand over. */
async function setup(idleSeconds: number, keepMs = 60_000) {
  const cache = join(root, `cache-${made++}`);
  const pilot = await newPilotDir(cache, idleSeconds, keepMs);
  const task = (name: string) => {
    const dir = join(cache, 'jobs', name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  return { pilot, task };
}

describe('a pilot', () => {
  it('runs the tasks handed to it, one at a time, and leaves after its idle time; a later hand-over is refused', async () => {
    const { pilot, task } = await setup(0.3);
    const ran: string[] = [];
    const a = task('a');
    const b = task('b');
    assert.equal(await assign(pilot, a), true);
    let running = 0;
    const served = serve(pilot, await readPilotFile(pilot), async (dir) => {
      running++;
      assert.equal(running, 1, 'one task at a time');
      // The assignment stays until the task is done: a rerun's driver sees it handed over.
      assert.equal(await isAssigned(pilot, dir), true);
      ran.push(dir);
      if (dir === a) assert.equal(await assign(pilot, b), true);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
    });
    await served;
    assert.deepEqual(ran, [a, b]);
    assert.equal(await isAssigned(pilot, a), false, 'a task done is no longer assigned');
    assert.equal(await assign(pilot, task('c')), false, 'a pilot that left takes no task');
    assert.equal(existsSync(pilot), false, 'its directory goes with it (the tasks keep their own)');
  });

  it('leaves when told to stop, after the task it has', async () => {
    const { pilot, task } = await setup(600);
    const ran: string[] = [];
    const a = task('a');
    await assign(pilot, a);
    await serve(pilot, await readPilotFile(pilot), async (dir) => {
      ran.push(dir);
      await stop(pilot);
    });
    assert.deepEqual(ran, [a]);
    assert.equal(await assign(pilot, task('b')), false);
  });

  it('leaves once its driver stops keeping it, though its idle time is long', async () => {
    const { pilot } = await setup(600, 300);
    // Kept a while: it stays.
    const keeping = setInterval(() => void keep(pilot), 50);
    let left = false;
    const served = serve(pilot, await readPilotFile(pilot), async () => undefined).then(() => {
      left = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    clearInterval(keeping);
    assert.equal(left, false, 'a pilot its driver keeps stays for more work');
    // The driver died: nothing touches the keep file any more.
    await served;
    assert.equal(await assign(pilot, join(pilot, 'x')), false);
  });

  it('leaves at once when its directory is taken away (its driver tidied it up)', async () => {
    const { pilot } = await setup(600);
    const served = serve(pilot, await readPilotFile(pilot), async () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    rmSync(pilot, { recursive: true, force: true });
    await served;
    assert.equal(existsSync(pilot), false);
  });

  it('an old keep file (the clock of another node) is not read as a dead driver until it stops moving', async () => {
    const { pilot } = await setup(0.5, 60_000);
    // The keep file's time is far in the past by this node's clock: only its not moving counts.
    utimesSync(join(pilot, 'keep'), new Date(0), new Date(0));
    const started = Date.now();
    await serve(pilot, await readPilotFile(pilot), async () => undefined);
    assert.ok(Date.now() - started >= 400, 'it waited out its idle time rather than leaving at once');
  });
});

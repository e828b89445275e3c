// `--jobs N` in worker processes: each worker's native kernels get a share of the CPUs
// (OMP_NUM_THREADS), not a thread per core each. On the 2-core dev machine two workers running
// two threads each took 2.7x the in-process time over the default pipeline's linearity stage.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { after, describe, it } from 'node:test';
import { makeProject, parseExecution, type Project } from './helpers/project.ts';

describe('a pool of workers', () => {
  const projects: Project[] = [];
  after(() => {
    for (const p of projects) p.remove();
  });
  const threadsSeen = async (env: Record<string, string>) => {
    const project = makeProject();
    projects.push(project);
    const run = await project.linea(
      ['run', '--pipeline', 'threads.pipeline.ts', '--executor', 'pool', '--jobs', '2'],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    return project
      .executions()
      .map(parseExecution)
      .find((e) => e.instance === 'threads-echo')!.note;
  };

  it("gives each worker its share of the machine's CPUs", async () => {
    assert.equal(await threadsSeen({}), `threads=${Math.max(1, Math.floor(availableParallelism() / 2))}`);
  });

  it('leaves a share the user chose alone', async () => {
    assert.equal(await threadsSeen({ OMP_NUM_THREADS: '3' }), 'threads=3');
  });
});

// `linea ablate` driven through its real prompts in a pseudo-terminal (tmux): pick an axis and
// values, see the grid, confirm, and exactly those variants run; Ctrl-C at the confirmation runs
// nothing; the flag form needs no terminal.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { makeProject, REPO, type Project } from './helpers/project.ts';

const tmux = (...args: string[]) => execa('tmux', args, { reject: false });

/** An interactive session of `linea ablate` in a detached tmux window. */
class Terminal {
  private readonly name = `linea-ablate-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(private readonly project: Project) {}

  async start(args: string[]): Promise<void> {
    const exitFile = join(this.project.dir, 'exit-code');
    // CI must be unset: @clack/prompts turns prompts off under CI.
    const command = `env -u CI LINEA_TEST_LOG=${this.project.logFile} ${process.execPath} ${join(REPO, 'bin', 'linea.js')} ${args.join(' ')}; echo $? > ${exitFile}; sleep 60`;
    const started = await tmux(
      'new-session',
      '-d',
      '-s',
      this.name,
      '-x',
      '200',
      '-y',
      '60',
      '-c',
      this.project.dir,
      command,
    );
    assert.equal(started.exitCode, 0, `tmux could not start: ${started.stderr}`);
  }

  async screen(): Promise<string> {
    return String((await tmux('capture-pane', '-p', '-t', this.name)).stdout);
  }

  async waitFor(text: string, timeoutMs = 30_000): Promise<string> {
    for (let waited = 0; waited < timeoutMs; waited += 100) {
      const screen = await this.screen();
      if (screen.includes(text)) return screen;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`'${text}' never appeared; the terminal shows:\n${await this.screen()}`);
  }

  async keys(...keys: string[]): Promise<void> {
    for (const key of keys) {
      await tmux('send-keys', '-t', this.name, key);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  async exitCode(timeoutMs = 60_000): Promise<number> {
    const file = join(this.project.dir, 'exit-code');
    for (let waited = 0; waited < timeoutMs; waited += 100) {
      if (existsSync(file) && readFileSync(file, 'utf8').trim()) return Number(readFileSync(file, 'utf8').trim());
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`linea ablate did not exit; the terminal shows:\n${await this.screen()}`);
  }

  async close(): Promise<void> {
    await tmux('kill-session', '-t', this.name);
  }
}

describe('linea ablate', () => {
  let project: Project;
  before(() => {
    project = makeProject();
  });
  after(() => project.remove());

  it('runs the axis values picked in the prompts, after showing the grid', async () => {
    const term = new Terminal(project);
    try {
      await term.start(['ablate', '--only', 'double']);
      await term.waitFor('Which axes to vary?');
      await term.keys('Space', 'Enter'); // factor
      await term.waitFor('Values of factor');
      await term.keys('Space', 'Down', 'Space', 'Enter'); // 2 and 3
      const grid = await term.waitFor('Run what is not cached?');
      assert.match(grid, /2 cells: 0 cached, 0 stale, 2 new/);
      await term.keys('Enter');
      assert.equal(await term.exitCode(), 0, await term.screen());
    } finally {
      await term.close();
    }
    assert.deepEqual(project.takeExecutions(), ['double[factor=2]', 'double[factor=3]', 'source']);
  });

  it('Ctrl-C at the confirmation runs nothing', async () => {
    const term = new Terminal(project);
    try {
      await term.start(['ablate', '--only', 'double', '--ablate', 'factor=2,4']);
      await term.waitFor('Which axes to vary?');
      await term.keys('Enter'); // factor is preselected by the flag
      await term.waitFor('Values of factor');
      await term.keys('Enter'); // 2 and 4, preselected
      const grid = await term.waitFor('Run what is not cached?');
      assert.match(grid, /2 cells: 1 cached, 0 stale, 1 new/);
      await term.keys('C-c');
      assert.equal(await term.exitCode(), 130);
    } finally {
      await term.close();
    }
    assert.deepEqual(project.takeExecutions(), []);
  });

  it('the flag form runs without a terminal and prints the grid first', async () => {
    const result = await project.linea(['ablate', '--only', 'double', '--ablate', 'factor=2,4', '--yes']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /factor\s+state\s+to run/);
    assert.match(result.stdout, /2 cells: 1 cached, 0 stale, 1 new/);
    assert.deepEqual(project.takeExecutions(), ['double[factor=4]']);
    const refused = await project.linea(['ablate', '--only', 'double']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /needs a terminal.*--ablate <axis>=<v1>,<v2> … --yes/);
  });

  it('axes that only meet at a gathering stage get a grid each, with the total at the end', async () => {
    const groups = makeProject();
    try {
      const term = new Terminal(groups);
      try {
        await term.start(['ablate', '--pipeline', 'groups.pipeline.ts']);
        await term.waitFor('Which axes to vary?');
        await term.keys('Space', 'Down', 'Space', 'Enter'); // factor and pause
        await term.waitFor('Values of factor');
        await term.keys('Space', 'Down', 'Space', 'Enter'); // 2 and 3
        await term.waitFor('Values of pause');
        await term.keys('Space', 'Down', 'Space', 'Down', 'Space', 'Enter'); // 0, 1 and 2
        const screen = await term.waitFor('Run what is not cached?');
        assert.match(screen, /factor\s+\(reach double\)/);
        assert.match(screen, /pause\s+\(reach square\)/);
        assert.match(screen, /2 cells: 0 cached, 0 stale, 2 new/, 'factor: 2 rows, not 2 × 3');
        assert.match(screen, /3 cells: 0 cached, 0 stale, 3 new/, 'pause: 3 rows');
        assert.doesNotMatch(screen, /6 cells/);
        assert.match(screen, /shared by every cell: 1 of 1 instances to run/);
        assert.match(screen, /gathering: tally will run \(missing\)/);
        assert.match(screen, /total: 7 of 7 instances to run/);
        await term.keys('Enter');
        assert.equal(await term.exitCode(), 0, await term.screen());
      } finally {
        await term.close();
      }
      assert.equal(groups.takeExecutions().length, 7);
    } finally {
      groups.remove();
    }
  });

  it('axes that meet at a stage share one grid of their product; a later run shows cached rows', async () => {
    const groups = makeProject();
    try {
      const args = ['ablate', '--pipeline', 'groups.pipeline.ts', '--ablate', 'size=2,3', '--ablate', 'factor=2,3'];
      const dry = await groups.linea([...args, '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /4 cells: 0 cached, 0 stale, 4 new/);
      assert.deepEqual(groups.takeExecutions(), [], '--dry-run runs nothing');
      const first = await groups.linea([...args, '--yes']);
      assert.equal(first.code, 0, first.stderr);
      // size reaches source and so double: size and factor meet there, one grid of 2 × 2.
      assert.match(first.stdout, /size × factor\s+\(reach source, double(, square)?\)/);
      assert.match(first.stdout, /4 cells: 0 cached, 0 stale, 4 new/);
      const again = await groups.linea([...args, '--ablate', 'factor=4', '--yes']);
      assert.match(again.stdout, /6 cells: 4 cached, 0 stale, 2 new/);
      assert.match(again.stdout, /gathering: tally\[size=2\]|gathering: tally will run/);
    } finally {
      groups.remove();
    }
  });
});

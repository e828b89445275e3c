// Builds the oneDNN addon at `npm ci` when the library and a compiler are there. It never fails the
// install: without them linea falls back to wasm, and build/status.json says why, for the backend
// selection log. Rebuilds only when the sources changed (or the last build failed).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'onednn');
const statusFile = join(dir, 'build', 'status.json');
const sources = ['binding.gyp', 'src/addon.cc', 'src/common.h', 'src/cnn_step.cc'].map((f) =>
  readFileSync(join(dir, f)),
);
const digest = createHash('sha256').update(Buffer.concat(sources)).update(process.version).digest('hex');

function finish(ok, reason) {
  mkdirSync(dirname(statusFile), { recursive: true });
  writeFileSync(statusFile, JSON.stringify({ ok, reason, digest }, null, 1) + '\n');
  console.log(`linea: native oneDNN backend ${ok ? 'built' : `not built (${reason})`}`);
}

const previous = existsSync(statusFile) ? JSON.parse(readFileSync(statusFile, 'utf8')) : undefined;
if (process.env.LINEA_NATIVE === '0') {
  finish(false, 'LINEA_NATIVE=0 at install');
} else if (
  previous?.ok &&
  previous.digest === digest &&
  existsSync(join(dir, 'build', 'Release', 'linea_onednn.node'))
) {
  console.log('linea: native oneDNN backend up to date');
} else if (
  !(
    process.env.LINEA_DNNL_HEADER
      ? [process.env.LINEA_DNNL_HEADER]
      : ['/usr/include/dnnl.hpp', '/usr/local/include/dnnl.hpp']
  ).some((p) => existsSync(p))
) {
  finish(
    false,
    'oneDNN headers not found; install them with `apt-get install libdnnl-dev` and run `npm run build:native`',
  );
} else {
  // npm hands lifecycle scripts its bundled node-gyp; otherwise find npm's copy beside this node.
  const candidates = [
    process.env.npm_config_node_gyp,
    join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  const gyp = candidates.find((p) => p && existsSync(p));
  const nodedir = process.env.npm_config_nodedir ?? (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
  if (!gyp) {
    finish(false, 'node-gyp not found (it ships with npm)');
  } else {
    const args = [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
    const run = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
    if (run.status === 0) finish(true, '');
    else {
      const output = `${run.stdout}\n${run.stderr}`;
      const line =
        output.split('\n').find((l) => /error/i.test(l) && !/gyp ERR!/.test(l)) ??
        output.split('\n').find((l) => /gyp ERR!/.test(l)) ??
        `node-gyp exited ${run.status}`;
      finish(false, `compiling the addon failed: ${line.trim()}`);
    }
  }
}

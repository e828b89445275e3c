#!/usr/bin/env -S node --single-threaded-gc
// --single-threaded-gc: V8's helper GC threads otherwise compete with the native backend's
// OpenMP threads for the same cores; measured ≈ 15 % faster training steps on 2 cores.
// The `linea` command: TypeScript pipelines and stages are loaded through tsx, so users write
// pipeline.ts and run it with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/engine/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

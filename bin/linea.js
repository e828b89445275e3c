#!/usr/bin/env node
// The `linea` command: TypeScript pipelines and stages are loaded through tsx, so users write
// pipeline.ts and run it with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/engine/cli.ts');
process.exitCode = await main(process.argv.slice(2));

#!/usr/bin/env -S node --single-threaded-gc
// The `linea` command of the linea-engine package: the engine is compiled JavaScript; the user's
// pipeline.ts and stages are loaded through tsx when they are first imported (typescript.js).
// --single-threaded-gc: V8's helper GC threads would compete with a native backend's threads.
const { main } = await import('../dist/engine/cli/main.js');
process.exitCode = await main(process.argv.slice(2));

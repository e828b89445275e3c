/**
 * The command line's options, shared by every command. Kept apart from the commands' modules so
 * that reading them costs nothing: a replayed no-op (schedule/settled.ts) parses them and
 * imports nothing else of the engine's.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export const OPTIONS = {
  pipeline: { type: 'string' },
  'cache-dir': { type: 'string' },
  index: { type: 'string' },
  preset: { type: 'string' },
  set: { type: 'string', multiple: true },
  ablate: { type: 'string', multiple: true },
  only: { type: 'string', multiple: true },
  resources: { type: 'string', multiple: true },
  jobs: { type: 'string', short: 'j' },
  executor: { type: 'string' },
  'max-queued': { type: 'string' },
  group: { type: 'string' },
  'local-below': { type: 'string' },
  task: { type: 'string', multiple: true },
  pilot: { type: 'string' },
  'pilot-idle': { type: 'string' },
  'pilot-ramp': { type: 'string' },
  backend: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  format: { type: 'string' },
  'max-size': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'verify-inputs': { type: 'boolean' },
  repair: { type: 'boolean' },
  'all-projects': { type: 'boolean' },
  grace: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  port: { type: 'string' },
  host: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

export type Flags = ReturnType<typeof parseFlags>['values'];

export function parseFlags(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

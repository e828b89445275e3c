/**
 * The command line's selection flags (--preset, --set, --ablate, --only, --resources) read into one
 * typed `Selection`, here and nowhere else: expansion (define/instances.ts) only consumes it, so
 * a flag's spelling, its error message and its meaning live in one file.
 */
import { LineaError } from '../core/errors.ts';
import { parseCliValue, type Json } from '../core/json.ts';
import type { Selection } from '../define/instances.ts';
import type { Resources } from '../define/stage.ts';

/** The flags as node's parseArgs returns them. */
export interface SelectionFlags {
  readonly preset?: string | undefined;
  readonly set?: readonly string[] | undefined;
  readonly ablate?: readonly string[] | undefined;
  readonly only?: readonly string[] | undefined;
  readonly resources?: readonly string[] | undefined;
}

export function selectionFrom(flags: SelectionFlags): Selection {
  const ablate: Record<string, string[]> = {};
  for (const flag of flags.ablate ?? []) {
    const [axis, values] = parseAblateFlag(flag);
    ablate[axis] = [...(ablate[axis] ?? []), ...values];
  }
  const set: Record<string, Json> = {};
  for (const flag of flags.set ?? []) {
    const [path, value] = parseSetFlag(flag);
    set[path] = value;
  }
  const resources: Record<string, Resources> = {};
  for (const flag of flags.resources ?? []) {
    const [node, field, value] = parseResourcesFlag(flag);
    resources[node] = { ...resources[node], [field]: value };
  }
  return {
    ...(flags.preset ? { preset: flags.preset } : {}),
    set,
    ablate,
    ...(flags.only ? { only: [...flags.only] } : {}),
    ...(Object.keys(resources).length ? { resources } : {}),
  };
}

/** Parse `train.cpus=4` (the --resources flag) into node → field → value. */
export function parseResourcesFlag(flag: string): [string, keyof Resources, number | string | boolean] {
  const match = /^([A-Za-z][\w-]*)\.(cpus|memory|gpus|time|local)=(.+)$/.exec(flag);
  if (!match) {
    throw new LineaError(
      `--resources ${flag}: expected <stage>.<cpus|memory|gpus|time|local>=<value>, e.g. --resources pretrain.gpus=1`,
      'usage',
    );
  }
  const [, node = '', name = '', value = ''] = match;
  const field = name as 'cpus' | 'memory' | 'gpus' | 'time' | 'local';
  if ((field === 'cpus' || field === 'gpus') && !/^\d+$/.test(value)) {
    throw new LineaError(`--resources ${flag}: ${field} must be a whole number`, 'usage');
  }
  if (field === 'local') {
    if (value !== 'true' && value !== 'false')
      throw new LineaError(`--resources ${flag}: local must be true or false`, 'usage');
    return [node, field, value === 'true'];
  }
  return [node, field, field === 'cpus' || field === 'gpus' ? Number(value) : value];
}

/** Parse `omega=1e-4,1e-3` (the --ablate flag); `omega=` turns an axis with defaults off. */
export function parseAblateFlag(flag: string): [string, string[]] {
  const eq = flag.indexOf('=');
  if (eq <= 0) {
    throw new LineaError(
      `--ablate ${flag}: expected <axis>=<value>[,<value>…], e.g. --ablate omega=1e-4,1e-3`,
      'usage',
    );
  }
  return [
    flag.slice(0, eq),
    flag
      .slice(eq + 1)
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

/** Parse `sparsify.omega=0.001` (the --set flag). */
export function parseSetFlag(flag: string): [string, Json] {
  const eq = flag.indexOf('=');
  if (eq <= 0 || !flag.slice(0, eq).includes('.')) {
    throw new LineaError(`--set ${flag}: expected <stage>.<param>=<value>, e.g. --set sparsify.omega=0.001`, 'usage');
  }
  return [flag.slice(0, eq), parseCliValue(flag.slice(eq + 1))];
}

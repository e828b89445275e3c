/**
 * The pipeline: stages wired into a DAG, with named presets and ablation axes. Wiring is typed:
 * `p.add(stage, { data })` only compiles if `data`'s output type fits the stage's `data` input.
 */
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { LineaError } from '../core/errors.ts';
import { canonicalJson, type Json } from '../core/json.ts';
import { orderNodes } from './dag.ts';
import type { AnyStage, InputSpecs, InputValues, Resources, Stage } from './stage.ts';

/** A node of the pipeline, as returned by `p.add`; `T` is its output type. */
export interface Node<out T> {
  readonly id: string;
  /** Phantom: the output type, checked against consumers' inputs at compile time. */
  readonly __output?: T;
}

export type Wiring<I extends InputSpecs> = { [K in keyof I]: Node<InputValues<I>[K]> };

export interface AddOptions<P extends z.ZodType> {
  /** Node id; defaults to the stage name. Needed when one stage appears twice. */
  id?: string;
  /** Param values for this node, over the schema's defaults. */
  params?: Partial<z.input<P>>;
}

export interface PipelineBuilder {
  add<P extends z.ZodType, I extends InputSpecs, O>(
    stage: Stage<P, I, O>,
    ...args: {} extends I ? [inputs?: Wiring<I>, options?: AddOptions<P>] : [inputs: Wiring<I>, options?: AddOptions<P>]
  ): Node<O>;
  /** A forward reference to a node added later (or elsewhere); resolved when the build ends. */
  ref<T>(id: string): Node<T>;
}

export interface NodeSpec {
  readonly id: string;
  readonly stage: AnyStage;
  /** input name → producing node id */
  readonly inputs: Readonly<Record<string, string>>;
  readonly params: Readonly<Record<string, Json>>;
}

/** A value of an ablation axis: its label and the params it sets (`node.param.path` → value). */
export interface AxisValue {
  readonly label: string;
  readonly set: Readonly<Record<string, Json>>;
}

export interface Axis {
  readonly name: string;
  readonly values: readonly AxisValue[];
  /** For single-value-per-param axes: the params a value given on the command line sets. */
  readonly params?: readonly string[];
  /** Labels selected when neither the command line nor a preset picks values for this axis. */
  readonly default?: readonly string[];
  readonly description?: string;
}

export type AxisSpec = Omit<Axis, 'name'>;

/** An axis over one value per param: `axis('sparsify.omega', [1e-4, 1e-3])`. */
export function axis(
  params: string | readonly string[],
  values: readonly Json[],
  options: { default?: readonly Json[]; description?: string } = {},
): AxisSpec {
  const paths = typeof params === 'string' ? [params] : params;
  return {
    params: paths,
    values: values.map((v) => ({ label: labelOf(v), set: Object.fromEntries(paths.map((p) => [p, v])) })),
    ...(options.default ? { default: options.default.map(labelOf) } : {}),
    ...(options.description ? { description: options.description } : {}),
  };
}

/** An axis of named settings: `namedAxis({ early: { 'sparsify.startEpoch': 0 }, late: {...} })`. */
export function namedAxis(
  values: Readonly<Record<string, Readonly<Record<string, Json>>>>,
  options: { default?: readonly string[]; description?: string } = {},
): AxisSpec {
  return {
    values: Object.entries(values).map(([label, set]) => ({ label, set })),
    ...(options.default ? { default: options.default } : {}),
    ...(options.description ? { description: options.description } : {}),
  };
}

export function labelOf(value: Json): string {
  return typeof value === 'string' ? value : canonicalJson(value);
}

/** A preset: param overrides, and optionally which ablation values to run. */
export interface Preset {
  readonly description?: string;
  readonly params?: Readonly<Record<string, Json>>;
  readonly ablate?: Readonly<Record<string, readonly string[]>>;
  /** node id or stage name → resources for this preset (e.g. `{ pretrain: { gpus: 1, time: '2:00:00' } }`). */
  readonly resources?: Readonly<Record<string, Resources>>;
}

export interface PipelineConfig {
  readonly name?: string;
  readonly build: (p: PipelineBuilder) => void;
  readonly presets?: Readonly<Record<string, Preset>>;
  readonly axes?: Readonly<Record<string, AxisSpec>>;
  /** The executor `linea run` uses unless --executor or $LINEA_EXECUTOR says otherwise (executors.ts). */
  readonly executor?: string;
}

export interface Pipeline {
  readonly kind: 'linea-pipeline';
  /**
   * The engine sources that defined it (this module's folder): a command run by another copy of
   * the engine (another project's bin) cannot know its stages, and says so (commands/context.ts).
   */
  readonly engine: string;
  readonly name: string;
  /** In topological order. */
  readonly nodes: readonly NodeSpec[];
  readonly presets: Readonly<Record<string, Preset>>;
  readonly axes: readonly Axis[];
  readonly executor?: string;
}

export function definePipeline(config: PipelineConfig): Pipeline {
  const nodes = new Map<string, NodeSpec>();
  const builder: PipelineBuilder = {
    add(stage, ...args) {
      const [wiring, options] = args as [Record<string, Node<unknown>> | undefined, AddOptions<z.ZodType> | undefined];
      const id = options?.id ?? stage.name;
      if (!/^[a-z][a-z0-9-]*$/i.test(id)) {
        throw new LineaError(`node id ${JSON.stringify(id)} is invalid: use letters, digits and '-'`, 'config');
      }
      if (nodes.has(id)) {
        throw new LineaError(
          `node '${id}' is added twice; give the second one its own id: p.add(${stage.name}, inputs, { id: '${id}-2' })`,
          'config',
        );
      }
      const declared = Object.keys(stage.inputs);
      const given = Object.keys(wiring ?? {});
      const missing = declared.filter((name) => !given.includes(name));
      const extra = given.filter((name) => !declared.includes(name));
      if (missing.length || extra.length) {
        throw new LineaError(
          `node '${id}' (stage ${stage.name}): ` +
            [
              missing.length ? `inputs not wired: ${missing.join(', ')}` : '',
              extra.length ? `unknown inputs: ${extra.join(', ')}` : '',
            ]
              .filter(Boolean)
              .join('; ') +
            `; the stage declares ${declared.length ? declared.join(', ') : 'no inputs'}`,
          'config',
        );
      }
      const inputs = Object.fromEntries(given.map((name) => [name, wiring![name]!.id]));
      nodes.set(id, { id, stage, inputs, params: (options?.params ?? {}) as Record<string, Json> });
      return { id };
    },
    ref(id) {
      return { id };
    },
  };
  config.build(builder);

  for (const node of nodes.values()) {
    for (const [name, from] of Object.entries(node.inputs)) {
      if (!nodes.has(from)) {
        throw new LineaError(
          `node '${node.id}' input '${name}' refers to '${from}', which is never added to the pipeline`,
          'config',
        );
      }
    }
  }
  const ordering = orderNodes([...nodes.values()]);
  if (!ordering.ok) {
    throw new LineaError(
      `the pipeline has a cycle: ${ordering.cycle.join(' → ')}; a stage cannot depend on its own output`,
      'cycle',
    );
  }
  const order = ordering.order;
  const axes = Object.entries(config.axes ?? {}).map(([name, spec]) => ({ name, ...spec }));
  for (const a of axes) {
    for (const label of a.default ?? []) {
      if (!a.values.some((v) => v.label === label)) {
        throw new LineaError(
          `axis '${a.name}': default value '${label}' is not one of its values (${a.values.map((v) => v.label).join(', ')})`,
          'config',
        );
      }
    }
  }
  return {
    kind: 'linea-pipeline',
    engine: ENGINE_SOURCES,
    name: config.name ?? 'pipeline',
    nodes: order.map((id) => nodes.get(id)!),
    presets: config.presets ?? {},
    axes,
    ...(config.executor ? { executor: config.executor } : {}),
  };
}

/** Where this copy of the engine is loaded from. */
export const ENGINE_SOURCES = fileURLToPath(new URL('..', import.meta.url));

export function isPipeline(value: unknown): value is Pipeline {
  return typeof value === 'object' && value !== null && (value as Pipeline).kind === 'linea-pipeline';
}

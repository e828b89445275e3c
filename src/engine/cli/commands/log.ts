/**
 * `linea log <stage|instance>`: past runs with their params, inputs (lineage), code, packages and output.
 */
import { LineaError } from '../../core/errors.ts';
import { canonicalJson } from '../../core/json.ts';
import { type Flags, withProject } from './context.ts';

export async function cmdLog(flags: Flags, args: string[]): Promise<number> {
  const [name] = args;
  if (!name) throw new LineaError('usage: linea log <stage|instance>', 'usage');
  return withProject(
    flags,
    async (project) => {
      const all = await project.index.runs();
      // A store may be shared by several projects: show this project's runs unless --all-projects.
      const runs = all
        .filter((r) => flags['all-projects'] || r.project === undefined || r.project === project.id)
        .filter((r) => r.stage === name || r.node === name || r.instance === name)
        .sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
      if (!runs.length) throw new LineaError(`no recorded runs of '${name}'`, 'usage');
      const byKey = new Map(all.map((r) => [r.key, r]));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ runs })}\n`);
        return 0;
      }
      for (const r of runs) {
        const lines = [
          `${r.startedAt}  ${r.instance}  key ${r.key.slice(0, 12)}  ${r.seconds.toFixed(2)}s  on ${r.host}`,
          `  params  ${canonicalJson(r.fingerprint.params)}`,
          ...Object.entries(r.upstream).map(
            ([input, key]) => `  input   ${input} ← ${byKey.get(key)?.instance ?? '(gone)'} ${key.slice(0, 12)}`,
          ),
          `  code    ${Object.keys(r.fingerprint.code).join(', ')}`,
          ...(Object.keys(r.fingerprint.packages).length
            ? [
                `  npm     ${Object.entries(r.fingerprint.packages)
                  .map(([n, v]) => `${n}@${v}`)
                  .join(', ')}`,
              ]
            : []),
          ...(Object.keys(r.fingerprint.env).length ? [`  env     ${canonicalJson(r.fingerprint.env)}`] : []),
          `  output  ${r.digest.slice(0, 12)}`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      return 0;
    },
    { access: 'read' },
  );
}

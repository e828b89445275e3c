/**
 * `linea status`: each stage instance as cached, stale, missing or blocked, and why.
 */
import { describeReason } from '../../key/fingerprint.ts';
import { describePlan, planInstances } from '../../plan/plan.ts';
import { phase } from '../../core/profile.ts';
import { type Flags, withProject } from './context.ts';

export async function cmdStatus(flags: Flags): Promise<number> {
  return withProject(
    flags,
    async (project, instances) => {
      const planned = await phase('lookups and plan', () => planInstances(project, instances));
      if (flags.json) {
        const stages = planned.map((p) => ({
          id: p.id,
          stage: p.stage,
          key: p.key,
          state: p.state,
          reasons: p.reasons.map((r) => ({ ...r, message: describeReason(r) })),
          ...(p.running ? { running: p.running } : {}),
        }));
        process.stdout.write(`${JSON.stringify({ stages })}\n`);
      } else {
        process.stdout.write(`${describePlan(planned)}\n`);
      }
      return 0;
    },
    { access: 'read' },
  );
}

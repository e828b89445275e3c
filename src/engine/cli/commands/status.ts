/**
 * `linea status`: each stage instance as cached, stale, missing or blocked, and why.
 */
import { describeReason } from '../../key/fingerprint.ts';
import { describePlan, planInstances } from '../../plan/plan.ts';
import { phase } from '../../core/profile.ts';
import { type Flags, withProject } from './context.ts';
import { startSettling } from './settling.ts';

/** `argv`: the command's words, under which an all-cached answer is kept for replay (settling.ts). */
export async function cmdStatus(flags: Flags, argv?: readonly string[]): Promise<number> {
  const { settling, end } = startSettling(argv, flags);
  try {
    return await withProject(
      flags,
      async (project, instances, loaded) => {
        const planned = await phase('lookups and plan', () => planInstances(project, instances));
        let output: string;
        if (flags.json) {
          const stages = planned.map((p) => ({
            id: p.id,
            stage: p.stage,
            key: p.key,
            state: p.state,
            reasons: p.reasons.map((r) => ({ ...r, message: describeReason(r) })),
            ...(p.running ? { running: p.running } : {}),
          }));
          output = `${JSON.stringify({ stages })}\n`;
        } else {
          output = `${describePlan(planned)}\n`;
        }
        process.stdout.write(output);
        settling.answered(
          loaded,
          output,
          planned.every((p) => p.state === 'cached' && !p.running),
        );
        return 0;
      },
      { access: 'read' },
    );
  } finally {
    end();
  }
}

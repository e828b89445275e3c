/**
 * A command whose all-cached answer can be replayed (`run`, `status`; schedule/settled.ts):
 * what it reads is observed from before the pipeline loads, and once it has its answer it keeps
 * it, if everything was cached and what it read can be checked later.
 */
import { errorMessage } from '../../core/errors.ts';
import { observeReads } from '../../core/observed-reads.ts';
import { compiledCacheDir } from '../../load/typescript.ts';
import { recordSettled, replayAllowed } from '../../schedule/settled.ts';
import type { Flags, Loaded } from './context.ts';

export interface Settling {
  /** The command's answer, printed; `allCached` says whether it is one to keep. */
  answered(loaded: Loaded, output: string, allCached: boolean): void;
  /** Something runs: this answer will not be a settled one, and what it reads is its stages' business. */
  abandon(): void;
}

/**
 * Observe the command given by `argv` (undefined: a command run from within another, such as
 * `ablate`'s run, which is not replayed). Call the returned function when the command ends.
 */
export function startSettling(
  argv: readonly string[] | undefined,
  flags: Flags,
): { settling: Settling; end: () => void } {
  const observation = argv && !flags['verify-inputs'] && replayAllowed() ? observeReads() : undefined;
  const settling: Settling = {
    answered({ cacheDir, indexUri }, output, allCached) {
      if (!observation || !argv) return;
      const observed = observation.stop();
      if (!allCached) return;
      // An index on a server or in SQLite is read without node:fs: nothing could tell it changed.
      let why: string;
      try {
        why =
          indexUri.protocol === 'file:'
            ? recordSettled(cacheDir, argv, observed, output, [cacheDir, compiledCacheDir() ?? cacheDir])
            : 'the index is not files';
      } catch (error) {
        // A record is an optimisation: a path that cannot be looked at (permissions) means none.
        why = errorMessage(error);
      }
      if (process.env.LINEA_DEBUG)
        process.stderr.write(`linea: settled answer ${why === 'recorded' ? 'recorded' : `not recorded: ${why}`}\n`);
    },
    abandon: () => observation?.stop(),
  };
  return { settling, end: () => observation?.stop() };
}

/**
 * Names for temporary files and directories that no other writer can pick: this process's random
 * nonce, drawn once, then a counter. A random draw per name cost ~10 µs, and a rerun names
 * several things per stage (workspace, record, index entry). Hex only, so the names still match
 * what sweeps of dead writers' leftovers look for (`<pid>-<hex>`).
 */
import { randomBytes } from 'node:crypto';

let nonce: string | undefined;
let counter = 0;

export function uniqueSuffix(): string {
  nonce ??= randomBytes(4).toString('hex');
  return `${nonce}${(counter++).toString(16)}`;
}

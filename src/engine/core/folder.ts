/**
 * A folder's entry names, synchronously, or none where it cannot be read (not made yet, gone).
 * For the small local folders read before every run (tmp/, trash/, the index's .tmp/, leases,
 * the compiled cache), where a trip through the thread pool waits behind whatever else is queued
 * there.
 */
import { readdirSync } from 'node:fs';

export function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Can this process create files in `dir`? (A read-only or foreign cache is used read-only.) */
import { accessSync, constants } from 'node:fs';

export function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

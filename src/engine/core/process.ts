/** Facts about processes on this host, used to tell a live lease or workspace from a dead one. */
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';

export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The kernel's start time of a process (clock ticks since boot, from /proc), so that a pid
 * reused by an unrelated process after a crash is not mistaken for the lease holder.
 * Undefined where /proc is not available; callers then rely on the pid alone.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may contain spaces, so count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * This machine's name as leases and in-use records give it: $LINEA_HOST when set (a test, or a
 * container whose hostname is not unique across the cluster), else the OS host name.
 */
export function hostName(): string {
  return process.env.LINEA_HOST || hostname();
}

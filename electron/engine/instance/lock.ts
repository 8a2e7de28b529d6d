// One supervisor per instance: supervisor.pid holds its pid (pid-lock.ts makes taking it safe
// against any number of racing processes).
import type { InstancePaths } from '../instance.js';
import { acquirePidLock, clearStaleLock, releasePidLock } from '../pid-lock.js';

/** Take the instance's supervisor lock; a lock left by a dead process is taken over (by one taker only). */
export function acquireLock(p: InstancePaths): boolean {
  return acquirePidLock(p.supervisorPid);
}

export function releaseLock(p: InstancePaths): void {
  releasePidLock(p.supervisorPid);
}

/** A lock whose holder is gone, removed (by an inspection that found no supervisor). */
export function clearLockIfStale(p: InstancePaths): void {
  clearStaleLock(p.supervisorPid);
}

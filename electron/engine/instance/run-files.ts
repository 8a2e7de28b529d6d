// The one list of files that live only while something runs, by who makes them. Each is removed
// only by the one that made it or by an inspection that proved its maker gone: a supervisor that
// could not reach a VM (a failed adopt) leaves that VM's files, so `berth status`, `berth stop`
// and the next start still find it.
import fs from 'node:fs';
import type { InstancePaths } from '../instance.js';

export type RunFileOwner = 'vm' | 'agent' | 'control';

const RUN_FILES: Record<RunFileOwner, (p: InstancePaths) => string[]> = {
  /** QEMU's monitor and serial sockets and pid file, and state.json written beside them */
  vm: (p) => [p.qmp, p.qmpDebug, p.serialSock, p.guestSock, p.qemuPid, p.state],
  /** the Docker socket the host agent forwards */
  agent: (p) => [p.docker],
  /** the supervisor's control socket */
  control: (p) => [p.control],
};

export function runFiles(p: InstancePaths, owners: RunFileOwner[]): string[] {
  return owners.flatMap((o) => RUN_FILES[o](p));
}

export function removeRunFiles(p: InstancePaths, owners: RunFileOwner[]): void {
  for (const f of runFiles(p, owners)) fs.rmSync(f, { force: true });
}

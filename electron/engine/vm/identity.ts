// Is this pid our QEMU? A pid file outlives its process, and after a crash and a reboot or a busy
// day the pid may belong to anything. Nothing is signalled or adopted by pid unless its command
// line names this instance's disk and, where the monitor answers, QEMU calls itself by our name.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { InstancePaths } from '../instance.js';
import { isAlive } from '../pid.js';
import { qemuEscape } from '../qemu-args.js';
import type { QmpClient } from '../qmp.js';

/** Runs a program and returns its stdout, or null when it fails. */
export type CommandRunner = (file: string, args: string[]) => string | null;

export interface IdentityOptions {
  platform?: NodeJS.Platform;
  run?: CommandRunner;
}

const runSync: CommandRunner = (file, args) => {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  } catch {
    return null;
  }
};

/** The name the supervisor gives QEMU (`-name`), which QMP `query-name` reports back. */
export function qemuName(p: InstancePaths): string {
  return `berth-${p.name}`;
}

/** The process's command line, arguments separated by spaces; null when it cannot be read. */
export function commandLineOf(pid: number, o: IdentityOptions = {}): string | null {
  if ((o.platform ?? process.platform) === 'linux') {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim() || null;
    } catch {
      return null;
    }
  }
  // macOS has no /proc; ps prints the whole command line (-ww: never cut to a terminal's width).
  return (o.run ?? runSync)('ps', ['-ww', '-o', 'command=', '-p', String(pid)])?.trim() || null;
}

/** Does the command line open `disk` as a drive (`file=<disk>` as one whole option value)? */
export function namesDisk(cmdline: string, disk: string): boolean {
  const needle = `file=${qemuEscape(disk)}`;
  for (let i = cmdline.indexOf(needle); i >= 0; i = cmdline.indexOf(needle, i + 1)) {
    const before = i === 0 ? ' ' : cmdline[i - 1];
    const after = cmdline[i + needle.length];
    if ((before === ' ' || before === ',') && (after === undefined || after === ',' || after === ' ')) return true;
  }
  return false;
}

/** The one identity check for a pid taken from qemu.pid: alive, and running on this instance's disk. */
export function isOurQemu(pid: number | undefined, p: InstancePaths, o: IdentityOptions = {}): pid is number {
  if (!pid || !isAlive(pid)) return false;
  const cmdline = commandLineOf(pid, o);
  return cmdline !== null && namesDisk(cmdline, p.disk);
}

/** The second half, where the monitor answers: QEMU's own name for itself. */
export async function monitorNamesUs(qmp: QmpClient, p: InstancePaths): Promise<{ ok: boolean; name: string | undefined }> {
  const r = await qmp.execute<{ name?: string }>('query-name', undefined, 3000);
  return { ok: r.name === qemuName(p), name: r.name };
}

/** Send `sig` to an adopted or orphaned QEMU only if the pid is still ours (it may have exited and been reused). */
export function signalOurQemu(pid: number, p: InstancePaths, sig: NodeJS.Signals, o: IdentityOptions = {}): boolean {
  if (!isOurQemu(pid, p, o)) return false;
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

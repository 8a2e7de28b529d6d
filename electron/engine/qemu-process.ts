// Spawning QEMU and waiting on it: the process-level half of the supervisor.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { BerthFailure } from './errors.js';
import { QmpClient } from './qmp.js';
import type { QemuCommand } from './qemu-args.js';

export function spawnQemu(cmd: QemuCommand, logFile: string): ChildProcess {
  const out = fs.openSync(logFile, 'a', 0o600);
  fs.writeSync(out, `\n--- ${new Date().toISOString()} ${cmd.binary} ${cmd.args.join(' ')}\n`);
  // detached: QEMU gets its own process group, so a Ctrl-C aimed at `berth start --foreground`
  // reaches the supervisor (which shuts the VM down properly) and not QEMU directly.
  const child = spawn(cmd.binary, cmd.args, { stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  return child;
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed process whose parent died stays a zombie until init reaps it (seconds in a
  // container): kill(0) still succeeds, but it is dead.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS): kill(0) is the answer
  }
}

export function readPid(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Is `pid` a QEMU process (guards against a recycled pid in a stale qemu.pid)? */
export function isQemuPid(pid: number): boolean {
  try {
    return /qemu-system/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    // No /proc (macOS): trust kill(0).
    return isAlive(pid) && process.platform === 'darwin';
  }
}

export async function connectQmp(path: string, deadline: number, isUp: () => boolean): Promise<QmpClient> {
  let last: Error | undefined;
  while (Date.now() < deadline) {
    if (!isUp()) throw new BerthFailure('E_QEMU', 'QEMU exited before its monitor came up', 'See qemu.log in the instance directory.');
    try {
      return await QmpClient.connect(path, 3000);
    } catch (e) {
      last = e as Error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new BerthFailure('E_QEMU', `QEMU's monitor did not come up: ${last?.message ?? 'timeout'}`, 'See qemu.log in the instance directory.');
}

/** Wait until the pid is gone, up to `ms`. */
export async function waitGone(pid: number | undefined, ms: number, child?: ChildProcess): Promise<boolean> {
  if (!pid) return true;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child ? child.exitCode !== null || child.signalCode !== null : !isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return child ? child.exitCode !== null || child.signalCode !== null : !isAlive(pid);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Wait until the serial log contains `marker`, or any output when `marker` is empty. */
export async function waitSerial(file: string, marker: string, deadline: number, stillOk: () => boolean, offset = 0): Promise<boolean> {
  while (Date.now() < deadline) {
    if (!stillOk()) return false;
    try {
      const st = fs.statSync(file);
      if (st.size > offset) {
        if (!marker) return true;
        const fd = fs.openSync(file, 'r');
        try {
          const buf = Buffer.alloc(st.size - offset);
          fs.readSync(fd, buf, 0, buf.length, offset);
          if (buf.toString('latin1').includes(marker)) return true;
        } finally {
          fs.closeSync(fd);
        }
      }
    } catch {
      // not created yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

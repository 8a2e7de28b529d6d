// Spawning QEMU and waiting on it: the process-level half of the supervisor.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { BerthFailure } from './errors.js';
import { isAlive } from './pid.js';
import { QmpClient } from './qmp.js';
import type { QemuCommand } from './qemu-args.js';

/**
 * Start QEMU with umask 077, so everything it creates in the instance directory (the serial log,
 * its sockets, and the saved VM state that the `cat` it forks for a save writes: a full copy of
 * the guest's memory) is readable by the user alone. Through /bin/sh, because Node cannot set a
 * child's umask; `exec` keeps the pid, so the pid we report and signal is QEMU's own.
 */
export function spawnQemu(cmd: QemuCommand, logFile: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const binary = resolveBinary(cmd.binary, env.PATH);
  const out = fs.openSync(logFile, 'a', 0o600);
  fs.writeSync(out, `\n--- ${new Date().toISOString()} ${cmd.binary} ${cmd.args.join(' ')}\n`);
  // detached: QEMU gets its own process group, so a Ctrl-C aimed at `berth start --foreground`
  // reaches the supervisor (which shuts the VM down properly) and not QEMU directly.
  const child = spawn('/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', binary, ...cmd.args], { stdio: ['ignore', out, out], detached: true, env });
  fs.closeSync(out);
  return child;
}

/** The binary as a path (the shell would only say "not found" in qemu.log); throws the same error a failed spawn gave. */
function resolveBinary(binary: string, searchPath: string | undefined): string {
  const candidates = binary.includes('/') ? [binary] : (searchPath ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, binary));
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return c;
    } catch {
      // next
    }
  }
  throw new BerthFailure('E_QEMU', `cannot run ${binary}: not found or not executable`, `Install QEMU (${binary}) or check PATH.`);
}

export { isAlive, readPid } from './pid.js';

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

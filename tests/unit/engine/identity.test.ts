// Nothing is signalled or adopted by pid unless the process is this instance's QEMU: a stale
// qemu.pid holding a recycled pid must not get an unrelated process killed (on macOS, where there
// is no /proc, any live pid used to count as ours).
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { offlineStatus, stopOrphan } from '../../../electron/engine/host.js';
import { instancePaths } from '../../../electron/engine/instance.js';
import type { InstancePaths } from '../../../electron/engine/instance.js';
import { buildQemuCommand } from '../../../electron/engine/qemu-args.js';
import { commandLineOf, isOurQemu, namesDisk, qemuName } from '../../../electron/engine/vm/identity.js';
import type { CommandRunner } from '../../../electron/engine/vm/identity.js';
import { exited, fakeMonitor, qemuLookalike, removeScratch, scratch } from './helpers/stand-ins.js';
import type { FakeMonitor } from './helpers/stand-ins.js';

afterAll(removeScratch);

const PLATFORMS = ['linux', 'darwin'] as const;
const procs: (ChildProcess & { stop?: () => void })[] = [];
const monitors: FakeMonitor[] = [];

function instance(): InstancePaths {
  const home = scratch('berth-id-');
  const p = instancePaths('idt', home);
  fs.mkdirSync(p.dir, { recursive: true });
  return p;
}

/** `ps` as macOS runs it, recording each call. */
function psRunner(calls: string[][]): CommandRunner {
  return (file, args) => {
    calls.push([file, ...args]);
    try {
      return execFileSync(file, args, { encoding: 'utf8' });
    } catch {
      return null;
    }
  };
}

afterEach(async () => {
  for (const m of monitors.splice(0)) await m.close();
  for (const c of procs.splice(0)) {
    if (c.stop) c.stop();
    else c.kill('SIGKILL');
  }
});

describe('QEMU identity', () => {
  for (const platform of PLATFORMS) {
    it(`a stale qemu.pid naming a live unrelated process is not ours, and nothing signals it (${platform})`, async () => {
      const p = instance();
      const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
      procs.push(sleeper);
      fs.writeFileSync(p.qemuPid, String(sleeper.pid));
      fs.writeFileSync(p.qmp, ''); // a stale socket file
      const calls: string[][] = [];
      const o = { platform, run: psRunner(calls) };

      expect(isOurQemu(sleeper.pid, p, o)).toBe(false);
      const st = offlineStatus(p, o);
      expect(st.state).toBe('stopped');
      expect(st.pids.qemu).toBeUndefined();
      expect(await stopOrphan(p, false, o)).toBe('not running');
      expect(await stopOrphan(p, true, o)).toBe('not running');

      expect(sleeper.exitCode).toBeNull();
      expect(sleeper.signalCode).toBeNull();
      process.kill(sleeper.pid!, 0); // still there
      if (platform === 'darwin') expect(calls[0]).toEqual(['ps', '-ww', '-o', 'command=', '-p', String(sleeper.pid)]);
      else expect(calls).toEqual([]);
    });

    it(`a process whose command line opens this instance's disk is ours (${platform})`, () => {
      const p = instance();
      const q = qemuLookalike(p.disk, qemuName(p));
      procs.push(q);
      const o = { platform, run: psRunner([]) };
      expect(commandLineOf(q.pid!, o)).toContain(`file=${p.disk},format=qcow2`);
      expect(isOurQemu(q.pid, p, o)).toBe(true);
      fs.writeFileSync(p.qemuPid, String(q.pid));
      const st = offlineStatus(p, o);
      expect(st.state).toBe('degraded');
      expect(st.pids.qemu).toBe(q.pid);
      // Another instance's VM is not this one's.
      const other = instancePaths('idt2', p.home);
      expect(isOurQemu(q.pid, other, o)).toBe(false);
    });
  }

  it('stop does not signal a lookalike whose monitor answers with another name', async () => {
    const p = instance();
    const q = qemuLookalike(p.disk, 'someone-else');
    procs.push(q);
    fs.writeFileSync(p.qemuPid, String(q.pid));
    monitors.push(await fakeMonitor(p.qmp, (cmd) => (cmd.execute === 'query-name' ? { name: 'someone-else' } : {})));
    expect(await stopOrphan(p, false)).toBe('not running');
    expect(q.exitCode).toBeNull();
    expect(q.signalCode).toBeNull();
  });

  it('stop --force signals our orphaned QEMU once its monitor confirms the name', async () => {
    const p = instance();
    const q = qemuLookalike(p.disk, qemuName(p));
    procs.push(q);
    fs.writeFileSync(p.qemuPid, String(q.pid));
    const mon = await fakeMonitor(p.qmp, (cmd) => (cmd.execute === 'query-name' ? { name: qemuName(p) } : {}));
    monitors.push(mon);
    expect(await stopOrphan(p, true)).toBe('SIGTERM');
    await exited(q);
    expect(q.signalCode).toBe('SIGTERM');
    expect(mon.received).toEqual(['query-name']);
    expect(fs.existsSync(p.qemuPid)).toBe(false);
  });

  it('the check matches the command line the supervisor builds, and only for this disk', () => {
    const disk = '/Users/me/.berth/default/disk.qcow2';
    const files = { kernel: '/k', initrd: '/i', disk, seed: '/s', qmp: '/q', serialSock: '/ss', serialLog: '/sl', pidfile: '/p' };
    const cmd = buildQemuCommand({ host: { os: 'darwin', arch: 'arm64' }, guest: 'aarch64', accel: 'hvf', cpus: 2, memoryGiB: 2, sshPort: 2222, mounts: [], files, name: 'berth-default' });
    // ps prints the arguments joined by spaces; /proc by NULs (read back with spaces).
    const line = [cmd.binary, ...cmd.args].join(' ');
    expect(namesDisk(line, disk)).toBe(true);
    expect(namesDisk(line, '/Users/me/.berth/default/disk.qcow')).toBe(false);
    expect(namesDisk(line, '/me/.berth/default/disk.qcow2')).toBe(false);
    expect(namesDisk(line, '/Users/me/.berth/default2/disk.qcow2')).toBe(false);
    expect(namesDisk('vim /Users/me/.berth/default/disk.qcow2', disk)).toBe(false);
    // A comma in the path is doubled on QEMU's command line.
    const odd = '/tmp/a,b/disk.qcow2';
    const cmd2 = buildQemuCommand({ host: { os: 'linux', arch: 'x64' }, guest: 'x86_64', accel: 'tcg', cpus: 1, memoryGiB: 1, sshPort: 2222, mounts: [], files: { ...files, disk: odd }, name: 'berth-x' });
    expect(namesDisk(cmd2.args.join(' '), odd)).toBe(true);
  });
});

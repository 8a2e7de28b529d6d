// Everything in an instance directory is the user's alone: the saved VM state is a full copy of
// the guest's memory, the serial log shows the console, the keys and sockets open the VM. Run
// under umask 022 (the usual one), as Berth and the QEMU it starts would be.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../electron/engine/atomic.js';
import { defaultSettings, saveSettings } from '../../../electron/engine/config.js';
import { EventLog } from '../../../electron/engine/event-log.js';
import { hostSupervisor } from '../../../electron/engine/host.js';
import { ensureInstanceDir, instancePaths } from '../../../electron/engine/instance.js';
import type { InstancePaths } from '../../../electron/engine/instance.js';
import { spawnQemu } from '../../../electron/engine/qemu-process.js';
import { writeSeed } from '../../../electron/engine/seed.js';
import { ensureSshMaterial, writeSshConfig } from '../../../electron/engine/ssh-keys.js';
import { bumpGeneration } from '../../../electron/engine/suspend/saved-state.js';
import { isOurQemu } from '../../../electron/engine/vm/identity.js';
import { exited, removeScratch, scratch } from './helpers/stand-ins.js';

afterAll(removeScratch);

let oldMask = 0;
beforeEach(() => {
  oldMask = process.umask(0o022);
});
afterEach(() => {
  process.umask(oldMask);
});

function instance(): InstancePaths {
  return instancePaths('modes', scratch('berth-modes-'));
}

/** Every file, socket and directory under `dir`, with its permission bits. */
function listing(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      out.set(path.relative(dir, f), fs.lstatSync(f).mode & 0o777);
      if (e.isDirectory()) walk(f);
    }
  };
  out.set('.', fs.statSync(dir).mode & 0o777);
  walk(dir);
  return out;
}

/**
 * A stand-in for QEMU: writes its serial log and pid file, runs a shell that writes the saved
 * state (as QEMU's `exec:cat > …` migration does), and listens on its monitor socket.
 */
function fakeQemuBinary(dir: string): string {
  const bin = path.join(dir, 'qemu-system-standin');
  fs.writeFileSync(
    bin,
    `#!${process.execPath}
const fs = require('fs'), net = require('net'), cp = require('child_process');
const dir = process.argv[2];
fs.writeFileSync(dir + '/serial.log', 'boot\\n');
fs.writeFileSync(dir + '/qemu.pid', String(process.pid));
cp.execSync('cat > "' + dir + '/saved.vmstate.partial"', { input: 'guest memory' });
net.createServer().listen(dir + '/qmp.sock', () => fs.writeFileSync(dir + '/ready', ''));
setTimeout(() => {}, 30000);
`,
    { mode: 0o755 },
  );
  return bin;
}

describe('file modes in the instance directory', () => {
  it('QEMU started by spawnQemu creates its files 0600 and sockets 0700, keeps its pid, and is still recognised as ours', async () => {
    const p = instance();
    ensureInstanceDir(p);
    const bin = fakeQemuBinary(p.home);
    const child = spawnQemu({ binary: bin, args: [p.dir, '-drive', `if=none,id=root,file=${p.disk},format=qcow2`] }, p.qemuLog);
    try {
      const deadline = Date.now() + 10_000;
      while (!fs.existsSync(path.join(p.dir, 'ready')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // exec: the pid we were given is the stand-in's own, the one it wrote to its pid file.
      expect(fs.readFileSync(p.qemuPid, 'utf8')).toBe(String(child.pid));
      for (const platform of ['linux', 'darwin'] as const) expect(isOurQemu(child.pid, p, { platform })).toBe(true);
      const modes = listing(p.dir);
      for (const f of ['serial.log', 'qemu.pid', 'saved.vmstate.partial', 'ready', 'qemu.log']) expect([f, (modes.get(f) ?? -1).toString(8)]).toEqual([f, '600']);
      expect(['qmp.sock', (modes.get('qmp.sock') ?? -1).toString(8)]).toEqual(['qmp.sock', '700']);
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
  });

  it('every file Berth itself writes there is 0600, every directory 0700', async () => {
    const p = instance();
    const hosted = await hostSupervisor(p); // the lock and the control socket
    expect(hosted).not.toBeNull();
    try {
      saveSettings(p.settings, defaultSettings());
      new EventLog(p.events).append('state', { state: 'starting' });
      const ssh = await ensureSshMaterial(p);
      writeSshConfig(p, ssh, 2222);
      writeSeed(p.seed, { hostname: 'berth', bootId: 'b', authorizedKey: ssh.clientPub, hostKey: ssh.hostKey, hostKeyPub: ssh.hostPub, mounts: [], emulation: false, guestArch: 'x86_64' });
      bumpGeneration(p);
      writeFileAtomic(p.state, '{}');
      const modes = listing(p.dir);
      const expected = ['.', 'berth.yaml', 'events.jsonl', 'seed.env', 'disk.generation', 'state.json', 'supervisor.pid', 'control.sock', 'ssh', 'ssh/id_ed25519', 'ssh/id_ed25519.pub', 'ssh/host_ed25519', 'ssh/host_ed25519.pub', 'ssh/known_hosts', 'ssh/config'];
      expect([...modes.keys()].sort()).toEqual(expect.arrayContaining(expected));
      const loose = [...modes].filter(([f, m]) => m !== (fs.lstatSync(path.join(p.dir, f)).isDirectory() ? 0o700 : 0o600)).map(([f, m]) => `${f} ${m.toString(8)}`);
      expect(loose).toEqual([]);
    } finally {
      await hosted!.close();
    }
  });

  it('files an older Berth left readable by others are closed when the directory is next used', () => {
    const p = instance();
    ensureInstanceDir(p);
    fs.writeFileSync(p.serialLog + '.1', 'old console', { mode: 0o644 });
    fs.writeFileSync(p.savedState, 'old memory', { mode: 0o644 });
    fs.chmodSync(path.join(p.dir, 'ssh'), 0o755);
    ensureInstanceDir(p);
    expect((fs.statSync(p.serialLog + '.1').mode & 0o777).toString(8)).toBe('600');
    expect((fs.statSync(p.savedState).mode & 0o777).toString(8)).toBe('600');
    expect((fs.statSync(path.join(p.dir, 'ssh')).mode & 0o777).toString(8)).toBe('700');
  });
});

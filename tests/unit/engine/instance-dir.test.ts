// The instance directory owns its state files and the one list of run files: what the engine
// writes is what an adopt, the offline status and the bench read back, and an inspection that
// finds nothing running leaves no file of a run behind.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSettings, saveSettings } from '../../../electron/engine/config.js';
import { EventLog } from '../../../electron/engine/event-log.js';
import {
  ensureInstanceDir,
  instancePaths,
  offlineStatus,
  readImageMemo,
  readQemuArgs,
  readVmState,
  removeRunFiles,
  runFiles,
  writeImageMemo,
  writeQemuArgs,
  writeVmState,
} from '../../../electron/engine/instance/index.js';
import type { InstancePaths } from '../../../electron/engine/instance/index.js';
// @ts-expect-error: the bench is plain JavaScript without declarations
import { BenchInstance } from '../../../bench/lib/berth.mjs';
import { removeScratch, scratch } from './helpers/stand-ins.js';

afterAll(removeScratch);

function instance(): InstancePaths {
  const p = instancePaths('dir', scratch('berth-instdir-'));
  ensureInstanceDir(p);
  return p;
}

describe('instance directory', () => {
  it('state.json, image.json and qemu.args.json read back as written; a missing or torn one is null', () => {
    const p = instance();
    expect(readVmState(p)).toBeNull();
    expect(readImageMemo(p)).toBeNull();
    expect(readQemuArgs(p)).toBeNull();
    const st = { pid: 42, sshPort: 2222, bootId: 'b00t', accel: 'tcg' as const, imageDir: '/img', settings: defaultSettings(), qemuVersion: '8.2.2', startedAt: '2026-01-01T00:00:00.000Z' };
    writeVmState(p, st);
    writeImageMemo(p, { dir: '/img', recipeHash: 'abc' });
    writeQemuArgs(p, { binary: '/usr/bin/qemu-system-x86_64', args: ['-m', '2G'] }, 2222);
    expect(readVmState(p)).toEqual(st);
    expect(readImageMemo(p)).toEqual({ dir: '/img', recipeHash: 'abc' });
    expect(readQemuArgs(p)).toEqual({ binary: '/usr/bin/qemu-system-x86_64', args: ['-m', '2G'], sshPort: 2222 });
    expect(path.basename(p.imageMemo)).toBe('image.json');
    fs.writeFileSync(p.state, '{"pid":');
    expect(readVmState(p)).toBeNull();
  });

  it("the bench finds the guest's SSH port in qemu.args.json", () => {
    const p = instance();
    writeQemuArgs(p, { binary: 'qemu', args: ['-netdev', 'user,id=n0,hostfwd=tcp:127.0.0.1:2345-:22'] }, 2345);
    fs.mkdirSync(path.join(p.dir, 'ssh'), { recursive: true });
    fs.writeFileSync(p.sshKey, 'key');
    fs.writeFileSync(p.sshHostKey + '.pub', 'pub');
    const b = new BenchInstance({ home: p.home, name: p.name });
    expect(b.sshParams()).toEqual({ port: 2345, clientKey: 'key', hostPub: 'pub' });
  });

  it('removes only the run files of the owners named', () => {
    const p = instance();
    const all = runFiles(p, ['vm', 'agent', 'control']);
    for (const f of all) fs.writeFileSync(f, '');
    removeRunFiles(p, ['agent']);
    expect(fs.existsSync(p.docker)).toBe(false);
    for (const f of runFiles(p, ['vm', 'control'])) expect(fs.existsSync(f), f).toBe(true);
    removeRunFiles(p, ['vm']);
    expect(all.filter((f) => fs.existsSync(f))).toEqual([p.control]);
  });

  it('with nothing running, the offline status clears every file a crashed run left and says the VM is gone', () => {
    const p = instance();
    saveSettings(p.settings, defaultSettings());
    for (const f of runFiles(p, ['vm', 'agent', 'control'])) fs.writeFileSync(f, '');
    fs.writeFileSync(p.qemuPid, '999999999');
    new EventLog(p.events).append('state', { state: 'running', readyMs: 5 });
    const st = offlineStatus(p);
    expect(st.state).toBe('error');
    expect(st.error).toMatchObject({ code: 'E_QEMU_EXITED', message: expect.stringContaining('the last recorded state was "running"') });
    expect(runFiles(p, ['vm', 'agent', 'control']).filter((f) => fs.existsSync(f))).toEqual([]);
  });
});

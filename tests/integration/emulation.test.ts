// The emulation toggle on a real x86_64 guest (the shared VM: SHARED_VM in harness.ts; this suite
// runs last on it, as it restarts it): aarch64 binaries through qemu-user + binfmt_misc, switched
// live, verified by a self-test, remembered across a restart.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Status } from '../../electron/shared/status.js';
import { foreignImageArchive } from './foreign-image.js';
import { berth, docker, joinSharedVm, leaveSharedVm, sharedInstance } from './harness.js';
import { describeCrossBuild } from './docker-tools.js';

const inst = sharedInstance();
const IMG = 'berth-test/arm64-busybox:1';
const run = (args: string[] = ['uname', '-m']) => docker(inst, ['run', '--rm', '--platform', 'linux/arm64', IMG, ...args]);

beforeAll(async () => {
  await joinSharedVm(inst);
  // The aarch64 busybox the image ships for its self-test becomes our foreign test image.
  const bb = path.join(inst.home, 'busybox-aarch64');
  const cat = await berth(inst, ['shell', '--', 'cat', '/usr/share/berth/selftest/busybox-aarch64'], { encoding: 'buffer' });
  fs.writeFileSync(bb, cat.stdout as unknown as Buffer);
  const load = await docker(inst, ['load', '-i', foreignImageArchive(bb, 'aarch64', IMG)]);
  if (load.exitCode !== 0) throw new Error(`docker load: ${load.stderr}`);
}, 600_000);

afterAll(() => leaveSharedVm(inst), 120_000);

async function status(): Promise<Status> {
  return JSON.parse(String((await berth(inst, ['status', '--json'])).stdout)) as Status;
}
function events(): { ts: string; kind: string; [k: string]: unknown }[] {
  return fs.readFileSync(path.join(inst.dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

describe('x86 emulation toggle (here: aarch64 on an x86_64 guest)', () => {
  it('the test image really is arm64', async () => {
    const r = await docker(inst, ['image', 'inspect', '--format', '{{.Architecture}}', IMG]);
    expect(String(r.stdout).trim()).toBe('arm64');
  });

  it('is off by default, and a foreign container then fails with exec format error', async () => {
    expect((await status()).emulation).toMatchObject({ enabled: false, state: 'disabled', foreignArch: 'aarch64' });
    const r = await run();
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stderr)).toMatch(/exec format error/);
  });

  it('on → registered live, self-test passes with the interpreter version, and the container runs', async () => {
    const on = await berth(inst, ['emulation', 'on']);
    expect(on.exitCode, String(on.stderr)).toBe(0);
    expect(String(on.stdout)).toMatch(/emulation of aarch64: enabled/);
    expect(String(on.stdout)).toMatch(/self-test: passed — ran a aarch64 binary: "aarch64" via qemu-aarch64 version \d+\.\d+/);
    const r = await run();
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout).trim()).toBe('aarch64');
  });

  it('the self-test result is in `berth emulation status` and in the status', async () => {
    const st = await berth(inst, ['emulation', 'status']);
    expect(String(st.stdout)).toMatch(/self-test: passed/);
    const s = await status();
    expect(s.emulation).toMatchObject({ enabled: true, state: 'enabled', selfTest: { ok: true, output: 'aarch64' } });
    expect(s.emulation.selfTest?.interpreter).toMatch(/qemu-aarch64 version/);
  });

  it('QEMU_CPU in the container environment picks the emulated CPU model', async () => {
    const ok = await docker(inst, ['run', '--rm', '--platform', 'linux/arm64', '-e', 'QEMU_CPU=cortex-a53', IMG, 'uname', '-m']);
    expect(ok.exitCode, String(ok.stderr)).toBe(0);
    expect(String(ok.stdout).trim()).toBe('aarch64');
    // Proof that the variable reaches the interpreter: an unknown model makes qemu-user refuse.
    const bad = await docker(inst, ['run', '--rm', '--platform', 'linux/arm64', '-e', 'QEMU_CPU=no-such-cpu', IMG, 'uname', '-m']);
    expect(bad.exitCode).not.toBe(0);
    expect(String(bad.stderr) + String(bad.stdout)).toMatch(/unable to find CPU model/i);
  });

  it('turning it on again when already registered is fine', async () => {
    const again = await berth(inst, ['emulation', 'on']);
    expect(again.exitCode).toBe(0);
    expect(String(again.stdout)).toMatch(/enabled/);
  });

  it('off → the same run fails with exec format error; on again → works', async () => {
    expect((await berth(inst, ['emulation', 'off'])).exitCode).toBe(0);
    const off = await run();
    expect(String(off.stderr)).toMatch(/exec format error/);
    expect((await status()).emulation.state).toBe('disabled');
    expect((await berth(inst, ['emulation', 'on'])).exitCode).toBe(0);
    expect(String((await run()).stdout).trim()).toBe('aarch64');
  });

  it('toggling while a foreign container runs does not crash the VM or the container', async () => {
    const d = await docker(inst, ['run', '-d', '--name', 'spinner', '--platform', 'linux/arm64', IMG, 'sh', '-c', 'while true; do echo tick; sleep 1; done']);
    expect(d.exitCode, String(d.stderr)).toBe(0);
    expect((await berth(inst, ['emulation', 'off'])).exitCode).toBe(0);
    expect((await berth(inst, ['emulation', 'on'])).exitCode).toBe(0);
    await new Promise((r) => setTimeout(r, 2000));
    const ps = await docker(inst, ['inspect', '--format', '{{.State.Running}}', 'spinner']);
    expect(String(ps.stdout).trim()).toBe('true');
    expect((await docker(inst, ['version', '--format', '{{.Server.Version}}'])).exitCode).toBe(0);
    await docker(inst, ['rm', '-f', 'spinner']);
  });

  it('the setting is remembered in berth.yaml and survives berth restart, which is a fresh boot (never a suspend and resume)', async () => {
    expect(fs.readFileSync(path.join(inst.dir, 'berth.yaml'), 'utf8')).toMatch(/emulation:\n\s+enabled: true/);
    expect(fs.readFileSync(path.join(inst.dir, 'berth.yaml'), 'utf8')).toMatch(/^stopMode: suspend$/m); // the default: a plain stop would suspend
    const mark = events().length;
    const t0 = Date.now();
    const r = await berth(inst, ['restart']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).not.toMatch(/resumed/);
    // The events show a shutdown and a boot: no save, no load, the kernel step booted (not "resumed in … ms").
    const since = events().slice(mark);
    const kinds = since.map((e) => e.kind);
    expect(kinds).not.toContain('suspended');
    expect(kinds).not.toContain('resumed');
    expect(since.find((e) => e.kind === 'state' && e.state === 'stopped')).toMatchObject({ how: expect.not.stringMatching(/suspend/) });
    const kernel = since.find((e) => e.kind === 'step' && e.step === 'kernel' && e.state === 'done');
    expect(kernel).toBeDefined();
    expect(String(kernel!.detail ?? '')).not.toMatch(/resumed/);
    // …and the guest agrees: it has been up for less time than the restart took.
    const up = await berth(inst, ['shell', '--', 'cat', '/proc/uptime']);
    expect(Number(String(up.stdout).split(' ')[0]) * 1000).toBeLessThan(Date.now() - t0);
    const s = await status();
    expect(s.emulation).toMatchObject({ enabled: true, state: 'enabled' });
    expect(s.emulation.selfTest?.ok).toBe(true);
    expect(String((await run()).stdout).trim()).toBe('aarch64');
  }, 600_000);
});

// Cross-builds with emulation on (left on by the restart test above): on this suite's VM.
describeCrossBuild(inst, 'x86_64', 'aarch64', () => ({ x86_64: '/bin/busybox', aarch64: path.join(inst.home, 'busybox-aarch64') }));

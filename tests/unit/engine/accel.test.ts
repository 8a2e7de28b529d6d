import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ACCEL_MEMO_TTL_MS,
  accelMemoFile,
  chooseAccel,
  forgetAccelFailures,
  hostOfProcess,
  namesAccelerator,
  noteAccelFailure,
  rememberAccel,
  rememberedAccelFailures,
} from '../../../electron/engine/accel.js';
import { nativeArch } from '../../../electron/engine/host-arch.js';
import { buildQemuCommand } from '../../../electron/engine/qemu-args.js';
import type { QemuHost } from '../../../electron/engine/qemu-args.js';

const MAC: QemuHost = { os: 'darwin', arch: 'arm64' };
const QEMU_9 = 'QEMU emulator version 9.2.2';
const QEMU_10 = 'QEMU emulator version 10.0.0';
const RELEASE = '24.1.0';
const day = 24 * 3600 * 1000;

describe('does QEMU’s output blame the accelerator?', () => {
  const macArgs = buildQemuCommand({
    host: MAC,
    guest: 'aarch64',
    accel: 'hvf',
    cpus: 2,
    memoryGiB: 2,
    sshPort: 2222,
    mounts: [{ tag: 'berth0', location: '/Users/u/kvm-notes', writable: true }],
    files: { kernel: '/k', initrd: '/i', disk: '/d.qcow2', seed: '/s', qmp: '/q', serialSock: '/ss', serialLog: '/sl', pidfile: '/p' },
    name: 'berth-default',
  }).args;

  it('yes, when QEMU names KVM or HVF', () => {
    expect(namesAccelerator('qemu-system-x86_64: failed to initialize kvm: Permission denied', 'kvm')).toBe(true);
    expect(namesAccelerator('Could not access KVM kernel module: No such file or directory', 'kvm')).toBe(true);
    expect(namesAccelerator('qemu-system-aarch64: -accel hvf: Error: HV_UNSUPPORTED', 'hvf')).toBe(true);
    expect(namesAccelerator('qemu-system-aarch64: Error: HV_ERROR', 'hvf')).toBe(true);
    expect(namesAccelerator('qemu-system-aarch64: hv_vm_create failed', 'hvf')).toBe(true);
    expect(namesAccelerator('qemu-system-aarch64: invalid accelerator hvf', 'hvf')).toBe(true);
  });
  it('no, for failures that would hit TCG just the same', () => {
    expect(namesAccelerator('qemu-system-aarch64: -name berth-default,process=berth-default: Change of process name not supported by your OS', 'hvf', macArgs)).toBe(false);
    expect(namesAccelerator('', 'hvf', macArgs)).toBe(false);
    expect(namesAccelerator('timed out waiting for the QMP socket', 'hvf', macArgs)).toBe(false);
  });
  it('no, when the word is only in what QEMU echoes back from our own command line', () => {
    const badMount = `qemu-system-aarch64: -fsdev local,id=fs0,path=/Users/u/kvm-notes,security_model=none: cannot initialize fsdev 'fs0': failed to open '/Users/u/kvm-notes': Operation not permitted`;
    expect(namesAccelerator(badMount, 'kvm', macArgs)).toBe(false);
    const machine = `qemu-system-aarch64: -machine virt,accel=hvf,gic-version=3,highmem=on: Property 'virt-9.2-machine.foo' not found`;
    expect(namesAccelerator(machine, 'hvf', macArgs)).toBe(false);
  });
});

describe('the accelerator memo', () => {
  let cache: string;
  beforeEach(() => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-accel-'));
  });
  afterEach(() => fs.rmSync(cache, { recursive: true, force: true }));
  const now = new Date('2026-12-01T12:00:00Z');
  const choose = (qemuVersion: string, at = now) => chooseAccel(MAC, 'aarch64', cache, { qemuVersion, env: {}, now: at, osRelease: RELEASE });
  const fail = (qemuVersion: string, at = now) => rememberAccel(cache, { accel: 'hvf', guest: 'aarch64', qemuVersion, osRelease: RELEASE }, false, 'Error: HV_UNSUPPORTED', at);

  const key = { accel: 'hvf' as const, guest: 'aarch64' as const, qemuVersion: QEMU_9, osRelease: RELEASE };
  it('a first-boot failure whose reason does not name the accelerator is not remembered: HVF is probed again', () => {
    const output = 'qemu-system-aarch64: -name berth-default,process=berth-default: Change of process name not supported by your OS';
    expect(noteAccelFailure(cache, key, { output, reason: `QEMU failed to start with hvf: ${output}`, args: ['-name', 'berth-default,process=berth-default'] }, now)).toBe(false);
    expect(noteAccelFailure(cache, key, { output: '', reason: 'QEMU failed to start with hvf: timed out waiting for QMP', args: [] }, now)).toBe(false);
    expect(choose(QEMU_9)).toEqual({ accel: 'hvf', probe: true });
    expect(rememberedAccelFailures(cache, { now, osRelease: RELEASE })).toEqual([]);
  });
  it('one that names it is remembered: the next start goes to TCG', () => {
    const output = 'qemu-system-aarch64: -accel hvf: Error: HV_UNSUPPORTED';
    expect(noteAccelFailure(cache, key, { output, reason: `QEMU failed to start with hvf: ${output}`, args: [] }, now)).toBe(true);
    expect(choose(QEMU_9).accel).toBe('tcg');
  });
  it('a never-seen accelerator is probed', () => {
    expect(choose(QEMU_9)).toEqual({ accel: 'hvf', probe: true });
  });
  it('a remembered failure sends this QEMU to TCG, saying until when and how to retry', () => {
    fail(QEMU_9);
    const c = choose(QEMU_9);
    expect(c.accel).toBe('tcg');
    expect(c.note).toMatch(/HVF unusable here \(Error: HV_UNSUPPORTED\); using TCG until 2026-12-08, or `berth start --retry-accel`/);
  });
  it('an entry for another QEMU version does not apply', () => {
    fail(QEMU_9);
    expect(choose(QEMU_10)).toEqual({ accel: 'hvf', probe: true });
  });
  it('an entry for another host kernel does not apply', () => {
    fail(QEMU_9);
    expect(chooseAccel(MAC, 'aarch64', cache, { qemuVersion: QEMU_9, env: {}, now, osRelease: '25.0.0' })).toEqual({ accel: 'hvf', probe: true });
  });
  it('an expired entry does not apply, and is dropped at the next write', () => {
    fail(QEMU_9, new Date(now.getTime() - ACCEL_MEMO_TTL_MS - 1000));
    expect(choose(QEMU_9)).toEqual({ accel: 'hvf', probe: true });
    expect(rememberedAccelFailures(cache, { now, osRelease: RELEASE })).toEqual([]);
    rememberAccel(cache, { accel: 'hvf', guest: 'aarch64', qemuVersion: QEMU_10, osRelease: RELEASE }, true, 'booted', now);
    expect(Object.keys(JSON.parse(fs.readFileSync(accelMemoFile(cache), 'utf8')))).toEqual([`hvf/aarch64/${RELEASE}/${QEMU_10}`]);
  });
  it('one day before expiry it still applies', () => {
    fail(QEMU_9, new Date(now.getTime() - ACCEL_MEMO_TTL_MS + day));
    expect(choose(QEMU_9).accel).toBe('tcg');
  });
  it('a success means no probe next time (the full start timeout applies)', () => {
    rememberAccel(cache, { accel: 'hvf', guest: 'aarch64', qemuVersion: QEMU_9, osRelease: RELEASE }, true, 'booted', now);
    expect(choose(QEMU_9)).toEqual({ accel: 'hvf', probe: false });
  });
  it('entries of older Berth versions (keyed by kernel only) are ignored', () => {
    fs.writeFileSync(accelMemoFile(cache), JSON.stringify({ [`hvf/aarch64/${RELEASE}`]: { usable: false, reason: 'QEMU failed to start with hvf: Change of process name not supported by your OS', at: now.toISOString() } }));
    expect(choose(QEMU_9)).toEqual({ accel: 'hvf', probe: true });
  });
  it('`berth status` lists what is remembered, with its expiry; --retry-accel forgets it', () => {
    fail(QEMU_9);
    expect(rememberedAccelFailures(cache, { now, osRelease: RELEASE, guest: 'aarch64' })).toEqual([
      { accel: 'hvf', guest: 'aarch64', qemuVersion: QEMU_9, reason: 'Error: HV_UNSUPPORTED', at: now.toISOString(), expires: '2026-12-08T12:00:00.000Z' },
    ]);
    expect(rememberedAccelFailures(cache, { now, osRelease: RELEASE, guest: 'x86_64' })).toEqual([]);
    expect(forgetAccelFailures(cache, now)).toBe(1);
    expect(rememberedAccelFailures(cache, { now, osRelease: RELEASE })).toEqual([]);
    expect(choose(QEMU_9)).toEqual({ accel: 'hvf', probe: true });
    expect(forgetAccelFailures(cache, now)).toBe(0);
  });
  it('BERTH_ACCEL forces one regardless of the memo', () => {
    fail(QEMU_9);
    expect(chooseAccel(MAC, 'aarch64', cache, { qemuVersion: QEMU_9, env: { BERTH_ACCEL: 'hvf' }, now, osRelease: RELEASE })).toMatchObject({ accel: 'hvf', probe: false });
  });
});

describe('the host as the VM sees it', () => {
  it('an x64 Node under Rosetta on Apple Silicon is an arm64 host: aarch64 guest under HVF', () => {
    const sysctl = (key: string) => ({ 'sysctl.proc_translated': '1', 'hw.optional.arm64': '1' })[key];
    const host = hostOfProcess({ platform: 'darwin', arch: 'x64', sysctl });
    expect(host).toEqual({ os: 'darwin', arch: 'arm64' });
    expect(chooseAccel(host, 'aarch64', os.tmpdir(), { qemuVersion: QEMU_9, env: {} }).accel).toBe('hvf');
  });
  it('the hardware answer counts when the sysctl child itself runs natively', () => {
    const sysctl = (key: string) => ({ 'sysctl.proc_translated': '0', 'hw.optional.arm64': '1' })[key];
    expect(nativeArch({ platform: 'darwin', arch: 'x64', sysctl })).toBe('arm64');
  });
  it('an Intel Mac stays x64 (the keys are unknown there)', () => {
    expect(hostOfProcess({ platform: 'darwin', arch: 'x64', sysctl: () => undefined })).toEqual({ os: 'darwin', arch: 'x64' });
  });
  it('Linux is what process.arch says, without asking sysctl', () => {
    expect(hostOfProcess({ platform: 'linux', arch: 'x64', sysctl: () => '1' })).toEqual({ os: 'linux', arch: 'x64' });
  });
});

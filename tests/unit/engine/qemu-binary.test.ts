import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bundledQemuPath,
  compareVersions,
  findQemu,
  hvfCpuModel,
  minimumQemuVersion,
  parseQemuVersion,
  probeHvfHost,
  QemuError,
  searchPath,
} from '../../../electron/engine/qemu-binary.js';
import type { ExecFn } from '../../../electron/engine/qemu-binary.js';

const DEBIAN = `QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u16)
Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers
`;
const HOMEBREW = `QEMU emulator version 9.2.2
Copyright (c) 2003-2024 Fabrice Bellard and the QEMU Project developers
`;

describe('parseQemuVersion / compareVersions', () => {
  it('parses distribution, Homebrew and git builds', () => {
    expect(parseQemuVersion(DEBIAN)).toEqual({ major: 7, minor: 2, micro: 19, text: 'QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u16)' });
    expect(parseQemuVersion(HOMEBREW)).toMatchObject({ major: 9, minor: 2, micro: 2 });
    expect(parseQemuVersion('QEMU emulator version 8.2.1 (v8.2.1-dirty)\n')).toMatchObject({ major: 8, minor: 2, micro: 1 });
    expect(parseQemuVersion('QEMU emulator version 10.0.0\n')).toMatchObject({ major: 10, minor: 0, micro: 0 });
    expect(parseQemuVersion('QEMU emulator version 6.2\n')).toMatchObject({ major: 6, minor: 2, micro: 0 });
    expect(parseQemuVersion('qemu-img version 9.2.2\nCopyright (c) 2003-2024 Fabrice Bellard\n')).toMatchObject({ major: 9 });
    expect(parseQemuVersion('bash: qemu: command not found')).toBeNull();
  });

  it('compares numerically, not as strings', () => {
    expect(compareVersions('10.0.0', '8.2.1')).toBeGreaterThan(0);
    expect(compareVersions('8.2.0', '8.2.1')).toBeLessThan(0);
    expect(compareVersions('8.2.1', '8.2.1')).toBe(0);
    expect(compareVersions({ major: 7, minor: 2, micro: 19 }, '7.2.0')).toBeGreaterThan(0);
    expect(compareVersions({ major: 7, minor: 1, micro: 0 }, '7.2')).toBeLessThan(0);
  });

  it('has the per-host minimum: 8.2.1 on macOS (HVF/edk2), 7.2 on Linux (Debian 12)', () => {
    expect(minimumQemuVersion('darwin').version).toBe('8.2.1');
    expect(minimumQemuVersion('darwin').why).toMatch(/Lima/);
    expect(minimumQemuVersion('linux').version).toBe('7.2.0');
  });
});

describe('findQemu', () => {
  let tmp: string;
  const fake = (dir: string, name: string, output: string, code = 0): string => {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/sh\ncat <<'EOF'\n${output}EOF\nexit ${code}\n`, { mode: 0o755 });
    return file;
  };

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-qemu-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('prefers the bundled QEMU and reports its data dir and qemu-img', async () => {
    const resources = path.join(tmp, 'Resources');
    const bundled = fake(path.join(resources, 'qemu', 'bin'), 'qemu-system-aarch64', HOMEBREW);
    fake(path.join(resources, 'qemu', 'bin'), 'qemu-img', 'qemu-img version 9.2.2\n');
    fs.mkdirSync(path.join(resources, 'qemu', 'share', 'qemu'), { recursive: true });
    fake(path.join(tmp, 'usr-bin'), 'qemu-system-aarch64', HOMEBREW);
    const q = await findQemu({ arch: 'aarch64', resourcesPath: resources, envPath: path.join(tmp, 'usr-bin'), platform: 'darwin', explicit: '' });
    expect(bundledQemuPath(resources, 'aarch64')).toBe(bundled);
    expect(q).toMatchObject({ source: 'bundled', path: bundled, qemuImg: path.join(resources, 'qemu', 'bin', 'qemu-img'), dataDir: path.join(resources, 'qemu', 'share', 'qemu'), notes: [] });
    expect(q.version).toMatchObject({ major: 9, minor: 2, micro: 2 });
  });

  it('falls back to PATH when nothing is bundled (Linux), and finds qemu-img on PATH', async () => {
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    fs.mkdirSync(a);
    const sys = fake(b, 'qemu-system-x86_64', DEBIAN);
    fake(a, 'qemu-img', 'qemu-img version 7.2.19\n');
    const q = await findQemu({ arch: 'x86_64', resourcesPath: path.join(tmp, 'resources'), envPath: [a, b].join(path.delimiter), platform: 'linux', explicit: '' });
    expect(q).toMatchObject({ source: 'path', path: sys, qemuImg: path.join(a, 'qemu-img'), notes: [] });
    expect(q.dataDir).toBeUndefined();
  });

  it('accepts Debian 12’s 7.2 on Linux but refuses it on macOS with an upgrade hint', async () => {
    const bin = path.join(tmp, 'bin');
    fake(bin, 'qemu-system-aarch64', DEBIAN);
    await expect(findQemu({ arch: 'aarch64', envPath: bin, platform: 'linux', explicit: '' })).resolves.toMatchObject({ source: 'path' });
    const err = await findQemu({ arch: 'aarch64', envPath: bin, platform: 'darwin', explicit: '' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QemuError);
    const j = (err as QemuError).toJSON();
    expect(j.code).toBe('E_QEMU');
    expect(j.message).toContain('QEMU 7.2.19 is older than 8.2.1');
    expect(j.hint).toMatch(/brew upgrade qemu/);
  });

  it('skips a too-old QEMU earlier on PATH for a newer one later, noting why', async () => {
    const old = path.join(tmp, 'old');
    const cur = path.join(tmp, 'new');
    fake(old, 'qemu-system-aarch64', 'QEMU emulator version 8.1.5\n');
    const good = fake(cur, 'qemu-system-aarch64', HOMEBREW);
    const q = await findQemu({ arch: 'aarch64', envPath: [old, cur].join(path.delimiter), platform: 'darwin', explicit: '' });
    expect(q.path).toBe(good);
    expect(q.notes).toEqual([`${path.join(old, 'qemu-system-aarch64')}: QEMU 8.1.5 is older than 8.2.1, the minimum on macOS (Lima’s floor: QEMU 8.2.0’s edk2 firmware does not boot under HVF, qemu#1990)`]);
  });

  it('falls back to PATH when the bundled binary does not run, saying so', async () => {
    const resources = path.join(tmp, 'Resources');
    fake(path.join(resources, 'qemu', 'bin'), 'qemu-system-aarch64', 'dyld: Library not loaded: @executable_path/../lib/libglib-2.0.0.dylib\n', 134);
    const good = fake(path.join(tmp, 'brew'), 'qemu-system-aarch64', HOMEBREW);
    const q = await findQemu({ arch: 'aarch64', resourcesPath: resources, envPath: path.join(tmp, 'brew'), platform: 'darwin', explicit: '' });
    expect(q.path).toBe(good);
    expect(q.notes[0]).toMatch(/^bundled .*qemu-system-aarch64: failed to run/);
    expect(q.notes[0]).toMatch(/codesign --verify/);
  });

  it('says where it looked when there is no QEMU at all, with the Debian package to install', async () => {
    const err = (await findQemu({ arch: 'x86_64', resourcesPath: path.join(tmp, 'r'), envPath: path.join(tmp, 'empty'), platform: 'linux', explicit: '' }).catch((e: unknown) => e)) as QemuError;
    expect(err.code).toBe('E_QEMU');
    expect(err.message).toBe(`qemu-system-x86_64 not found (looked in ${path.join(tmp, 'r', 'qemu', 'bin', 'qemu-system-x86_64')} and PATH)`);
    expect(err.hint).toContain('apt-get install qemu-system-x86 qemu-utils');
    const mac = (await findQemu({ arch: 'aarch64', envPath: '', platform: 'darwin', explicit: '' }).catch((e: unknown) => e)) as QemuError;
    expect(mac.hint).toMatch(/reinstall Berth/);
  });

  it('uses BERTH_QEMU first and never replaces it silently', async () => {
    const mine = fake(path.join(tmp, 'mine'), 'qemu-system-x86_64', 'QEMU emulator version 9.0.0\n');
    fake(path.join(tmp, 'bin'), 'qemu-system-x86_64', DEBIAN);
    const q = await findQemu({ arch: 'x86_64', envPath: path.join(tmp, 'bin'), platform: 'linux', explicit: mine });
    expect(q).toMatchObject({ source: 'env', path: mine });
    const bad = fake(path.join(tmp, 'bad'), 'qemu-system-x86_64', 'not qemu\n');
    await expect(findQemu({ arch: 'x86_64', envPath: path.join(tmp, 'bin'), platform: 'linux', explicit: bad })).rejects.toMatchObject({
      code: 'E_QEMU',
      message: expect.stringContaining('not QEMU'),
      hint: 'Fix or unset BERTH_QEMU.',
    });
    await expect(findQemu({ arch: 'x86_64', envPath: path.join(tmp, 'bin'), platform: 'linux', explicit: path.join(tmp, 'nope') })).rejects.toMatchObject({
      message: expect.stringContaining('not found or not executable'),
    });
  });

  it('uses the injected exec', async () => {
    const bin = path.join(tmp, 'bin');
    fake(bin, 'qemu-system-aarch64', 'ignored');
    const calls: string[][] = [];
    const exec: ExecFn = async (file, args) => {
      calls.push([file, ...args]);
      return { stdout: HOMEBREW, stderr: '' };
    };
    const q = await findQemu({ arch: 'aarch64', envPath: bin, platform: 'darwin', exec, explicit: '' });
    expect(q.version.text).toBe('QEMU emulator version 9.2.2');
    expect(calls).toEqual([[path.join(bin, 'qemu-system-aarch64'), '--version']]);
  });

  it('searchPath ignores empty entries, duplicates and non-executables', () => {
    const bin = path.join(tmp, 'bin');
    fake(bin, 'qemu-img', 'x');
    fs.writeFileSync(path.join(tmp, 'qemu-img'), 'not executable', { mode: 0o644 });
    expect(searchPath('qemu-img', ['', tmp, bin, bin].join(path.delimiter))).toEqual([path.join(bin, 'qemu-img')]);
  });
});

describe('HVF CPU model (M4 / SME)', () => {
  it('uses -cpu host normally and -cpu max when the CPU has SME', () => {
    expect(hvfCpuModel({ sme: false })).toBe('host');
    expect(hvfCpuModel({ sme: true })).toBe('max');
  });

  const sysctlExec =
    (values: Record<string, string | Error>): ExecFn =>
    async (file, args) => {
      expect(file).toBe('/usr/sbin/sysctl');
      expect(args[0]).toBe('-n');
      const v = values[args[1]];
      if (v === undefined) throw Object.assign(new Error(`sysctl: unknown oid '${args[1]}'`), { code: 1 });
      if (v instanceof Error) throw v;
      return { stdout: `${v}\n`, stderr: '' };
    };

  it('reads kern.hv_support and hw.optional.arm.FEAT_SME on macOS (M4: max)', async () => {
    const info = await probeHvfHost({ platform: 'darwin', exec: sysctlExec({ 'kern.hv_support': '1', 'hw.optional.arm.FEAT_SME': '1' }) });
    expect(info).toMatchObject({ hvSupport: true, sme: true, cpuModel: 'max' });
    expect(info.notes.join()).toMatch(/SME/);
  });

  it('treats an unknown FEAT_SME key (M1–M3, older macOS) as no SME', async () => {
    const info = await probeHvfHost({ platform: 'darwin', exec: sysctlExec({ 'kern.hv_support': '1' }) });
    expect(info).toEqual({ hvSupport: true, sme: false, cpuModel: 'host', notes: [] });
  });

  it('reports a Mac without Hypervisor.framework support', async () => {
    const info = await probeHvfHost({ platform: 'darwin', exec: sysctlExec({ 'kern.hv_support': '0', 'hw.optional.arm.FEAT_SME': '0' }) });
    expect(info.hvSupport).toBe(false);
    expect(info.notes[0]).toMatch(/kern.hv_support is 0/);
  });

  it('runs nothing off macOS', async () => {
    const exec: ExecFn = async () => {
      throw new Error('must not run');
    };
    await expect(probeHvfHost({ platform: 'linux', exec })).resolves.toEqual({ hvSupport: false, sme: false, cpuModel: 'host', notes: [] });
  });
});

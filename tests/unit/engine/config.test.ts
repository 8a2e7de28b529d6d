import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSettings, loadSettings, parseSettings, resolveMounts, saveSettings } from '../../../electron/engine/config.js';
import type { HostInfo } from '../../../electron/engine/config.js';
import { BerthFailure } from '../../../electron/engine/errors.js';

const host: HostInfo = { platform: 'linux', arch: 'x64', cpus: 8, memoryBytes: 16 * 2 ** 30, home: '/home/u' };
const corpus = path.resolve(import.meta.dirname, '../../fixtures/bad-configs');

// What each broken file must be reported as: the key (or position) named in the message.
const expected: Record<string, RegExp> = {
  'syntax-unclosed.yaml': /:\d+:\d+: YAML syntax error/,
  'syntax-indent.yaml': /:1:7: YAML syntax error: Nested mappings/,
  'wrong-type-cpus.yaml': /cpus \(line 1\): must be a number, got string/,
  'unknown-key.yaml': /cpu \(line 2\): unknown key/,
  'absurd-memory.yaml': /memoryGiB \(line 1\): must be a number from 1 to 256/,
  'zero-cpus.yaml': /cpus \(line 1\): must be a whole number from 1 to 64, got 0/,
  'fractional-cpus.yaml': /cpus \(line 1\): must be a whole number/,
  'tiny-disk.yaml': /diskGiB \(line 1\): must be a whole number from 8/,
  'bad-arch.yaml': /arch \(line 1\): must be x86_64 or aarch64, got "riscv64"/,
  'bad-stopmode.yaml': /stopMode \(line 1\): must be shutdown or suspend/,
  'bad-port.yaml': /ports.ignore\[1\] \(line 2\): must be a port number 1–65535, got 70000/,
  'wrong-type-emulation.yaml': /emulation.enabled \(line 2\): must be true or false/,
  'not-a-mapping.yaml': /must be a mapping of settings/,
  'duplicate-key.yaml': /YAML syntax error: Map keys must be unique/,
  'mounts-not-list.yaml': /mounts \(line 1\): must be a array, got string/,
  'bad-docker.yaml': /docker.context \(line 2\): must be true or false/,
  'binary-garbage.yaml': /YAML syntax error/,
};
const mountErrors: Record<string, RegExp> = {
  'missing-mount.yaml': /mounts\[0\].location: folder \/definitely\/not\/here does not exist/,
  'relative-mount.yaml': /mounts\[0\].location: "relative\/dir" is a relative path/,
  'overlap-mount.yaml': /mounts\[0\] and mounts\[1\] overlap/,
  'reserved-guest-path.yaml': /would hide the VM's own \/etc/,
};

describe('berth.yaml validation: the broken-config corpus', () => {
  const files = fs.readdirSync(corpus).filter((f) => f.endsWith('.yaml'));
  it('covers every file in the corpus', () => {
    expect(files.sort()).toEqual([...Object.keys(expected), ...Object.keys(mountErrors)].sort());
  });
  for (const [file, re] of Object.entries(expected)) {
    it(`${file} → a clear E_CONFIG error`, () => {
      const text = fs.readFileSync(path.join(corpus, file), 'utf8');
      let thrown: unknown;
      try {
        parseSettings(text, file, host);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(BerthFailure);
      expect((thrown as BerthFailure).code).toBe('E_CONFIG');
      expect((thrown as BerthFailure).message).toMatch(re);
      expect((thrown as BerthFailure).message).toContain(file);
      expect((thrown as BerthFailure).hint).toMatch(/nothing was changed or started/);
    });
  }
  for (const [file, re] of Object.entries(mountErrors)) {
    it(`${file} → rejected before boot`, () => {
      const s = parseSettings(fs.readFileSync(path.join(corpus, file), 'utf8'), file, host);
      expect(() => resolveMounts(s.mounts, host)).toThrow(re);
    });
  }
});

describe('berth.yaml', () => {
  it('defaults: host arch, the home folder mounted writable, shutdown on stop', () => {
    const d = defaultSettings(host);
    expect(d.arch).toBe('x86_64');
    expect(d.mounts).toEqual([{ location: '~', writable: true }]);
    expect(defaultSettings({ ...host, arch: 'arm64' }).arch).toBe('aarch64');
    expect(d.cpus).toBe(4);
  });
  it('refuses more CPUs or memory than the host has', () => {
    expect(() => parseSettings('cpus: 16\n', 'b.yaml', host)).toThrow(/more than this machine's 8 cores/);
    expect(() => parseSettings('memoryGiB: 32\n', 'b.yaml', host)).toThrow(/more than this machine's 16.0 GiB/);
  });
  it('reads a full valid file', () => {
    const s = parseSettings('arch: aarch64\ncpus: 2\nmemoryGiB: 3\nports:\n  ignore: [22]\n  map: {80: 8080}\nemulation:\n  enabled: true\n', 'ok.yaml', host);
    expect(s).toMatchObject({ arch: 'aarch64', cpus: 2, memoryGiB: 3, ports: { ignore: [22], map: { '80': 8080 } }, emulation: { enabled: true } });
  });
  it('refuses emulation.cpu with the per-container alternative', () => {
    expect(() => parseSettings('emulation:\n  enabled: true\n  cpu: Haswell\n', 'e.yaml', host)).toThrow(/emulation.cpu \(line 3\): not supported.*QEMU_CPU/);
  });
  it('a missing file gives the defaults; an unreadable one an error', () => {
    expect(loadSettings('/nonexistent/berth.yaml', host)).toEqual(defaultSettings(host));
  });
  it('writes atomically and round-trips, leaving no temp files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const f = path.join(dir, 'berth.yaml');
    const s = { ...defaultSettings(host), cpus: 3 };
    saveSettings(f, s);
    expect(loadSettings(f, host)).toEqual(s);
    expect(fs.readdirSync(dir)).toEqual(['berth.yaml']);
    expect(fs.statSync(f).mode & 0o777).toBe(0o600);
  });
  it('a bad file is left untouched by a failed load', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const f = path.join(dir, 'berth.yaml');
    fs.writeFileSync(f, 'cpus: [\n');
    expect(() => loadSettings(f, host)).toThrow(BerthFailure);
    expect(fs.readFileSync(f, 'utf8')).toBe('cpus: [\n');
  });
  it('expands ~ in mounts and keeps the same guest path by default', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'home-'));
    expect(resolveMounts([{ location: '~', writable: true }], { ...host, home: dir })).toEqual([{ location: dir, guestPath: dir, writable: true }]);
  });
});

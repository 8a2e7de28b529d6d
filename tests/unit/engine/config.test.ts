import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { controlCharIn, defaultSettings, hostGuestArch, loadSettings, parseSettings, resolveMounts, saveSettings, validateSettings } from '../../../electron/engine/config.js';
import type { FolderProbe, HostInfo } from '../../../electron/engine/config.js';
import { BerthFailure } from '../../../electron/engine/errors.js';
import { nativeArch } from '../../../electron/engine/host-arch.js';

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
  'bad-guest-transport.yaml': /guestTransport \(line 1\): must be channel or ssh, got "vsock"/,
  'bad-port.yaml': /ports.ignore\[1\] \(line 2\): must be a port number 1–65535, got 70000/,
  'wrong-type-emulation.yaml': /emulation.enabled \(line 2\): must be true or false/,
  'not-a-mapping.yaml': /must be a mapping of settings/,
  'duplicate-key.yaml': /YAML syntax error: Map keys must be unique/,
  'mounts-not-list.yaml': /mounts \(line 1\): must be a array, got string/,
  'bad-docker.yaml': /docker.context \(line 2\): must be true or false/,
  'binary-garbage.yaml': /YAML syntax error/,
  'control-char-mount.yaml': /mounts\[0\].location \(line 2\): contains a control character \(U\+000A\)/,
  'control-char-guest-path.yaml': /mounts\[0\].guestPath \(line 3\): contains a control character \(U\+0009\)/,
};
const mountErrors: Record<string, RegExp> = {
  'missing-mount.yaml': /mounts\[0\].location: folder \/definitely\/not\/here does not exist/,
  'relative-mount.yaml': /mounts\[0\].location: "relative\/dir" is a relative path/,
  'overlap-mount.yaml': /mounts\[0\] and mounts\[1\] overlap/,
  'reserved-guest-path.yaml': /would hide the VM's own \/etc/,
  // normalised before the check: /mnt/../etc/ is /etc, /tmp/../usr/lib is /usr/lib
  'dotdot-guest-path.yaml': /guest path \/etc would hide the VM's own \/etc/,
  'dotdot-location.yaml': /guest path \/usr\/lib would hide the VM's own \/usr/,
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
    expect(d.guestTransport).toBe('channel');
    expect(parseSettings('guestTransport: ssh\n', 'b.yaml', host).guestTransport).toBe('ssh');
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

describe('mount paths', () => {
  const mac: HostInfo = { ...host, platform: 'darwin', arch: 'arm64', home: '/Users/u' };
  const exists: FolderProbe = () => undefined;
  const denied: FolderProbe = (dir) => {
    throw Object.assign(new Error(`EPERM: operation not permitted, scandir '${dir}'`), { code: 'EPERM' });
  };
  const failure = (f: () => unknown): BerthFailure => {
    try {
      f();
    } catch (e) {
      return e as BerthFailure;
    }
    throw new Error('did not throw');
  };

  it('on macOS the defaults share the temp folders, so `-v "$(mktemp -d)":/x` sees the host folder', () => {
    const d = defaultSettings(mac);
    const mounts = resolveMounts(d.mounts, mac, true, exists);
    expect(mounts).toEqual([
      { location: '/Users/u', guestPath: '/Users/u', writable: true },
      { location: '/private/var/folders', guestPath: '/var/folders', writable: true },
      { location: '/private/var/folders', guestPath: '/private/var/folders', writable: true },
    ]);
    // What `mktemp -d` prints, and what `pwd -P` / realpath print for the same folder:
    const shared = (p: string) => mounts.some((m) => p === m.guestPath || p.startsWith(m.guestPath + '/'));
    expect(shared('/var/folders/zz/abc123/T/tmp.XYZ')).toBe(true);
    expect(shared('/private/var/folders/zz/abc123/T/tmp.XYZ')).toBe(true);
  });
  it('Linux defaults stay the home folder only', () => {
    expect(defaultSettings(host).mounts).toEqual([{ location: '~', writable: true }]);
  });
  it('/var stays reserved apart from /var/folders', () => {
    expect(() => resolveMounts([{ location: '/tmp', guestPath: '/var/lib/docker', writable: true }], mac, false)).toThrow(/would hide the VM's own \/var/);
    expect(() => resolveMounts([{ location: '/tmp', guestPath: '/var/foldersX', writable: true }], mac, false)).toThrow(/would hide the VM's own \/var/);
    expect(() => resolveMounts([{ location: '/tmp', guestPath: '/var/folders/../lib', writable: true }], mac, false)).toThrow(/guest path \/var\/lib would hide/);
    expect(resolveMounts([{ location: '/tmp', guestPath: '/var/folders/', writable: true }], mac, false)).toEqual([{ location: '/tmp', guestPath: '/var/folders', writable: true }]);
  });
  it('normalises before the overlap check', () => {
    expect(() => resolveMounts([{ location: '/a', guestPath: '/mnt/x', writable: true }, { location: '/b', guestPath: '/mnt/y/../x/sub', writable: true }], host, false)).toThrow(
      /mounts\[0\] and mounts\[1\] overlap \(\/mnt\/x and \/mnt\/x\/sub\)/,
    );
  });
  it('refuses control characters, also when the settings come from the app rather than the file', () => {
    expect(controlCharIn('/Users/u/ok dir')).toBeUndefined();
    expect(controlCharIn('/a\u0000b')).toBe('U+0000');
    expect(() => validateSettings({ mounts: [{ location: '/tmp/a\rb', writable: true }] }, host)).toThrow(/mounts\[0\].location: contains a control character \(U\+000D\)/);
    expect(() => resolveMounts([{ location: '/tmp/a\u007fb', writable: true }], host, false)).toThrow(/contains a control character \(U\+007F\)/);
  });
  it('a folder macOS privacy controls deny gives the way to allow it', () => {
    const e = failure(() => resolveMounts([{ location: '~/Documents', writable: true }], mac, true, denied));
    expect(e).toBeInstanceOf(BerthFailure);
    expect(e.code).toBe('E_MOUNT');
    expect(e.message).toBe('macOS denied Berth access to /Users/u/Documents');
    expect(e.hint).toMatch(/System Settings → Privacy & Security → Files and Folders \(or Full Disk Access\)/);
  });
  it('the same EPERM on Linux is reported as unreadable, not as missing', () => {
    const e = failure(() => resolveMounts([{ location: '/srv/x', writable: true }], host, true, denied));
    expect(e.message).toBe('mounts[0].location: cannot read /srv/x (EPERM)');
  });
  it('the default probe reads the folder: a file is not a folder, a real folder passes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-'));
    fs.writeFileSync(path.join(dir, 'f'), 'x');
    expect(() => resolveMounts([{ location: path.join(dir, 'f'), writable: true }], host)).toThrow(/folder .*\/f does not exist/);
    expect(resolveMounts([{ location: dir, writable: true }], host)).toEqual([{ location: dir, guestPath: dir, writable: true }]);
  });
  it('an x64 Node under Rosetta still gets the arm64 guest by default', () => {
    const sysctl = (key: string) => (key === 'sysctl.proc_translated' ? '1' : undefined);
    const arch = nativeArch({ platform: 'darwin', arch: 'x64', sysctl });
    expect(arch).toBe('arm64');
    expect(defaultSettings({ ...mac, arch }).arch).toBe('aarch64');
    expect(hostGuestArch({ ...mac, arch: nativeArch({ platform: 'darwin', arch: 'x64', sysctl: () => undefined }) })).toBe('x86_64');
  });
});

// The rules that decide whether a saved VM state may be restored: every mismatch must be caught,
// and named in words a user can act on.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../electron/cli/main.js';
import { defaultSettings } from '../../../electron/engine/config.js';
import { instancePaths, ensureInstanceDir } from '../../../electron/engine/instance.js';
import type { InstancePaths } from '../../../electron/engine/instance.js';
import { holdingShares } from '../../../electron/engine/suspend/docker-api.js';
import { shellQuote } from '../../../electron/engine/suspend/migration.js';
import { offlineStatus } from '../../../electron/engine/host.js';
import { binaryDigest } from '../../../electron/engine/suspend/binary-digest.js';
import { bumpGeneration, diskIdentity, discardSaved, readRecord, readSaved, savedInfo, verifyStateFile, whyNotResume } from '../../../electron/engine/suspend/saved-state.js';
import type { Current, SavedRecord } from '../../../electron/engine/suspend/saved-state.js';

const host = { platform: 'linux' as const, arch: 'x64', cpus: 2, memoryBytes: 8 * 2 ** 30, home: '/home/u' };
let p: InstancePaths;
let rec: SavedRecord;
let cur: Current;

beforeEach(() => {
  p = instancePaths('default', fs.mkdtempSync(path.join(os.tmpdir(), 'saved-')));
  ensureInstanceDir(p);
  fs.writeFileSync(p.disk, Buffer.alloc(4096));
  bumpGeneration(p);
  fs.writeFileSync(p.savedState, Buffer.alloc(1000));
  const settings = defaultSettings(host);
  const args = ['-m', '2048M', '-smp', '2', '-netdev', 'user,id=n0,hostfwd=tcp:127.0.0.1:40000-:22'];
  rec = {
    version: 2,
    savedAt: '2026-11-29T00:00:00.000Z',
    saveMs: 600,
    qemu: { path: '/usr/bin/qemu-system-x86_64', version: '7.2.22', sha256: 'a'.repeat(64) },
    args,
    accel: 'tcg',
    sshPort: 40000,
    bootId: 'b00t',
    imageDir: '/img',
    recipeHash: 'abc',
    settings,
    disk: diskIdentity(p)!,
    stateBytes: 1000,
    stateSha256: createHash('sha256').update(Buffer.alloc(1000)).digest('hex'),
    containersToRestart: [{ id: 'f00', name: 'web' }],
  };
  cur = { qemu: { ...rec.qemu }, recipeHash: 'abc', settings: { ...settings }, accel: 'tcg', args: [...args] };
  fs.writeFileSync(p.savedRecord, JSON.stringify(rec));
});

describe('whyNotResume', () => {
  it('allows a state whose disk, settings, image, QEMU and command line all match', () => {
    expect(whyNotResume(p, rec, cur)).toBeNull();
    expect(savedInfo(p)).toEqual({ at: rec.savedAt, bytes: 1000, containersToRestart: ['web'] });
  });

  it('refuses a truncated state file (an interrupted save)', () => {
    fs.truncateSync(p.savedState, 999);
    expect(whyNotResume(p, rec, cur)).toMatch(/999 bytes, the record says 1000 \(an interrupted save\?\)/);
  });

  it('refuses once the disk was used after the save, even if it looks the same', () => {
    bumpGeneration(p);
    expect(whyNotResume(p, rec, cur)).toMatch(/the disk was used after the save \(generation \d+, saved at \d+\)/);
  });

  it('refuses a disk written or resized after the save', () => {
    const t = new Date(Date.now() + 10_000);
    fs.utimesSync(p.disk, t, t);
    expect(whyNotResume(p, rec, cur)).toMatch(/the disk changed after the save/);
    fs.writeFileSync(p.disk, Buffer.alloc(8192));
    expect(whyNotResume(p, rec, cur)).toMatch(/the disk changed after the save/);
  });

  it('names a changed setting before anything else', () => {
    cur.settings = { ...cur.settings, memoryGiB: rec.settings.memoryGiB + 1, cpus: 1 };
    cur.args[1] = '9999M';
    expect(whyNotResume(p, rec, cur)).toBe(`settings changed since the save: cpus ${rec.settings.cpus} → 1, memoryGiB ${rec.settings.memoryGiB} → ${rec.settings.memoryGiB + 1}`);
    cur.settings = { ...rec.settings, mounts: [] };
    expect(whyNotResume(p, rec, cur)).toBe('settings changed since the save: mounts changed');
  });

  it('ignores settings that apply live (emulation, ports)', () => {
    cur.settings = { ...cur.settings, emulation: { enabled: !rec.settings.emulation.enabled }, ports: { ignore: [80], map: {} } };
    expect(whyNotResume(p, rec, cur)).toBeNull();
  });

  it('refuses another guest image, QEMU build or accelerator', () => {
    expect(whyNotResume(p, rec, { ...cur, recipeHash: 'def' })).toMatch(/the guest image changed \(abc → def\)/);
    expect(whyNotResume(p, rec, { ...cur, qemu: { ...cur.qemu, version: '8.2.1' } })).toMatch(/QEMU changed \(7\.2\.22 .* → 8\.2\.1/);
    expect(whyNotResume(p, rec, { ...cur, accel: 'kvm' })).toMatch(/the accelerator changed \(tcg → kvm\)/);
  });

  it('refuses any other difference in the QEMU command line, naming the argument', () => {
    cur.args[5] = 'user,id=n0,hostfwd=tcp:127.0.0.1:40001-:22';
    expect(whyNotResume(p, rec, cur)).toMatch(/the QEMU command line differs at argument 6/);
    expect(whyNotResume(p, rec, { ...cur, args: [...rec.args, '-S'] })).toMatch(/differs at argument 7/);
  });

  it('refuses when the state file is gone', () => {
    fs.rmSync(p.savedState);
    expect(whyNotResume(p, rec, cur)).toMatch(/the saved state file is missing/);
    expect(savedInfo(p)).toBeUndefined();
  });
});

describe('the saved files', () => {
  it('discardSaved removes the record, the state and a partial state', () => {
    fs.writeFileSync(p.savedStatePartial, 'x');
    expect(discardSaved(p)).toBe(true);
    for (const f of [p.savedRecord, p.savedState, p.savedStatePartial]) expect(fs.existsSync(f)).toBe(false);
    expect(discardSaved(p)).toBe(false);
  });

  it('a record that is not ours (or half written) is no record', () => {
    fs.writeFileSync(p.savedRecord, '{"version": 1, "args": ');
    expect(readRecord(p)).toBeNull();
    fs.writeFileSync(p.savedRecord, JSON.stringify({ ...rec, version: 99 }));
    expect(readRecord(p)).toBeNull();
  });

  it('the generation only goes up, even past a garbled file', () => {
    const a = bumpGeneration(p);
    const b = bumpGeneration(p);
    expect(b).toBeGreaterThan(a);
    fs.writeFileSync(p.diskGeneration, 'garbage');
    expect(bumpGeneration(p)).toBeGreaterThan(rec.disk.generation);
  });
});

describe('holdingShares', () => {
  const c = (name: string, binds: string[]) => ({ id: name, name, binds });
  it('finds containers with a bind from inside a share, of the share itself, or of a parent', () => {
    const list = [c('inside', ['/Users/me/src/app']), c('exact', ['/Users/me']), c('parent', ['/']), c('other', ['/var/lib/x']), c('prefix', ['/Users/meg']), c('none', [])];
    expect(holdingShares(list, ['/Users/me']).map((x) => x.name)).toEqual(['inside', 'exact', 'parent']);
  });
});

describe('shellQuote', () => {
  it('quotes paths with spaces and quotes for QEMU exec: URIs', () => {
    expect(shellQuote("/tmp/a b/it's")).toBe(`'/tmp/a b/it'\\''s'`);
  });
});

describe('the saved state is checked by content before it is loaded', () => {
  it('an intact state passes', async () => {
    expect(await verifyStateFile(p, rec)).toBeNull();
  });

  it('one flipped byte is caught, with the reason (the start then boots cold)', async () => {
    const buf = fs.readFileSync(p.savedState);
    buf[500] ^= 0x01;
    fs.writeFileSync(p.savedState, buf);
    // Same size, same record: only the checksum can tell.
    expect(whyNotResume(p, rec, cur)).toBeNull();
    expect(await verifyStateFile(p, rec)).toMatch(/^the saved state file is damaged \(sha256 [0-9a-f]{12}…, saved as [0-9a-f]{12}…\)$/);
  });

  it('an unreadable state file is a reason, not a crash', async () => {
    fs.rmSync(p.savedState);
    expect(await verifyStateFile(p, rec)).toMatch(/the saved state file cannot be read/);
  });
});

describe('a record this Berth cannot use counts as absent, with a note', () => {
  const cases: [string, string, RegExp][] = [
    ['garbage', '{"version": 2, "args": ', /unreadable/],
    ['a newer format', JSON.stringify({ version: 99, savedAt: 'x' }), /has format 99, written by a newer Berth \(this one reads format 2\)/],
    // What Berth 0.1 wrote: no checksum, and a reader that trusted its shape crashed on a missing field.
    ['an older format', JSON.stringify({ version: 1, savedAt: '2026-11-29T10:00:00.000Z', args: [], stateBytes: 1000 }), /has format 1, written by an older Berth/],
    ['a record with a field missing', JSON.stringify({ version: 2, savedAt: '2026-11-29T10:00:00.000Z', args: [], stateBytes: 1000 }), /incomplete \(accel\)/],
  ];
  for (const [what, text, note] of cases) {
    it(`${what}: readSaved says why, savedInfo and the offline status show no saved state`, () => {
      fs.writeFileSync(p.savedRecord, text);
      expect(readSaved(p)).toEqual({ record: null, note: expect.stringMatching(note) });
      expect(readRecord(p)).toBeNull();
      expect(savedInfo(p)).toBeUndefined();
      expect(offlineStatus(p).saved).toBeUndefined();
    });
  }

  it('`berth status` and `berth stop` still work (exit 0) beside a record from an older Berth', async () => {
    fs.writeFileSync(p.savedRecord, cases[2]![1]);
    const lines: string[] = [];
    const capture = (s: string | Uint8Array) => (lines.push(String(s)), true);
    const so = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const se = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    const prev = process.env.BERTH_HOME;
    process.env.BERTH_HOME = p.home;
    try {
      expect(await main(['status', '--json'])).toBe(0);
      expect(JSON.parse(lines.join('')).saved).toBeUndefined();
      lines.length = 0;
      expect(await main(['stop'])).toBe(0);
      expect(lines.join('')).toMatch(/not running/);
    } finally {
      so.mockRestore();
      se.mockRestore();
      if (prev === undefined) delete process.env.BERTH_HOME;
      else process.env.BERTH_HOME = prev;
    }
  });
});

describe('QEMU is the same build by content, wherever it lives', () => {
  let dir: string;
  const fakeQemu = (file: string, body: string) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `#!/bin/sh\necho 'QEMU emulator version 7.2.22'\n# ${body}\n`, { mode: 0o755 });
    return file;
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qemu-id-'));
  });

  it('the same binary at another path (a translocated app) may resume, its data directory moved with it', async () => {
    const a = fakeQemu(path.join(dir, 'AppTranslocation/1111/Berth.app/Contents/Resources/qemu/bin/qemu-system-x86_64'), 'build 1');
    const b = path.join(dir, 'AppTranslocation/2222/Berth.app/Contents/Resources/qemu/bin/qemu-system-x86_64');
    fs.mkdirSync(path.dirname(b), { recursive: true });
    fs.copyFileSync(a, b);
    const share = (bin: string) => path.join(path.dirname(bin), '..', 'share', 'qemu');
    rec.qemu = { path: a, version: '7.2.22', sha256: await binaryDigest(a, p.cache), dataDir: share(a) };
    rec.args = ['-L', share(a), ...rec.args];
    cur.qemu = { path: b, version: '7.2.22', sha256: await binaryDigest(b, p.cache), dataDir: share(b) };
    cur.args = ['-L', share(b), ...cur.args];
    expect(whyNotResume(p, rec, cur)).toBeNull();
  });

  it('another binary with the same version string (replaced in place) may not', async () => {
    const a = fakeQemu(path.join(dir, 'bin/qemu-system-x86_64'), 'build 1');
    rec.qemu = { path: a, version: '7.2.22', sha256: await binaryDigest(a, p.cache) };
    fs.rmSync(a);
    fakeQemu(a, 'build 2');
    cur.qemu = { path: a, version: '7.2.22', sha256: await binaryDigest(a, p.cache) };
    expect(whyNotResume(p, rec, cur)).toBe(`QEMU changed: ${a} is another build of 7.2.22 than the one saved from (${a})`);
  });

  it('the digest is computed once per binary, and again when the file changes', async () => {
    const a = fakeQemu(path.join(dir, 'bin/qemu-system-x86_64'), 'build 1');
    let hashed = 0;
    const counting = async (f: string) => (hashed++, createHash('sha256').update(fs.readFileSync(f)).digest('hex'));
    const first = await binaryDigest(a, p.cache, counting);
    expect(await binaryDigest(a, p.cache, counting)).toBe(first);
    expect(hashed).toBe(1);
    fs.appendFileSync(a, '# patched\n');
    expect(await binaryDigest(a, p.cache, counting)).not.toBe(first);
    expect(hashed).toBe(2);
  });
});

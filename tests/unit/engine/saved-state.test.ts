// The rules that decide whether a saved VM state may be restored: every mismatch must be caught,
// and named in words a user can act on.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { defaultSettings } from '../../../electron/engine/config.js';
import { instancePaths, ensureInstanceDir } from '../../../electron/engine/instance.js';
import type { InstancePaths } from '../../../electron/engine/instance.js';
import { holdingShares } from '../../../electron/engine/suspend/docker-api.js';
import { shellQuote } from '../../../electron/engine/suspend/migration.js';
import { bumpGeneration, diskIdentity, discardSaved, readRecord, savedInfo, whyNotResume } from '../../../electron/engine/suspend/saved-state.js';
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
    version: 1,
    savedAt: '2026-11-29T00:00:00.000Z',
    saveMs: 600,
    qemu: { path: '/usr/bin/qemu-system-x86_64', version: '7.2.22' },
    args,
    accel: 'tcg',
    sshPort: 40000,
    bootId: 'b00t',
    imageDir: '/img',
    recipeHash: 'abc',
    settings,
    disk: diskIdentity(p)!,
    stateBytes: 1000,
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
    fs.writeFileSync(p.savedRecord, JSON.stringify({ ...rec, version: 2 }));
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

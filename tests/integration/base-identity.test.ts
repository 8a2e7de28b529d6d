// The instance disk is an overlay: it reads correctly on the base image it was created on, and on
// no other. A base rebuilt at the same path (cache cleared, `berth start`) must be refused before
// QEMU ever opens the disk, and the user's data must come through untouched.
// No VM boots here: a tiny image (a 64 MB qcow2 base, dummy kernel and initrd), the real qemu-img
// and qemu-io, and the supervisor's own start path, which stops before QEMU on a refusal.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultSettings } from '../../electron/engine/config.js';
import { backingOf, ensureDisk } from '../../electron/engine/disk.js';
import { readImageDir } from '../../electron/engine/image/local.js';
import { ensureInstanceDir, instancePaths } from '../../electron/engine/instance.js';
import type { InstancePaths } from '../../electron/engine/instance.js';
import { RECORD_VERSION } from '../../electron/engine/suspend/saved-state.js';
import type { SavedRecord } from '../../electron/engine/suspend/saved-state.js';
import { Supervisor } from '../../electron/engine/supervisor.js';
import { buildFakeImage, FAKE_RECIPE, run, sha } from './fake-image.js';

const homes: string[] = [];
afterAll(() => homes.forEach((h) => fs.rmSync(h, { recursive: true, force: true })));

/** qemu-io reads the disk through its base: did the guest's bytes survive? */
function reads(disk: string, pattern: number, offset: string, len: string): boolean {
  try {
    run('qemu-io', ['-r', '-c', `read -P ${pattern} ${offset} ${len}`, disk]);
    return true;
  } catch {
    return false;
  }
}

let home: string;
let p: InstancePaths;
let imgDir: string;

beforeEach(() => {
  home = fs.mkdtempSync('/tmp/bbase-');
  homes.push(home);
  p = instancePaths('default', home);
  ensureInstanceDir(p);
  imgDir = path.join(home, 'images', `x86_64-${FAKE_RECIPE}`);
  buildFakeImage(imgDir, 0x11);
});

async function startSupervisor(): Promise<ReturnType<Supervisor['status']>> {
  const sup = new Supervisor({ paths: p, env: { ...process.env, BERTH_HOME: home, BERTH_IMAGE_DIR: imgDir, BERTH_ACCEL: 'tcg' }, startTimeoutMs: 30_000 });
  try {
    return await sup.start();
  } finally {
    await sup.close();
  }
}

describe('a disk on a rebuilt base image', () => {
  it('is refused before QEMU starts, naming both images and the ways out; the data stays intact', async () => {
    // The disk, made the way the supervisor makes it, with the user's data written into it.
    await ensureDisk(p.disk, readImageDir(imgDir, 'x86_64'), 1);
    expect(fs.existsSync(p.diskBase)).toBe(true);
    run('qemu-io', ['-c', 'write -P 0x5a 0 64k', p.disk]);
    const original = path.join(home, 'original-base.qcow2');
    fs.copyFileSync(path.join(imgDir, 'base.qcow2'), original);
    const oldSha = sha(original);
    const overlay = sha(p.disk);

    // The cache is cleared and the same recipe rebuilt at the same path: other bytes.
    buildFakeImage(imgDir, 0x22);
    const newSha = sha(path.join(imgDir, 'base.qcow2'));
    expect(newSha).not.toBe(oldSha);

    const st = await startSupervisor();
    expect(st.state).toBe('error');
    expect(st.error).toMatchObject({ code: 'E_DISK_BASE', step: 'disk' });
    expect(st.error!.message).toContain(oldSha);
    expect(st.error!.message).toContain(newSha);
    expect(st.error!.hint).toMatch(/`berth delete`/);
    expect(st.error!.hint).toContain(`qemu-img convert -O qcow2 ${p.disk} ${p.disk}.new`);
    // QEMU never ran on the pair, and not a byte of the disk changed.
    expect(fs.existsSync(p.qemuArgs)).toBe(false);
    expect(sha(p.disk)).toBe(overlay);

    // The way out the hint gives: the original base back in place (a copy: new inode, new times).
    fs.copyFileSync(original, path.join(imgDir, 'base.qcow2'));
    await expect(ensureDisk(p.disk, { disk: path.join(imgDir, 'base.qcow2'), manifest: { disk: { size: fs.statSync(original).size, sha256: oldSha } } }, 1)).resolves.toEqual({
      created: false,
      note: 'base image verified by content',
    });
    expect(reads(p.disk, 0x5a, '0', '64k')).toBe(true);
    expect(reads(p.disk, 0x11, '64k', '960k')).toBe(true);
  });

  it('the documented export: made standalone while the original base is there, the disk no longer needs it', async () => {
    await ensureDisk(p.disk, readImageDir(imgDir, 'x86_64'), 1);
    run('qemu-io', ['-c', 'write -P 0x5a 0 64k', p.disk]);
    run('qemu-img', ['convert', '-O', 'qcow2', p.disk, `${p.disk}.new`]);
    fs.renameSync(`${p.disk}.new`, p.disk);
    buildFakeImage(imgDir, 0x22);
    expect(await backingOf(p.disk)).toBeUndefined();
    await expect(ensureDisk(p.disk, readImageDir(imgDir, 'x86_64'), 1)).resolves.toEqual({ created: false });
    expect(reads(p.disk, 0x5a, '0', '64k')).toBe(true);
    expect(reads(p.disk, 0x11, '64k', '960k')).toBe(true);
  });

  it('a suspended instance is neither resumed nor booted on it, and its saved state is kept', async () => {
    await ensureDisk(p.disk, readImageDir(imgDir, 'x86_64'), 1);
    fs.writeFileSync(p.savedState, Buffer.alloc(4096));
    const rec: SavedRecord = {
      version: RECORD_VERSION,
      savedAt: '2026-12-01T00:00:00.000Z',
      saveMs: 100,
      qemu: { path: '/usr/bin/qemu-system-x86_64', version: '7.2.22', sha256: 'a'.repeat(64) },
      args: [],
      accel: 'tcg',
      sshPort: 40000,
      bootId: 'b00t',
      imageDir: imgDir,
      recipeHash: FAKE_RECIPE,
      settings: defaultSettings(),
      disk: { size: fs.statSync(p.disk).size, mtimeMs: fs.statSync(p.disk).mtimeMs, generation: 1 },
      stateBytes: 4096,
      stateSha256: sha(p.savedState),
      containersToRestart: [],
    };
    fs.writeFileSync(p.savedRecord, JSON.stringify(rec));
    buildFakeImage(imgDir, 0x22);
    const st = await startSupervisor();
    expect(st.error).toMatchObject({ code: 'E_DISK_BASE', step: 'disk' });
    expect(st.resume).toMatchObject({ resumed: false, reason: expect.stringMatching(/^the disk cannot be used: the disk's base image changed/) });
    expect(fs.existsSync(p.qemuArgs)).toBe(false);
    for (const f of [p.savedState, p.savedRecord]) expect(fs.existsSync(f), f).toBe(true);
  });

  it('a disk made before base.json existed: recorded if its base is the original, refused if the base was rebuilt after it', async () => {
    const base = path.join(imgDir, 'base.qcow2');
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, p.disk, '1G']);
    await expect(ensureDisk(p.disk, readImageDir(imgDir, 'x86_64'), 1)).resolves.toEqual({ created: false, note: 'recorded the base image’s identity' });
    expect(JSON.parse(fs.readFileSync(p.diskBase, 'utf8'))).toMatchObject({ path: base, sha256: sha(base) });

    const q = instancePaths('other', home);
    ensureInstanceDir(q);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, q.disk, '1G']);
    buildFakeImage(imgDir, 0x22);
    // The rebuilt image comes with a matching manifest: only its age gives it away.
    await expect(ensureDisk(q.disk, readImageDir(imgDir, 'x86_64'), 1)).rejects.toMatchObject({ code: 'E_DISK_BASE', message: expect.stringMatching(/after the disk was created .*: it is a rebuilt image/) });
    expect(fs.existsSync(q.diskBase)).toBe(false);
  });

  it('an image cache moved elsewhere with the same bytes: the disk follows it (a rebase that changes nothing it reads)', async () => {
    await ensureDisk(p.disk, readImageDir(imgDir, 'x86_64'), 1);
    run('qemu-io', ['-c', 'write -P 0x5a 0 64k', p.disk]);
    const moved = path.join(home, 'elsewhere', `x86_64-${FAKE_RECIPE}`);
    fs.mkdirSync(path.dirname(moved), { recursive: true });
    fs.cpSync(imgDir, moved, { recursive: true });
    fs.rmSync(imgDir, { recursive: true });
    const r = await ensureDisk(p.disk, readImageDir(moved, 'x86_64'), 1);
    expect(r.note).toMatch(/^base image found at .*elsewhere.*base\.qcow2/);
    expect(await backingOf(p.disk)).toBe(path.join(moved, 'base.qcow2'));
    expect(reads(p.disk, 0x5a, '0', '64k')).toBe(true);
    expect(reads(p.disk, 0x11, '64k', '960k')).toBe(true);
  });

  it('a new disk is not created on a base that does not match its manifest', async () => {
    run('qemu-io', ['-c', 'write -P 0x33 0 4k', path.join(imgDir, 'base.qcow2')]);
    await expect(ensureDisk(p.disk, readImageDir(imgDir, 'x86_64'), 1)).rejects.toMatchObject({ code: 'E_IMAGE', message: expect.stringMatching(/does not match its manifest/) });
    expect(fs.existsSync(p.disk)).toBe(false);
  });
});

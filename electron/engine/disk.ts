// The instance disk: a qcow2 overlay on the cached base image, so the base is shared and the
// instance keeps its own Docker data. Grown (never shrunk) to the configured size. The overlay
// is readable on its own base only: disk-base.ts records and checks which one that is.
import fs from 'node:fs';
import { execa } from 'execa';
import { checkBase, recordNewBase } from './disk-base.js';
import type { OfferedBase } from './disk-base.js';
import { BerthFailure } from './errors.js';
import { resolveQemuImg } from './tools.js';

interface ImgInfo {
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
}

/** Every qemu-img run goes through here: by absolute path (the app's own, or found as a login shell would). */
export async function qemuImg(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const bin = await resolveQemuImg();
  const r = await execa(bin, args, { reject: false });
  if ((r as { code?: string }).code === 'ENOENT') throw new BerthFailure('E_TOOL_MISSING', `qemu-img not found (looked in ${bin})`, 'Reinstall Berth, or install QEMU’s qemu-img.');
  return { exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export async function qemuImgInfo(file: string): Promise<ImgInfo> {
  // -U: read even while a running QEMU holds the image lock.
  const r = await qemuImg(['info', '-U', '--output=json', file]);
  if (r.exitCode !== 0) throw new BerthFailure('E_DISK', `qemu-img info ${file} failed: ${r.stderr.trim()}`, 'Is qemu-img (qemu-utils) installed?');
  return JSON.parse(r.stdout) as ImgInfo;
}

/** The base image file a disk reads through to, or undefined for a standalone disk. */
export async function backingOf(disk: string): Promise<string | undefined> {
  const info = await qemuImgInfo(disk);
  return info['full-backing-filename'] ?? info['backing-filename'];
}

/**
 * Before a resume: throws E_DISK_BASE unless the disk's base is the one it was created on. A
 * standalone disk has nothing to check.
 */
export async function checkDiskBase(disk: string): Promise<void> {
  const backing = await backingOf(disk);
  if (backing) await checkBase(disk, backing);
}

async function rebase(disk: string, newBase: string): Promise<void> {
  // -u: only the name in the header changes; checkBase proved the new file has the same bytes.
  const r = await qemuImg(['rebase', '-u', '-F', 'qcow2', '-b', newBase, disk]);
  if (r.exitCode !== 0) throw new BerthFailure('E_DISK', `cannot point ${disk} at ${newBase}: ${r.stderr.trim()}`, 'Is the VM still running? Stop it first.');
}

/**
 * Makes the disk ready for a boot on `image`: creates it (recording its base) or checks that the
 * existing one still has its own base, then grows it to `sizeGiB`. Never boots a mismatched pair.
 */
export async function ensureDisk(disk: string, image: OfferedBase, sizeGiB: number): Promise<{ created: boolean; note?: string }> {
  const want = sizeGiB * 2 ** 30;
  const base = image.disk;
  if (!fs.existsSync(disk)) {
    const r = await qemuImg(['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, disk, `${sizeGiB}G`]);
    if (r.exitCode !== 0) throw new BerthFailure('E_DISK', `cannot create ${disk}: ${r.stderr.trim()}`, 'Check free space and permissions in the instance directory.');
    fs.chmodSync(disk, 0o600);
    try {
      await recordNewBase(disk, image);
    } catch (e) {
      // Nothing lives on it yet: without its record it must not exist.
      fs.rmSync(disk, { force: true });
      throw e;
    }
    return { created: true };
  }
  const info = await qemuImgInfo(disk);
  let backing = info['full-backing-filename'] ?? info['backing-filename'];
  let note: string | undefined;
  if (backing) {
    const checked = await checkBase(disk, backing, { offered: image, rebase });
    backing = checked.backing;
    note = checked.note;
    if (backing !== base) note = `disk keeps its original base image ${backing} (a newer image applies to new instances)`;
  }
  if (info['virtual-size'] < want) {
    const r = await qemuImg(['resize', '-q', disk, `${sizeGiB}G`]);
    if (r.exitCode !== 0) throw new BerthFailure('E_DISK', `cannot grow ${disk}: ${r.stderr.trim()}`, 'Is the VM still running? Stop it first.');
  }
  return { created: false, ...(note ? { note } : {}) };
}

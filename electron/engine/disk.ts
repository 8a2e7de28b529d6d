// The instance disk: a qcow2 overlay on the cached base image, so the base is shared and the
// instance keeps its own Docker data. Grown (never shrunk) to the configured size.
import fs from 'node:fs';
import { execa } from 'execa';
import { BerthFailure } from './errors.js';

interface ImgInfo {
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
}

export async function qemuImgInfo(file: string): Promise<ImgInfo> {
  // -U: read even while a running QEMU holds the image lock.
  const r = await execa('qemu-img', ['info', '-U', '--output=json', file], { reject: false });
  if (r.exitCode !== 0) throw new BerthFailure('E_DISK', `qemu-img info ${file} failed: ${r.stderr.trim()}`, 'Is qemu-img (qemu-utils) installed?');
  return JSON.parse(r.stdout) as ImgInfo;
}

export async function ensureDisk(disk: string, base: string, sizeGiB: number): Promise<{ created: boolean; note?: string }> {
  const want = sizeGiB * 2 ** 30;
  if (!fs.existsSync(disk)) {
    const r = await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, disk, `${sizeGiB}G`], { reject: false });
    if (r.exitCode !== 0) throw new BerthFailure('E_DISK', `cannot create ${disk}: ${r.stderr.trim()}`, 'Check free space and permissions in the instance directory.');
    fs.chmodSync(disk, 0o600);
    return { created: true };
  }
  const info = await qemuImgInfo(disk);
  const backing = info['full-backing-filename'] ?? info['backing-filename'];
  if (backing && !fs.existsSync(backing)) {
    throw new BerthFailure('E_DISK', `the disk's base image ${backing} is gone (the image cache was cleared)`, 'Restore the image cache, or run `berth delete` to start over (this deletes the Docker data).');
  }
  let note: string | undefined;
  if (backing && backing !== base) note = `disk keeps its original base image ${backing} (a newer image applies to new instances)`;
  if (info['virtual-size'] < want) {
    const r = await execa('qemu-img', ['resize', '-q', disk, `${sizeGiB}G`], { reject: false });
    if (r.exitCode !== 0) throw new BerthFailure('E_DISK', `cannot grow ${disk}: ${r.stderr.trim()}`, 'Is the VM still running? Stop it first.');
  }
  return { created: false, ...(note ? { note } : {}) };
}

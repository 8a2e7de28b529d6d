// The instance directory's state files, each with one type and one reader and writer:
// state.json (the running VM: what an adopt needs), image.json (which image the disk was made
// from), qemu.args.json (the command line QEMU runs with), and saved.json with saved.vmstate (the
// suspended VM, owned by suspend/saved-state.ts and reached through here).
import fs from 'node:fs';
import type { Settings } from '../../shared/settings.js';
import type { Accel } from '../../shared/status.js';
import { writeFileAtomic } from '../atomic.js';
import type { InstancePaths } from '../instance.js';
import type { QemuCommand } from '../qemu-args.js';

export { discardSaved, readRecord, readSaved, savedInfo, writeRecord } from '../suspend/saved-state.js';
export type { SavedRecord } from '../suspend/saved-state.js';

/** state.json: written when QEMU is launched, gone with it. A later supervisor adopts the VM from it. */
export interface VmStateFile {
  pid: number;
  sshPort: number;
  bootId: string;
  accel: Accel;
  imageDir: string;
  settings: Settings;
  qemuVersion?: string;
  startedAt: string;
}

/** image.json: the image the disk was created from; an existing disk boots with that image's kernel. */
export interface ImageMemo {
  dir: string;
  recipeHash: string;
}

/** qemu.args.json: the command line as launched (without -incoming), and the guest's SSH port in it. */
export interface QemuArgsFile extends QemuCommand {
  sshPort?: number;
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

export function readVmState(p: InstancePaths): VmStateFile | null {
  return readJson<VmStateFile>(p.state);
}

export function writeVmState(p: InstancePaths, s: VmStateFile): void {
  writeFileAtomic(p.state, JSON.stringify(s));
}

export function readImageMemo(p: InstancePaths): ImageMemo | null {
  const m = readJson<Partial<ImageMemo>>(p.imageMemo);
  return m && typeof m.dir === 'string' ? { dir: m.dir, recipeHash: String(m.recipeHash ?? '') } : null;
}

export function writeImageMemo(p: InstancePaths, m: ImageMemo): void {
  writeFileAtomic(p.imageMemo, JSON.stringify(m));
}

export function readQemuArgs(p: InstancePaths): QemuArgsFile | null {
  const c = readJson<Partial<QemuArgsFile>>(p.qemuArgs);
  return c && typeof c.binary === 'string' && Array.isArray(c.args) ? (c as QemuArgsFile) : null;
}

export function writeQemuArgs(p: InstancePaths, cmd: QemuCommand, sshPort: number): void {
  const file: QemuArgsFile = { binary: cmd.binary, args: cmd.args, sshPort };
  writeFileAtomic(p.qemuArgs, JSON.stringify(file, null, 2));
}

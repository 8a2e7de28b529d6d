// Which base image an instance disk belongs to. disk.qcow2 stores only the blocks the guest
// changed on top of its base image, so it reads correctly on exactly that base: on any other
// (a rebuilt image at the same path has another filesystem UUID, hash seed and package files)
// the user's Docker data is silently corrupted. base.json, written when the overlay is created,
// records the base's sha256 and size; every boot and resume checks it first.
import fs from 'node:fs';
import path from 'node:path';
import { FILES } from '../shared/files.js';
import { writeFileAtomic } from './atomic.js';
import { BerthFailure } from './errors.js';
import { sha256File } from './file-hash.js';
import type { ImageManifest } from './image/local.js';

/** Cheap proof that a file was not rewritten or replaced: any write or new file changes ctime. */
interface FileStamp {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

export interface BaseRecord {
  version: 1;
  /** the overlay's backing file when the record was last confirmed */
  path: string;
  size: number;
  sha256: string;
  /** the file last proven to hash to `sha256`: while it is unchanged, no full hash is needed */
  seen: FileStamp;
  recordedAt: string;
}

/** What a caller knows about a base image, e.g. a GuestImage. */
export interface OfferedBase {
  disk: string;
  manifest: { disk: { size: number; sha256: string } };
}

export function baseRecordPath(disk: string): string {
  return path.join(path.dirname(disk), FILES.diskBase);
}

export function readBaseRecord(disk: string): BaseRecord | null {
  try {
    const r = JSON.parse(fs.readFileSync(baseRecordPath(disk), 'utf8')) as BaseRecord;
    return r && r.version === 1 && typeof r.sha256 === 'string' && typeof r.size === 'number' && typeof r.path === 'string' && r.seen ? r : null;
  } catch {
    return null;
  }
}

function stampOf(st: fs.Stats): FileStamp {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

function writeRecord(disk: string, base: string, st: fs.Stats, sha256: string): void {
  const rec: BaseRecord = { version: 1, path: base, size: st.size, sha256, seen: stampOf(st), recordedAt: new Date().toISOString() };
  writeFileAtomic(baseRecordPath(disk), JSON.stringify(rec, null, 2) + '\n');
}

/**
 * Records the base a new overlay was just created on. The base is hashed once here, so the
 * record holds the bytes' real digest, not only what the manifest claims.
 */
export async function recordNewBase(disk: string, base: OfferedBase): Promise<void> {
  const st = fs.statSync(base.disk);
  const sha = await sha256File(base.disk);
  if (sha !== base.manifest.disk.sha256 || st.size !== base.manifest.disk.size) {
    throw new BerthFailure(
      'E_IMAGE',
      `the base image ${base.disk} does not match its manifest (sha256 ${short(sha)}, ${st.size} bytes; the manifest says ${short(base.manifest.disk.sha256)}, ${base.manifest.disk.size} bytes)`,
      'The image is damaged: delete its directory and let `berth start` build or download it again.',
    );
  }
  writeRecord(disk, base.disk, st, sha);
}

export interface BaseCheck {
  /** the backing file to use; differs from the one asked about only after a safe rebase */
  backing: string;
  note?: string;
}

/**
 * Proves that `backing` (the file disk.qcow2 names as its base) is the base the disk was created
 * on, or throws E_DISK_BASE. The stamp makes the usual case a stat; anything else costs one full
 * hash. With `offered` (the image this start would use) a disk whose base moved, e.g. a cache
 * copied elsewhere, is pointed at the offered file when that file's bytes are the recorded ones.
 */
export async function checkBase(
  disk: string,
  backing: string,
  opts: { offered?: OfferedBase; rebase?: (disk: string, newBase: string) => Promise<void> } = {},
): Promise<BaseCheck> {
  const rec = readBaseRecord(disk);
  const st = fs.statSync(backing, { throwIfNoEntry: false });
  if (!rec) return checkUnrecorded(disk, backing, st);
  if (st && backing === rec.path && sameStamp(stampOf(st), rec.seen)) return { backing };
  // Something about the file changed (touched, copied back, replaced) or it moved: only its bytes can tell.
  const sha = st ? await sha256File(backing) : undefined;
  if (st && sha === rec.sha256 && st.size === rec.size) {
    writeRecord(disk, backing, st, sha);
    return { backing, note: 'base image verified by content' };
  }
  const offered = opts.offered;
  if (offered && opts.rebase && offered.disk !== backing && offered.manifest.disk.sha256 === rec.sha256 && offered.manifest.disk.size === rec.size) {
    const ost = fs.statSync(offered.disk, { throwIfNoEntry: false });
    if (ost && ost.size === rec.size && (await sha256File(offered.disk)) === rec.sha256) {
      // The same bytes under another name: pointing the disk at them changes nothing it reads.
      await opts.rebase(disk, offered.disk);
      writeRecord(disk, offered.disk, ost, rec.sha256);
      return { backing: offered.disk, note: `base image found at ${offered.disk} (same content as ${backing})` };
    }
  }
  throw mismatch(disk, rec, backing, st ? { size: st.size, sha256: sha! } : undefined);
}

/**
 * A disk made before Berth kept base.json. Its base is accepted (and recorded) only if its bytes
 * are those of its image's manifest and it is older than the disk: a rebuilt base is newer.
 */
async function checkUnrecorded(disk: string, backing: string, st: fs.Stats | undefined): Promise<BaseCheck> {
  const refuse = (why: string) =>
    new BerthFailure(
      'E_DISK_BASE',
      `cannot prove that ${disk} belongs to its base image ${backing}: ${why}`,
      `Booting a disk on another base image corrupts its Docker data, so Berth will not. If you kept the original base image, put it back at ${backing} and start again. Otherwise the data cannot be read safely: \`berth delete\` starts this instance over (it deletes its Docker data).`,
    );
  if (!st) throw gone(disk, backing);
  let manifest: ImageManifest | undefined;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(path.dirname(backing), 'manifest.json'), 'utf8')) as ImageManifest;
  } catch {
    manifest = undefined;
  }
  if (!manifest?.disk || manifest.disk.name !== path.basename(backing)) throw refuse('there is no record of the base it was created on, and no image manifest beside the base to check it against');
  const sha = await sha256File(backing);
  if (sha !== manifest.disk.sha256 || st.size !== manifest.disk.size) {
    throw refuse(`the base's content (sha256 ${short(sha)}, ${st.size} bytes) is not what its manifest says (${short(manifest.disk.sha256)}, ${manifest.disk.size} bytes)`);
  }
  const born = fs.statSync(disk).birthtimeMs;
  if (born > 0 && st.mtimeMs > born) {
    throw refuse(`the base was written at ${new Date(st.mtimeMs).toISOString()}, after the disk was created (${new Date(born).toISOString()}): it is a rebuilt image`);
  }
  writeRecord(disk, backing, st, sha);
  return { backing, note: 'recorded the base image’s identity' };
}

function gone(disk: string, backing: string): BerthFailure {
  const rec = readBaseRecord(disk);
  return new BerthFailure(
    'E_DISK_BASE',
    `the disk's base image ${backing} is gone (the image cache was cleared?)${rec ? `; the disk needs the base with sha256 ${rec.sha256}` : ''}`,
    `Put the original image back (or point BERTH_IMAGE_DIR at a copy of it) and start again; a rebuilt image does not fit this disk. Without the original the Docker data cannot be read safely: \`berth delete\` starts this instance over (it deletes its Docker data).`,
  );
}

function mismatch(disk: string, rec: BaseRecord, backing: string, now: { size: number; sha256: string } | undefined): BerthFailure {
  if (!now) return gone(disk, backing);
  return new BerthFailure(
    'E_DISK_BASE',
    `the disk's base image changed: ${disk} was created on sha256 ${rec.sha256} (${rec.size} bytes), but ${backing} now has sha256 ${now.sha256} (${now.size} bytes)`,
    `Berth will not boot it: the disk holds only the changes to its original base, and on another base the Docker data would be corrupted. ` +
      `If you still have the original base image (sha256 ${short(rec.sha256)}…), put it back at ${backing} and start again; to stop depending on it, make the disk standalone while it is there: ` +
      `\`qemu-img convert -O qcow2 ${disk} ${disk}.new && mv ${disk}.new ${disk}\`. ` +
      `Without the original the data cannot be read safely: \`berth delete\` starts this instance over (it deletes its Docker data).`,
  );
}

function short(sha: string): string {
  return sha.slice(0, 12);
}

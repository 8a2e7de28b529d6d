// Which QEMU build a saved state belongs to, by content: the same binary may live at another path
// on every launch (macOS App Translocation runs an app from Downloads or the dmg at a random
// path), and two builds may print the same version. The digest is cached by path, size, inode
// and times, so a start hashes the binary only when it is new or changed.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../atomic.js';
import { sha256File } from '../file-hash.js';

interface Entry {
  path: string;
  size: number;
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
  sha256: string;
}

/** Enough for every QEMU a user switches between, small enough that translocated paths do not pile up. */
const KEEP = 16;

export const DIGEST_CACHE = 'qemu-digests.json';

export async function binaryDigest(file: string, cacheDir: string, hash: (f: string) => Promise<string> = sha256File): Promise<string> {
  const st = fs.statSync(file);
  const key = { path: file, size: st.size, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
  const cacheFile = path.join(cacheDir, DIGEST_CACHE);
  let entries: Entry[] = [];
  try {
    const j = JSON.parse(fs.readFileSync(cacheFile, 'utf8')) as unknown;
    if (Array.isArray(j)) entries = j.filter((e): e is Entry => !!e && typeof (e as Entry).path === 'string' && typeof (e as Entry).sha256 === 'string');
  } catch {
    // no cache yet, or a garbled one: hash again
  }
  const hit = entries.find((e) => e.path === key.path && e.size === key.size && e.ino === key.ino && e.mtimeMs === key.mtimeMs && e.ctimeMs === key.ctimeMs);
  if (hit) return hit.sha256;
  const sha256 = await hash(file);
  try {
    fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    writeFileAtomic(cacheFile, JSON.stringify([{ ...key, sha256 }, ...entries.filter((e) => e.path !== file)].slice(0, KEEP), null, 1));
  } catch {
    // a cache we cannot write only costs a hash at the next start
  }
  return sha256;
}

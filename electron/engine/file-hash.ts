// Content hashes of large files (the base image, the saved VM state, the QEMU binary), read in
// big chunks: hashing a few hundred MB from the page cache takes a fraction of a second.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

const CHUNK = 4 * 2 ** 20;

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (!bytesRead) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

export interface FollowedHash {
  /** Call once the writer has finished: hashes the rest of the file and returns the total. */
  finish(): Promise<{ sha256: string; bytes: number }>;
  cancel(): void;
}

/**
 * Hashes a file while another process is still appending to it, so the digest is ready moments
 * after the writer ends instead of costing a second full read. The file need not exist yet.
 */
export function followHash(file: string, pollMs = 20): FollowedHash {
  const h = createHash('sha256');
  let bytes = 0;
  let writerDone = false;
  let cancelled = false;
  const loop = (async () => {
    let fh: FileHandle | undefined;
    const buf = Buffer.allocUnsafe(CHUNK);
    try {
      while (!cancelled) {
        // Read before looking at the flag is not enough: only a read that began after the writer
        // finished may treat an empty result as the end of the file.
        const finalPass = writerDone;
        if (!fh) {
          try {
            fh = await fs.promises.open(file, 'r');
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
            if (finalPass) throw new Error(`${file} was never written`);
            await sleep(pollMs);
            continue;
          }
        }
        const { bytesRead } = await fh.read(buf, 0, CHUNK, bytes);
        if (bytesRead) {
          h.update(buf.subarray(0, bytesRead));
          bytes += bytesRead;
          continue;
        }
        if (finalPass) return;
        await sleep(pollMs);
      }
    } finally {
      await fh?.close();
    }
  })();
  // A failure surfaces through finish(); until then it must not count as unhandled.
  loop.catch(() => undefined);
  return {
    async finish() {
      writerDone = true;
      await loop;
      if (cancelled) throw new Error('hashing was cancelled');
      return { sha256: h.digest('hex'), bytes };
    },
    cancel() {
      cancelled = true;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

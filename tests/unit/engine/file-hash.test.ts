// The saved VM state's checksum is taken while QEMU writes the file: it must equal the hash of
// the finished file, however the writes were split up and whenever the file appeared.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { followHash, sha256File } from '../../../electron/engine/file-hash.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('followHash', () => {
  it('hashes a file that appears late and grows in uneven writes, up to its last byte', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fh-')), 'state');
    const h = followHash(file, 5);
    await tick(30);
    const parts = [1, 4 * 2 ** 20 + 3, 0, 777, 9 * 2 ** 20, 1].map((n) => randomBytes(n));
    for (const part of parts) {
      fs.appendFileSync(file, part);
      await tick(10);
    }
    // The writer's very last bytes land just before finish(): they must be counted.
    const tail = randomBytes(12345);
    fs.appendFileSync(file, tail);
    const all = Buffer.concat([...parts, tail]);
    expect(await h.finish()).toEqual({ sha256: sha(all), bytes: all.length });
    expect(await sha256File(file)).toBe(sha(all));
  });

  it('a file that never appeared is an error from finish(), never an unhandled one', async () => {
    const h = followHash(path.join(os.tmpdir(), `fh-missing-${process.pid}-${Date.now()}`), 5);
    await tick(20);
    await expect(h.finish()).rejects.toThrow(/was never written/);
  });

  it('cancel stops following', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fh-')), 'state');
    fs.writeFileSync(file, 'abc');
    const h = followHash(file, 5);
    h.cancel();
    await expect(h.finish()).rejects.toThrow(/cancelled/);
  });
});

// The record of which base image an instance disk was created on, and the check before every
// boot and resume (no qemu-img here: the check is given the disk's backing file directly; the
// whole path with real qcow2 files is tests/integration/base-identity.test.ts).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { checkBase, readBaseRecord, recordNewBase } from '../../../electron/engine/disk-base.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;
let base: string;
let disk: string;
let bytes: Buffer;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'disk-base-'));
  base = path.join(dir, 'img', 'base.qcow2');
  disk = path.join(dir, 'inst', 'disk.qcow2');
  fs.mkdirSync(path.dirname(base));
  fs.mkdirSync(path.dirname(disk));
  bytes = randomBytes(256 * 1024);
  fs.writeFileSync(base, bytes);
  fs.writeFileSync(disk, 'overlay');
  await recordNewBase(disk, { disk: base, manifest: { disk: { size: bytes.length, sha256: sha(bytes) } } });
});

describe('the base record', () => {
  it('holds the base’s digest and size beside the disk', () => {
    expect(readBaseRecord(disk)).toMatchObject({ version: 1, path: base, size: bytes.length, sha256: sha(bytes) });
    expect(fs.existsSync(path.join(dir, 'inst', 'base.json'))).toBe(true);
  });

  it('an unchanged base passes on a stat alone', async () => {
    expect(await checkBase(disk, base)).toEqual({ backing: base });
  });

  it('a base touched or copied back (same bytes) passes after one full hash, and the record is refreshed', async () => {
    const t = new Date(Date.now() + 60_000);
    fs.utimesSync(base, t, t);
    expect(await checkBase(disk, base)).toEqual({ backing: base, note: 'base image verified by content' });
    expect(await checkBase(disk, base)).toEqual({ backing: base });
  });

  it('a base with other bytes of the same size is refused, naming both digests', async () => {
    const other = Buffer.from(bytes);
    other[4096] ^= 0xff;
    fs.writeFileSync(base, other);
    await expect(checkBase(disk, base)).rejects.toMatchObject({
      code: 'E_DISK_BASE',
      message: `the disk's base image changed: ${disk} was created on sha256 ${sha(bytes)} (${bytes.length} bytes), but ${base} now has sha256 ${sha(other)} (${other.length} bytes)`,
      hint: expect.stringMatching(/put it back at .*base\.qcow2.*qemu-img convert -O qcow2 .*`berth delete` starts this instance over \(it deletes its Docker data\)/),
    });
  });

  it('a base that is gone is refused with the digest it needs', async () => {
    fs.rmSync(base);
    await expect(checkBase(disk, base)).rejects.toMatchObject({ code: 'E_DISK_BASE', message: expect.stringContaining(`is gone (the image cache was cleared?); the disk needs the base with sha256 ${sha(bytes)}`) });
  });

  it('a new disk is never recorded against a base that differs from its manifest', async () => {
    await expect(recordNewBase(disk, { disk: base, manifest: { disk: { size: bytes.length, sha256: 'f'.repeat(64) } } })).rejects.toMatchObject({ code: 'E_IMAGE' });
  });
});

// Publishing the guest images: build/release-manifest.mjs (one manifest from a built image
// directory) and build/release-images.sh (both architectures, one release tag, the files staged
// for `gh release upload`), on stand-in image directories. Never writes into resources/images.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFakeImage } from '../../fixtures/fake-image.js';

const require = createRequire(import.meta.url);
const repo = path.resolve(import.meta.dirname, '../../..');
const gate = require(path.join(repo, 'build/image-manifests.cjs')) as { manifestProblems: (json: unknown, arch?: string) => string[] };

interface Manifest {
  schema: number;
  arch: string;
  version: string;
  files: { role: string; name: string; url: string; size: number; sha256: string }[];
}

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-release-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(cmd: string, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const clean = { ...process.env };
  delete clean.GITHUB_REPOSITORY;
  delete clean.BERTH_IMAGES_REPO;
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...clean, ...env }, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const read = (f: string): Manifest => JSON.parse(fs.readFileSync(f, 'utf8')) as Manifest;

describe('build/release-manifest.mjs', () => {
  it('writes a manifest the app can download from: the fork’s release URL, real sizes and digests', () => {
    const img = makeFakeImage(tmp, 'aarch64');
    const out = path.join(tmp, 'aarch64.json');
    const r = run(process.execPath, [path.join(repo, 'build/release-manifest.mjs'), img.dir, '--tag', 'images-x', '--out', out], { GITHUB_REPOSITORY: 'someone/berth-fork' });
    expect(r.status, r.stderr).toBe(0);
    const m = read(out);
    expect(m).toMatchObject({ schema: 1, arch: 'aarch64', version: '2026.12.01-fedcba9876543210' });
    expect(m.files).toEqual([
      { role: 'kernel', name: 'vmlinuz', url: 'https://github.com/someone/berth-fork/releases/download/images-x/aarch64-vmlinuz', size: 4096, sha256: img.sha256.vmlinuz },
      { role: 'initrd', name: 'initrd', url: 'https://github.com/someone/berth-fork/releases/download/images-x/aarch64-initrd', size: 2048, sha256: img.sha256.initrd },
      { role: 'disk', name: 'base.qcow2', url: 'https://github.com/someone/berth-fork/releases/download/images-x/aarch64-base.qcow2', size: 65536, sha256: img.sha256['base.qcow2'] },
    ]);
    expect(gate.manifestProblems(m, 'aarch64')).toEqual([]);
  });

  it('refuses a file whose bytes do not match the build’s manifest, and writes nothing', () => {
    const img = makeFakeImage(tmp, 'x86_64');
    const disk = path.join(img.dir, 'base.qcow2');
    const bytes = fs.readFileSync(disk);
    bytes[100] ^= 0xff;
    fs.writeFileSync(disk, bytes);
    const out = path.join(tmp, 'x86_64.json');
    const r = run(process.execPath, [path.join(repo, 'build/release-manifest.mjs'), img.dir, '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/base\.qcow2: sha256 [0-9a-f]{64} on disk, [0-9a-f]{64} in manifest\.json/);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('build/release-images.sh', () => {
  it('stages both images under one tag, with manifests and SHA256SUMS, ready for gh release upload', () => {
    const x = makeFakeImage(tmp, 'x86_64');
    const a = makeFakeImage(tmp, 'aarch64');
    const out = path.join(tmp, 'stage');
    const manifests = path.join(tmp, 'manifests');
    const r = run('bash', [path.join(repo, 'build/release-images.sh'), '--image-dir', `x86_64=${x.dir}`, '--image-dir', `aarch64=${a.dir}`, '--out', out, '--manifests', manifests, '--repo', 'someone/berth-fork']);
    expect(r.status, r.stderr).toBe(0);
    const tag = r.stdout.trim().split('\n').at(-1)!;
    expect(tag).toMatch(/^images-\d{4}\.\d{2}\.\d{2}-[0-9a-f]{12}$/);
    expect(fs.readdirSync(out).sort()).toEqual(['SHA256SUMS', 'aarch64-base.qcow2', 'aarch64-initrd', 'aarch64-vmlinuz', 'aarch64.json', 'x86_64-base.qcow2', 'x86_64-initrd', 'x86_64-vmlinuz', 'x86_64.json']);
    for (const img of [x, a]) {
      const m = read(path.join(manifests, `${img.arch}.json`));
      expect(read(path.join(out, `${img.arch}.json`))).toEqual(m);
      for (const f of m.files) {
        expect(f.url).toBe(`https://github.com/someone/berth-fork/releases/download/${tag}/${img.arch}-${f.name}`);
        // the staged asset is the file the manifest describes
        expect(createHash('sha256').update(fs.readFileSync(path.join(out, `${img.arch}-${f.name}`))).digest('hex')).toBe(f.sha256);
      }
    }
    const sums = fs.readFileSync(path.join(out, 'SHA256SUMS'), 'utf8').trim().split('\n');
    expect(sums).toHaveLength(6);
    expect(sums).toContain(`${a.sha256['base.qcow2']}  aarch64-base.qcow2`);
  });

  it('builds what it is not given, with the image builder', () => {
    const built = makeFakeImage(tmp, 'aarch64');
    const builder = path.join(tmp, 'fake-build-image.sh');
    fs.writeFileSync(builder, `#!/bin/sh\n[ "$1" = aarch64 ] && [ "$2" = --print-dir ] || exit 9\necho "build-image: cached" >&2\necho "${built.dir}"\n`, { mode: 0o755 });
    const out = path.join(tmp, 'stage');
    const r = run('bash', [path.join(repo, 'build/release-images.sh'), '--arch', 'aarch64', '--tag', 'images-test', '--out', out, '--manifests', path.join(tmp, 'm')], { BERTH_IMAGE_BUILDER: builder });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('images-test');
    expect(read(path.join(tmp, 'm', 'aarch64.json')).files[0].url).toBe('https://github.com/berth-app/berth/releases/download/images-test/aarch64-vmlinuz');
  });

  it('refuses an image directory of the wrong architecture', () => {
    const x = makeFakeImage(tmp, 'x86_64');
    const r = run('bash', [path.join(repo, 'build/release-images.sh'), '--arch', 'aarch64', '--image-dir', `aarch64=${x.dir}`, '--out', path.join(tmp, 's'), '--manifests', path.join(tmp, 'm')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/is for x86_64, not aarch64/);
    expect(fs.existsSync(path.join(tmp, 'm', 'aarch64.json'))).toBe(false);
  });
});

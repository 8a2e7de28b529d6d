// The packaging gate for guest-image manifests (build/image-manifests.cjs, run by
// build/after-pack.cjs): a placeholder manifest (sha256 PENDING) would make a Mac's first Start
// fail at "Guest image", so packing refuses it unless BERTH_ALLOW_PLACEHOLDER_IMAGES=1.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const repo = path.resolve(import.meta.dirname, '../../..');
const gate = require(path.join(repo, 'build/image-manifests.cjs')) as {
  manifestProblems: (json: unknown, arch?: string) => string[];
  checkImageManifests: (dir: string, o?: { requiredArch?: string; env?: Record<string, string>; label?: string }) => { ok: boolean; problems: string[]; checked: string[]; message?: string };
};
const afterPack = require(path.join(repo, 'build/after-pack.cjs')) as {
  checkShippedImages: (ctx: unknown, resources: string, env?: Record<string, string>) => { ok: boolean };
};

const SHA = 'a'.repeat(64);
const good = (arch: string): Record<string, unknown> => ({
  schema: 1,
  arch,
  version: '2026.12.01-0123456789abcdef',
  files: [
    { role: 'kernel', name: 'vmlinuz', url: `https://github.com/o/r/releases/download/t/${arch}-vmlinuz`, size: 8222656, sha256: SHA },
    { role: 'initrd', name: 'initrd', url: `https://github.com/o/r/releases/download/t/${arch}-initrd`, size: 1698546, sha256: SHA },
    { role: 'disk', name: 'base.qcow2', url: `https://github.com/o/r/releases/download/t/${arch}-base.qcow2`, size: 661979136, sha256: SHA },
  ],
});
const placeholder = JSON.parse(fs.readFileSync(path.join(repo, 'resources/images/aarch64.json'), 'utf8')) as { files: { sha256: string }[] };

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-gate-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function images(manifests: Record<string, unknown>): string {
  const dir = path.join(tmp, 'Resources', 'images');
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, m] of Object.entries(manifests)) fs.writeFileSync(path.join(dir, name), typeof m === 'string' ? m : JSON.stringify(m));
  return dir;
}

describe('guest-image manifest gate', () => {
  it('accepts published manifests', () => {
    expect(gate.manifestProblems(good('aarch64'), 'aarch64')).toEqual([]);
    const r = gate.checkImageManifests(images({ 'aarch64.json': good('aarch64'), 'x86_64.json': good('x86_64') }), { requiredArch: 'aarch64', env: {} });
    expect(r).toMatchObject({ ok: true, problems: [], checked: ['aarch64.json', 'x86_64.json'] });
  });

  it('refuses a placeholder with a message that says what breaks and how to publish', () => {
    const dir = images({ 'aarch64.json': placeholder, 'x86_64.json': good('x86_64') });
    let err: Error | undefined;
    try {
      gate.checkImageManifests(dir, { requiredArch: 'aarch64', env: {}, label: 'images' });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(/refusing to pack .* first Start would fail at "Guest image"/);
    expect(err?.message).toContain('images/aarch64.json: files[0].sha256 is "PENDING", not 64 lowercase hex digits (a placeholder)');
    expect(err?.message).toContain('images/aarch64.json: version is "unpublished": the image is not published');
    expect(err?.message).toMatch(/"Release images" workflow .*build\/release-images\.sh/);
    expect(err?.message).toContain('BERTH_ALLOW_PLACEHOLDER_IMAGES=1');
  });

  it('lets a test pack through with BERTH_ALLOW_PLACEHOLDER_IMAGES=1, still reporting the problems', () => {
    const r = gate.checkImageManifests(images({ 'aarch64.json': placeholder }), { requiredArch: 'aarch64', env: { BERTH_ALLOW_PLACEHOLDER_IMAGES: '1' } });
    expect(r.ok).toBe(false);
    expect(r.problems.length).toBeGreaterThan(0);
    expect(r.message).toMatch(/placeholder/);
  });

  it('refuses a missing manifest for the app’s guest architecture, bad JSON and other malformed fields', () => {
    expect(() => gate.checkImageManifests(images({ 'x86_64.json': good('x86_64') }), { requiredArch: 'aarch64', env: {} })).toThrow(/aarch64\.json: missing/);
    expect(() => gate.checkImageManifests(images({ 'aarch64.json': '{"schema":' }), { env: {} })).toThrow(/aarch64\.json: not JSON/);
    const m = good('aarch64') as { files: Record<string, unknown>[] };
    m.files[0] = { ...m.files[0], sha256: SHA.toUpperCase() };
    m.files[1] = { ...m.files[1], size: 1 };
    m.files[2] = { ...m.files[2], url: 'ftp://x/y' };
    expect(gate.manifestProblems(m, 'aarch64')).toEqual([
      `files[0].sha256 is "${SHA.toUpperCase()}", not 64 lowercase hex digits`,
      'files[1].size 1 is not a real file size',
      'files[2].url must be an http(s) URL',
    ]);
    expect(gate.manifestProblems(good('x86_64'), 'aarch64')).toEqual(['arch is x86_64, but the file is named for aarch64']);
  });

  it('runs from after-pack on the packed Resources: macOS arm64 needs the aarch64 manifest', () => {
    images({ 'aarch64.json': placeholder, 'x86_64.json': good('x86_64') });
    const ctx = { electronPlatformName: 'darwin', arch: 3 };
    expect(() => afterPack.checkShippedImages(ctx, path.join(tmp, 'Resources'), {})).toThrow(/images\/aarch64\.json: files\[0\]\.sha256 is "PENDING"/);
    expect(afterPack.checkShippedImages(ctx, path.join(tmp, 'Resources'), { BERTH_ALLOW_PLACEHOLDER_IMAGES: '1' }).ok).toBe(false);
  });

  it('matches the app’s own manifest rules on the repository’s manifests', async () => {
    const { parseReleaseManifest } = await import('../../../electron/engine/image/manifest.js');
    for (const arch of ['x86_64', 'aarch64']) {
      const json = JSON.parse(fs.readFileSync(path.join(repo, 'resources/images', `${arch}.json`), 'utf8')) as unknown;
      const appAccepts = ((): boolean => {
        try {
          parseReleaseManifest(json);
          return true;
        } catch {
          return false;
        }
      })();
      // the gate is at least as strict as the app: what it passes, the app can download
      if (gate.manifestProblems(json, arch).length === 0) expect(appAccepts, arch).toBe(true);
      if (!appAccepts) expect(gate.manifestProblems(json, arch).length, arch).toBeGreaterThan(0);
    }
  });
});

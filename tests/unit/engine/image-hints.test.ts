// What a Mac user sees when the guest image cannot be had: a hint a GUI user can act on (where to
// get a working Berth), not only an environment variable for the terminal.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFile, releasesPageOf } from '../../../electron/engine/image/download.js';
import { loadReleaseManifest, parseReleaseManifest } from '../../../electron/engine/image/manifest.js';
import type { ImageError } from '../../../electron/engine/image/manifest.js';

const repo = path.resolve(import.meta.dirname, '../../..');
let server: http.Server;
let base: string;
let home: string;

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-hints-'));
  server = http.createServer((_req, res) => {
    res.statusCode = 404;
    res.end('Not Found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  fs.rmSync(home, { recursive: true, force: true });
});

const caught = (fn: () => unknown): ImageError => {
  try {
    fn();
  } catch (e) {
    return e as ImageError;
  }
  throw new Error('did not throw');
};

describe('image hints for a GUI user', () => {
  it('an unpublished manifest points at the releases page, not at BERTH_IMAGE_DIR', () => {
    const placeholder = JSON.parse(fs.readFileSync(path.join(repo, 'resources/images/aarch64.json'), 'utf8')) as { files: { sha256: string }[] };
    const err = caught(() => parseReleaseManifest({ ...placeholder, files: placeholder.files.map((f) => ({ ...f, sha256: 'PENDING' })) }, 'aarch64.json'));
    expect(err.message).toMatch(/not published yet/);
    expect(err.hint).toContain('install Berth from its releases page (https://github.com/berth-app/berth/releases)');
    expect(err.hint).not.toContain('BERTH_IMAGE_DIR');
    const missing = caught(() => loadReleaseManifest(path.join(home, 'no-resources'), 'aarch64'));
    expect(missing.hint).toMatch(/^Reinstall Berth from its releases page/);
    expect(missing.hint).not.toContain('BERTH_IMAGE_DIR');
  });

  it('a 404 names where to get a Berth whose image exists', async () => {
    const err = (await downloadFile({ url: `${base}/images-x/aarch64-vmlinuz`, size: 10, sha256: 'a'.repeat(64) }, { berthHome: home, retries: 0 }).catch((e: unknown) => e)) as ImageError;
    expect(err.reason).toBe('not-found');
    expect(err.hint).toContain(`install the latest Berth from ${base}`);
    expect(err.hint).toContain('`berth start --image PATH`');
  });

  it('derives the releases page of a fork from its image URL', () => {
    expect(releasesPageOf('https://github.com/someone/berth-fork/releases/download/images-2026.12.01-abc/aarch64-vmlinuz')).toBe('https://github.com/someone/berth-fork/releases');
    expect(releasesPageOf('https://images.example.org/berth/aarch64-vmlinuz')).toBe('https://images.example.org');
  });
});

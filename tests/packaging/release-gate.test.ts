// What a Mac's first Start depends on, checked on a real electron-builder pack of the macOS arm64
// `dir` target against a stand-in Electron.app (as in pack.test.ts):
//  - packing refuses a placeholder guest-image manifest (sha256 PENDING) unless the test escape
//    BERTH_ALLOW_PLACEHOLDER_IMAGES=1 is set, and ships published manifests as they are;
//  - Info.plist turns App Nap off and carries the privacy usage descriptions that sharing the home
//    folder needs, and the macOS floor the bundled QEMU is verified against.
// ~3–10 s per pack: npx vitest run --config tests/vitest.packaging.mts
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFakeImage } from '../fixtures/fake-image.js';
import { codesignStub, FLIPPED, fusesOf } from './stand-in-fuses.js';
import { macStandIn, put } from './stand-in-electron.js';

const repo = path.resolve(import.meta.dirname, '../..');
const cli = path.join(repo, 'node_modules/electron-builder/cli.js');

let tmp: string;

/** A throw-away project: the real build config and hooks, stand-in app code, the given manifests. */
function makeProject(dir: string, manifests: string): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as Record<string, unknown>;
  pkg.packageManager = 'traversal@1.0.0';
  put(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2));
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  for (const f of ['electron-builder.yml', 'entitlements.mac.plist', 'entitlements.mac.inherit.plist', 'entitlements.qemu.plist', 'after-pack.cjs', 'image-manifests.cjs', 'mac/sign.cjs']) {
    put(path.join(dir, 'build', f), fs.readFileSync(path.join(repo, 'build', f)));
  }
  put(path.join(dir, 'dist/electron/main/index.js'), '// stand-in main\n');
  put(path.join(dir, 'renderer/dist/index.html'), '<!doctype html><title>Berth</title>\n');
  put(path.join(dir, 'resources/tray/trayTemplate.png'), 'png');
  put(path.join(dir, 'resources/qemu/README.md'), 'no bundle in this test\n');
  fs.cpSync(manifests, path.join(dir, 'resources/images'), { recursive: true });
}

function pack(dir: string, env: Record<string, string> = {}, extra: string[] = []): { status: number | null; output: string; app: string } {
  const out = path.join(dir, 'out');
  const clean = { ...process.env };
  delete clean.BERTH_ALLOW_PLACEHOLDER_IMAGES;
  const r = spawnSync(
    process.execPath,
    [cli, '--config', 'build/electron-builder.yml', '--mac', 'dir', '--arm64', `-c.electronDist=${path.join(tmp, 'electron-mac')}`, '-c.npmRebuild=false', `-c.directories.output=${out}`, '-c.mac.identity=null', '--publish', 'never', ...extra],
    { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...clean, ...codesignStub(path.join(tmp, 'bin')).env(clean), CSC_IDENTITY_AUTO_DISCOVERY: 'false', ELECTRON_BUILDER_CACHE: path.join(tmp, 'eb-cache'), ...env } },
  );
  return { status: r.status, output: `${r.stdout}\n${r.stderr}`, app: path.join(out, 'mac-arm64', 'Berth.app') };
}

/** Manifests as build/release-images.sh writes them, for stand-in images. */
function publishedManifests(): string {
  const dir = path.join(tmp, 'published');
  const r = spawnSync(
    'bash',
    [path.join(repo, 'build/release-images.sh'), '--image-dir', `x86_64=${makeFakeImage(tmp, 'x86_64').dir}`, '--image-dir', `aarch64=${makeFakeImage(tmp, 'aarch64').dir}`, '--out', path.join(tmp, 'stage'), '--manifests', dir, '--repo', 'berth-app/berth'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0) throw new Error(`release-images.sh failed: ${r.stderr}`);
  return dir;
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-gate-pack-'));
  macStandIn(path.join(tmp, 'electron-mac'));
}, 60_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('packing refuses a placeholder guest-image manifest', () => {
  const placeholder = JSON.parse(fs.readFileSync(path.join(repo, 'resources/images/aarch64.json'), 'utf8')) as { files: { sha256: string }[] };

  it('fails with the reason and the way out when aarch64.json is a placeholder', () => {
    const dir = path.join(tmp, 'placeholder');
    const manifests = path.join(tmp, 'placeholder-manifests');
    fs.mkdirSync(manifests, { recursive: true });
    fs.copyFileSync(path.join(repo, 'resources/images/x86_64.json'), path.join(manifests, 'x86_64.json'));
    fs.writeFileSync(path.join(manifests, 'aarch64.json'), JSON.stringify({ ...placeholder, files: placeholder.files.map((f) => ({ ...f, sha256: 'PENDING' })) }));
    makeProject(dir, manifests);
    const r = pack(dir);
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain('refusing to pack an app whose guest-image manifest is a placeholder');
    expect(r.output).toContain('images/aarch64.json: files[0].sha256 is "PENDING"');
    expect(r.output).toContain('BERTH_ALLOW_PLACEHOLDER_IMAGES=1');

    // the escape, for test packs only
    fs.rmSync(path.join(dir, 'out'), { recursive: true, force: true });
    const escaped = pack(dir, { BERTH_ALLOW_PLACEHOLDER_IMAGES: '1' });
    expect(escaped.status, escaped.output).toBe(0);
    expect(escaped.output).toContain('continuing: BERTH_ALLOW_PLACEHOLDER_IMAGES=1');
  }, 240_000);
});

describe('a pack with published manifests', () => {
  let app: string;
  let manifests: string;
  let plist: string;

  beforeAll(() => {
    manifests = publishedManifests();
    const dir = path.join(tmp, 'published-proj');
    makeProject(dir, manifests);
    const r = pack(dir);
    if (r.status !== 0) throw new Error(`electron-builder failed (${r.status}):\n${r.output}`);
    expect(r.output).toContain('berth after-pack: image manifests aarch64.json, x86_64.json name published images');
    app = r.app;
    plist = fs.readFileSync(path.join(app, 'Contents/Info.plist'), 'utf8');
  }, 180_000);

  it('ships the manifests unchanged under Contents/Resources/images', () => {
    for (const arch of ['aarch64', 'x86_64']) {
      expect(fs.readFileSync(path.join(app, 'Contents/Resources/images', `${arch}.json`), 'utf8')).toBe(fs.readFileSync(path.join(manifests, `${arch}.json`), 'utf8'));
    }
  });

  it('turns App Nap off in Info.plist', () => {
    expect(plist).toMatch(/<key>LSAppNapIsDisabled<\/key>\s*<true\/>/);
  });

  it('explains the privacy prompts that sharing the home folder raises', () => {
    for (const key of [
      'NSDocumentsFolderUsageDescription',
      'NSDesktopFolderUsageDescription',
      'NSDownloadsFolderUsageDescription',
      'NSRemovableVolumesUsageDescription',
      'NSNetworkVolumesUsageDescription',
      'NSFileProviderDomainUsageDescription',
    ]) {
      expect(plist, key).toMatch(new RegExp(`<key>${key}</key>\\s*<string>Berth shares folders with Docker containers \\(bind mounts\\)\\.[^<]+</string>`));
    }
  });

  it('declares macOS 14.0, the floor the bundled QEMU is verified against', () => {
    expect(plist).toMatch(/<key>LSMinimumSystemVersion<\/key>\s*<string>14\.0<\/string>/);
  });
});

describe('the pack the macOS workflow drives with Playwright', () => {
  it('keeps the release fuses except --inspect, which Playwright’s _electron needs to attach', async () => {
    const flag = '-c.electronFuses.enableNodeCliInspectArguments=true';
    expect(fs.readFileSync(path.join(repo, '.github/workflows/macos.yml'), 'utf8')).toContain(flag);
    const dir = path.join(tmp, 'e2e-proj');
    const manifests = path.join(tmp, 'published');
    makeProject(dir, fs.existsSync(manifests) ? manifests : publishedManifests());
    const r = pack(dir, {}, [flag]);
    expect(r.status, r.output).toBe(0);
    expect(await fusesOf(r.app)).toEqual({ ...FLIPPED, EnableNodeCliInspectArguments: '1' });
  }, 180_000);
});

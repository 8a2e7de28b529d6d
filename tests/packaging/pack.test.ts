// A real electron-builder 26 pack of the macOS arm64 `dir` target, offline, against a stand-in
// Electron.app (the Electron binary cannot be downloaded on the build machines), from a throw-away copy of the project:
//   <tmp>/proj/{package.json, build/…, dist/, renderer/dist/, resources/…, node_modules → repo}
// The copy carries a fake QEMU bundle in resources/qemu (the real one is made on a Mac by
// build/mac/bundle-qemu.sh) and `"packageManager": "traversal@1.0.0"`, which makes electron-builder
// walk node_modules itself: `npm ls` cannot see through the node_modules symlink. dist/ and
// renderer/dist/ are copied from the repo when built (compiled with tsc into the copy otherwise;
// a stand-in page replaces a missing renderer build).
// Takes ~5–10 s, hence its own config: npx vitest run --config tests/vitest.packaging.mts
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { codesignStub, FLIPPED, fuseCarrier, fusesOf } from './stand-in-fuses.js';
import { MACHO, macStandIn, put } from './stand-in-electron.js';

const require = createRequire(import.meta.url);
const repo = path.resolve(import.meta.dirname, '../..');
const cli = path.join(repo, 'node_modules/electron-builder/cli.js');

let tmp: string;
let proj: string;
let out: string;
let app: string;
let packMs = 0;
let packLog = '';

/** What electron-builder needs of a Linux Electron dist: a dir with an `electron` script, `resources/` and `LICENSE`. */
function linuxStandIn(dir: string): void {
  put(path.join(dir, 'electron'), fuseCarrier('#!/bin/sh\nexit 0\n'), 0o755);
  fs.mkdirSync(path.join(dir, 'resources'), { recursive: true });
  put(path.join(dir, 'LICENSE'), 'MIT');
}

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true, dereference: true });
}

function makeProject(): void {
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as Record<string, unknown>;
  pkg.packageManager = 'traversal@1.0.0';
  put(path.join(proj, 'package.json'), JSON.stringify(pkg, null, 2));
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(proj, 'node_modules'), 'dir');

  for (const f of ['electron-builder.yml', 'entitlements.mac.plist', 'entitlements.mac.inherit.plist', 'entitlements.qemu.plist', 'after-pack.cjs', 'image-manifests.cjs', 'mac/sign.cjs']) {
    put(path.join(proj, 'build', f), fs.readFileSync(path.join(repo, 'build', f)));
  }

  const main = path.join(repo, 'dist/electron/main/index.js');
  if (fs.existsSync(main)) {
    copyDir(path.join(repo, 'dist'), path.join(proj, 'dist'));
  } else {
    // Not built yet: compile into the copy (tsc emits even when others' code has type errors).
    spawnSync(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', path.join(repo, 'tsconfig.json'), '--outDir', path.join(proj, 'dist')], {
      stdio: 'ignore',
      timeout: 120_000,
    });
    if (!fs.existsSync(path.join(proj, 'dist/electron/main/index.js'))) put(path.join(proj, 'dist/electron/main/index.js'), '// stand-in main\n');
  }
  if (fs.existsSync(path.join(repo, 'renderer/dist/index.html'))) copyDir(path.join(repo, 'renderer/dist'), path.join(proj, 'renderer/dist'));
  else put(path.join(proj, 'renderer/dist/index.html'), '<!doctype html><title>Berth</title>\n');
  if (fs.existsSync(path.join(repo, 'resources/tray'))) copyDir(path.join(repo, 'resources/tray'), path.join(proj, 'resources/tray'));
  else put(path.join(proj, 'resources/tray/trayTemplate.png'), 'png');
  copyDir(path.join(repo, 'resources/images'), path.join(proj, 'resources/images'));

  // What build/mac/bundle-qemu.sh leaves in resources/qemu, in miniature.
  const q = path.join(proj, 'resources/qemu');
  put(path.join(q, 'README.md'), fs.readFileSync(path.join(repo, 'resources/qemu/README.md')));
  put(path.join(q, '.gitignore'), '*\n');
  put(path.join(q, 'bin/qemu-system-aarch64'), MACHO, 0o755);
  put(path.join(q, 'bin/qemu-img'), MACHO, 0o755);
  put(path.join(q, 'lib/libglib-2.0.0.dylib'), MACHO);
  put(path.join(q, 'lib/libslirp.0.dylib'), MACHO);
  put(path.join(q, 'share/qemu/edk2-aarch64-code.fd'), Buffer.alloc(4096));
  put(path.join(q, 'licenses/qemu/COPYING'), 'GPL-2.0');
  put(path.join(q, 'BUNDLE.json'), '{}\n');
}

function electronBuilder(args: string[]): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: proj,
    encoding: 'utf8',
    timeout: 120_000,
    // never touch a keychain, even when this runs on a Mac; the repo's aarch64 image manifest may
    // still be a placeholder, which only a test pack may ship (tests/packaging/release-gate.test.ts)
    env: { ...process.env, CSC_IDENTITY_AUTO_DISCOVERY: 'false', ELECTRON_BUILDER_CACHE: path.join(tmp, 'eb-cache'), BERTH_ALLOW_PLACEHOLDER_IMAGES: '1' },
  });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

let savedPath: string | undefined;
let codesign: ReturnType<typeof codesignStub>;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-pack-'));
  // the fuse step's ad-hoc re-sign runs `codesign`: a recording stand-in first on PATH
  codesign = codesignStub(path.join(tmp, 'bin'));
  savedPath = process.env.PATH;
  process.env.PATH = codesign.env().PATH;
  proj = path.join(tmp, 'proj');
  out = path.join(tmp, 'out');
  macStandIn(path.join(tmp, 'electron-mac'));
  makeProject();
  const t0 = Date.now();
  const r = electronBuilder([
    '--config', 'build/electron-builder.yml',
    '--mac', 'dir', '--arm64',
    `-c.electronDist=${path.join(tmp, 'electron-mac')}`,
    '-c.npmRebuild=false',
    `-c.directories.output=${out}`,
    '-c.mac.identity=null',
    '--publish', 'never',
  ]);
  packMs = Date.now() - t0;
  packLog = r.output;
  if (r.status !== 0) throw new Error(`electron-builder failed (${r.status}):\n${r.output}`);
  app = path.join(out, 'mac-arm64', 'Berth.app');
}, 180_000);

afterAll(() => {
  process.env.PATH = savedPath;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('electron-builder --mac dir --arm64 (stand-in Electron)', () => {
  it('runs our afterPack hook', () => {
    console.log(`pack took ${packMs} ms`); // for the record: how long says more about the machine than about the config
    expect(packLog).toContain('berth after-pack: made executable');
  });

  it('produces the renamed app with LSUIElement in Info.plist', () => {
    const plist = fs.readFileSync(path.join(app, 'Contents/Info.plist'), 'utf8');
    expect(plist).toMatch(/<key>LSUIElement<\/key>\s*<true\/>/);
    expect(plist).toMatch(/<key>CFBundleIdentifier<\/key>\s*<string>app\.berth\.desktop<\/string>/);
    expect(plist).toMatch(/<key>CFBundleExecutable<\/key>\s*<string>Berth<\/string>/);
    expect(plist).toMatch(/<key>LSMinimumSystemVersion<\/key>\s*<string>14\.0<\/string>/);
    expect(fs.existsSync(path.join(app, 'Contents/MacOS/Berth'))).toBe(true);
    for (const h of ['', ' (GPU)', ' (Renderer)', ' (Plugin)']) {
      expect(fs.existsSync(path.join(app, `Contents/Frameworks/Berth Helper${h}.app`))).toBe(true);
    }
  });

  it('flips the Electron fuses in Electron Framework and re-signs ad hoc; Info.plist carries the asar hash', async () => {
    // (given an .app, @electron/fuses reads Contents/Frameworks/Electron Framework.framework/Electron Framework)
    expect(await fusesOf(app)).toEqual(FLIPPED);
    // the stand-in it was copied from still has Electron's defaults: the flip happened in the pack
    expect((await fusesOf(path.join(tmp, 'electron-mac/Electron.app'))).RunAsNode).toBe('1');
    expect(fs.readFileSync(codesign.log, 'utf8').trim().split('\n')).toEqual([`--sign - --force --preserve-metadata=entitlements,requirements,flags,runtime --deep ${app}`]);
    // what the embedded asar integrity fuse checks app.asar against at launch
    const plist = fs.readFileSync(path.join(app, 'Contents/Info.plist'), 'utf8');
    expect(plist).toMatch(/<key>ElectronAsarIntegrity<\/key>\s*<dict>\s*<key>Resources\/app\.asar<\/key>\s*<dict>\s*<key>algorithm<\/key>\s*<string>SHA256<\/string>\s*<key>hash<\/key>\s*<string>[0-9a-f]{64}<\/string>/);
  });

  it('puts the QEMU bundle under Contents/Resources/qemu, executables intact, without the placeholder files', () => {
    const q = path.join(app, 'Contents/Resources/qemu');
    for (const f of ['bin/qemu-system-aarch64', 'bin/qemu-img']) {
      expect(fs.statSync(path.join(q, f)).mode & 0o111, f).toBe(0o111);
    }
    for (const f of ['lib/libglib-2.0.0.dylib', 'lib/libslirp.0.dylib', 'share/qemu/edk2-aarch64-code.fd', 'licenses/qemu/COPYING', 'BUNDLE.json']) {
      expect(fs.existsSync(path.join(q, f)), f).toBe(true);
    }
    expect(fs.existsSync(path.join(q, 'README.md'))).toBe(false);
    expect(fs.existsSync(path.join(q, '.gitignore'))).toBe(false);
  });

  it('ships the guest-image manifests under Contents/Resources/images', () => {
    const images = path.join(app, 'Contents/Resources/images');
    expect(fs.readdirSync(images).sort()).toEqual(fs.readdirSync(path.join(repo, 'resources/images')).filter((f) => f.endsWith('.json')).sort());
  });

  it('unpacks node-pty with its darwin-arm64 prebuild, spawn-helper executable, nothing for other platforms', () => {
    const pty = path.join(app, 'Contents/Resources/app.asar.unpacked/node_modules/node-pty');
    expect(fs.statSync(path.join(pty, 'prebuilds/darwin-arm64/pty.node')).size).toBeGreaterThan(10_000);
    expect(fs.statSync(path.join(pty, 'prebuilds/darwin-arm64/spawn-helper')).mode & 0o777).toBe(0o755);
    expect(fs.readdirSync(path.join(pty, 'prebuilds'))).toEqual(['darwin-arm64']);
    expect(fs.existsSync(path.join(pty, 'build'))).toBe(false); // a Linux source build must not leak in
    expect(fs.existsSync(path.join(pty, 'lib/index.js'))).toBe(true);
    expect(fs.existsSync(path.join(pty, 'src'))).toBe(false);
  });

  it('has an asar with the app code and production dependencies only', () => {
    const asar = require('@electron/asar') as { listPackage: (p: string, o?: unknown) => string[]; extractFile: (p: string, f: string) => Buffer };
    const archive = path.join(app, 'Contents/Resources/app.asar');
    const files = new Set(asar.listPackage(archive).map((f) => f.split(path.sep).join('/')));
    const pkg = JSON.parse(asar.extractFile(archive, 'package.json').toString('utf8')) as { main: string };
    expect(pkg.main).toBe('dist/electron/main/index.js');
    expect(files.has('/dist/electron/main/index.js')).toBe(true);
    expect(files.has('/renderer/dist/index.html')).toBe(true);
    for (const dep of ['ssh2', 'yaml', 'execa', 'cross-spawn', 'node-pty']) expect(files.has(`/node_modules/${dep}`), dep).toBe(true);
    for (const dev of ['electron', 'electron-builder', 'vitest', 'typescript', 'eslint']) expect(files.has(`/node_modules/${dev}`), dev).toBe(false);
    expect([...files].some((f) => f.startsWith('/build/'))).toBe(false);
    expect([...files].some((f) => f.startsWith('/resources/qemu'))).toBe(false);
  });

  it('references entitlements files that exist', () => {
    const cfg = YAML.parse(fs.readFileSync(path.join(repo, 'build/electron-builder.yml'), 'utf8')) as { mac: Record<string, string> };
    for (const key of ['entitlements', 'entitlementsInherit']) expect(fs.existsSync(path.join(repo, cfg.mac[key])), key).toBe(true);
    expect(fs.existsSync(path.join(repo, 'build/entitlements.qemu.plist'))).toBe(true);
  });

  it('fails fast with exit 1 on a typo’d config key', () => {
    const cfg = fs.readFileSync(path.join(proj, 'build/electron-builder.yml'), 'utf8').replace(/^asarUnpack:/m, 'asarUnpak:');
    put(path.join(proj, 'build/typo.yml'), cfg);
    const r = electronBuilder(['--config', 'build/typo.yml', '--mac', 'dir', '--arm64', `-c.electronDist=${path.join(tmp, 'electron-mac')}`, `-c.directories.output=${path.join(tmp, 'out-typo')}`, '--publish', 'never']);
    expect(r.status).toBe(1);
    expect(r.output).toContain("configuration has an unknown property 'asarUnpak'");
    expect(fs.existsSync(path.join(tmp, 'out-typo', 'mac-arm64'))).toBe(false);
  }, 60_000);
});

describe('electron-builder --linux dir (stand-in Electron)', () => {
  it('packs the Linux app: node-pty from its source build, no macOS prebuilds, no QEMU bundle, fuses flipped', async () => {
    linuxStandIn(path.join(tmp, 'electron-linux'));
    const r = electronBuilder([
      '--config', 'build/electron-builder.yml',
      '--linux', 'dir',
      `-c.electronDist=${path.join(tmp, 'electron-linux')}`,
      `-c.directories.output=${out}`,
      '--publish', 'never',
    ]);
    expect(r.status, r.output).toBe(0);
    const res = path.join(out, 'linux-unpacked/resources');
    expect(fs.existsSync(path.join(out, 'linux-unpacked/berth'))).toBe(true);
    // on Linux the wire is in the executable itself
    expect(await fusesOf(path.join(out, 'linux-unpacked/berth'))).toEqual(FLIPPED);
    expect(fs.readdirSync(path.join(res, 'images')).length).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(res, 'qemu'))).toBe(false);
    const pty = path.join(res, 'app.asar.unpacked/node_modules/node-pty');
    expect(fs.existsSync(path.join(pty, 'prebuilds'))).toBe(false);
    if (fs.existsSync(path.join(repo, 'node_modules/node-pty/build/Release/pty.node'))) {
      expect(fs.existsSync(path.join(pty, 'build/Release/pty.node'))).toBe(true);
    }
  }, 120_000);
});

// The electron-builder hooks: build/mac/sign.cjs (per-file entitlements for the bundled QEMU) and
// build/after-pack.cjs (node-pty's spawn-helper mode, the QEMU bundle check).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const repo = path.resolve(import.meta.dirname, '../../..');

interface FileOptions {
  entitlements?: string;
  hardenedRuntime?: boolean;
}
interface SignOpts {
  app: string;
  ignore?: unknown;
  optionsForFile?: (file: string) => FileOptions;
}
const sign = require(path.join(repo, 'build/mac/sign.cjs')) as {
  wrapSignOptions: (o: SignOpts) => { ignore: (f: string) => boolean; optionsForFile: (f: string) => FileOptions; app: string };
  qemuRole: (app: string, file: string) => string | null;
  isMachO: (file: string) => boolean;
  QEMU_ENTITLEMENTS: string;
};
const afterPack = require(path.join(repo, 'build/after-pack.cjs')) as {
  fixSpawnHelpers: (resources: string) => string[];
  checkQemuBundle: (resources: string, env?: Record<string, string>) => { ok: boolean; message?: string };
  resourcesDir: (ctx: unknown) => string;
};

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-hooks-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const MACHO = Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0x00, 0x00, 0x01]); // MH_MAGIC_64, arm64
function put(file: string, content: Buffer | string, mode = 0o644): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
  return file;
}

describe('build/mac/sign.cjs', () => {
  it('gives qemu-system-* the QEMU entitlements and leaves everything else to electron-builder', () => {
    const app = path.join(tmp, 'Berth.app');
    const q = path.join(app, 'Contents/Resources/qemu');
    const system = put(path.join(q, 'bin/qemu-system-aarch64'), MACHO, 0o755);
    const img = put(path.join(q, 'bin/qemu-img'), MACHO, 0o755);
    const lib = put(path.join(q, 'lib/libglib-2.0.0.dylib'), MACHO);
    const fd = put(path.join(q, 'share/qemu/edk2-aarch64-code.fd'), Buffer.alloc(64, 0));
    const lic = put(path.join(q, 'licenses/qemu/COPYING'), 'GPL');
    const helper = path.join(app, 'Contents/Frameworks/Berth Helper (GPU).app');
    const inherit = '/repo/build/entitlements.mac.inherit.plist';
    const wrapped = sign.wrapSignOptions({
      app,
      ignore: (f: string) => f.endsWith('.kext'),
      optionsForFile: (f) => ({ entitlements: f === app ? '/repo/build/entitlements.mac.plist' : inherit, hardenedRuntime: true }),
    });

    expect(wrapped.optionsForFile(system)).toEqual({ entitlements: sign.QEMU_ENTITLEMENTS, hardenedRuntime: true });
    expect(sign.QEMU_ENTITLEMENTS).toBe(path.join(repo, 'build/entitlements.qemu.plist'));
    expect(wrapped.optionsForFile(img)).toEqual({ entitlements: inherit, hardenedRuntime: true });
    expect(wrapped.optionsForFile(lib).entitlements).toBe(inherit);
    expect(wrapped.optionsForFile(helper).entitlements).toBe(inherit);
    expect(wrapped.optionsForFile(app).entitlements).toBe('/repo/build/entitlements.mac.plist');

    // data files are sealed by the app signature, not codesigned one by one
    expect(wrapped.ignore(fd)).toBe(true);
    expect(wrapped.ignore(lic)).toBe(true);
    expect(wrapped.ignore(lib)).toBe(false);
    expect(wrapped.ignore(system)).toBe(false);
    expect(wrapped.ignore(helper)).toBe(false);
    expect(wrapped.ignore('/x/y.kext')).toBe(true); // electron-builder's own rule still applies
    expect(wrapped.app).toBe(app);
  });

  it('accepts signIgnore regex strings too', () => {
    const app = path.join(tmp, 'Berth.app');
    const w = sign.wrapSignOptions({ app, ignore: ['/Contents/PlugIns/'] });
    expect(w.ignore(path.join(app, 'Contents/PlugIns/x'))).toBe(true);
    expect(w.optionsForFile(path.join(app, 'Contents/MacOS/Berth'))).toEqual({});
  });

  it('recognises Mach-O files by their magic number', () => {
    expect(sign.isMachO(put(path.join(tmp, 'thin'), MACHO))).toBe(true);
    expect(sign.isMachO(put(path.join(tmp, 'fat'), Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2])))).toBe(true);
    expect(sign.isMachO(put(path.join(tmp, 'elf'), Buffer.from([0x7f, 0x45, 0x4c, 0x46])))).toBe(false);
    expect(sign.isMachO(put(path.join(tmp, 'short'), 'ab'))).toBe(false);
    expect(sign.isMachO(path.join(tmp, 'missing'))).toBe(false);
  });
});

describe('build/after-pack.cjs', () => {
  it('makes node-pty’s spawn-helper executable', () => {
    const res = path.join(tmp, 'Resources');
    const helper = put(path.join(res, 'app.asar.unpacked/node_modules/node-pty/prebuilds/darwin-arm64/spawn-helper'), MACHO, 0o644);
    expect(afterPack.fixSpawnHelpers(res)).toEqual([helper]);
    expect(fs.statSync(helper).mode & 0o777).toBe(0o755);
    expect(afterPack.fixSpawnHelpers(res)).toEqual([]);
  });

  it('warns about a missing QEMU bundle, and fails a release build', () => {
    const res = path.join(tmp, 'Resources');
    expect(afterPack.checkQemuBundle(res, {})).toMatchObject({ ok: false, message: expect.stringContaining('bundle-qemu.sh') });
    expect(() => afterPack.checkQemuBundle(res, { BERTH_REQUIRE_QEMU: '1' })).toThrow(/no bundled QEMU/);
    put(path.join(res, 'qemu/bin/qemu-system-aarch64'), MACHO, 0o755);
    expect(afterPack.checkQemuBundle(res, { BERTH_REQUIRE_QEMU: '1' }).ok).toBe(true);
  });

  it('finds Resources for mac and Linux layouts', () => {
    const packager = { appInfo: { productFilename: 'Berth' } };
    expect(afterPack.resourcesDir({ electronPlatformName: 'darwin', appOutDir: '/o/mac-arm64', packager })).toBe('/o/mac-arm64/Berth.app/Contents/Resources');
    expect(afterPack.resourcesDir({ electronPlatformName: 'linux', appOutDir: '/o/linux-unpacked', packager })).toBe('/o/linux-unpacked/resources');
  });
});

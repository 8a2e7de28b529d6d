// build/electron-builder.yml: schema-valid for electron-builder 26.17.0 (validated the way the CLI
// does before packing), a typo fails, and everything it points at exists.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';

const repo = path.resolve(import.meta.dirname, '../../..');
const require = createRequire(import.meta.url);
const { validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
  validateConfiguration: (config: unknown, logger: unknown) => Promise<void>;
};
const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };

type Config = Record<string, unknown> & {
  mac: Record<string, unknown> & { extendInfo: Record<string, unknown>; extraResources: { from: string; to: string }[] };
  linux: Record<string, unknown>;
  extraResources: { from: string; to: string }[];
  asarUnpack: string[];
};

const load = (): Config => YAML.parse(fs.readFileSync(path.join(repo, 'build/electron-builder.yml'), 'utf8')) as Config;
const validate = (c: unknown): Promise<void> => validateConfiguration(c, new DebugLogger(false));

describe('build/electron-builder.yml', () => {
  it('passes electron-builder’s schema validation', async () => {
    await expect(validate(load())).resolves.toBeUndefined();
  }, 30_000);

  it('fails on a typo’d key, at the top level and inside mac', async () => {
    await expect(validate({ ...load(), asarUnpak: ['x'] })).rejects.toThrow(/unknown property 'asarUnpak'/);
    const c = load();
    c.mac.entitlementz = c.mac.entitlements;
    await expect(validate(c)).rejects.toThrow(/configuration\.mac should be/);
  }, 30_000);

  it('declares what the product needs', () => {
    const c = load();
    expect(c.productName).toBe('Berth');
    expect(c.appId).toMatch(/^[a-z0-9.-]+$/);
    expect(c.mac.target).toEqual([
      { target: 'dmg', arch: ['arm64'] },
      { target: 'zip', arch: ['arm64'] },
    ]);
    expect(c.mac.extendInfo.LSUIElement).toBe(true);
    expect(c.mac.hardenedRuntime).toBe(true);
    expect(c.asarUnpack).toContain('node_modules/node-pty/**');
    expect(c.mac.extraResources).toContainEqual(expect.objectContaining({ from: 'resources/qemu', to: 'qemu' }));
    expect(c.extraResources).toContainEqual(expect.objectContaining({ from: 'resources/images', to: 'images' }));
    expect(c.linux.target).toEqual(['dir', 'AppImage']);
    // the main entry the packed app starts
    expect(JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')).main).toBe('dist/electron/main/index.js');
  });

  it('turns App Nap off in Info.plist (not with a power-save blocker, which would keep the Mac awake)', () => {
    const c = load();
    expect(c.mac.extendInfo.LSAppNapIsDisabled).toBe(true);
    const main = fs.readdirSync(path.join(repo, 'electron/main')).map((f) => fs.readFileSync(path.join(repo, 'electron/main', f), 'utf8')).join('\n');
    expect(main).not.toMatch(/powerSaveBlocker/);
  });

  it('explains every privacy prompt that sharing the home folder can raise', () => {
    const info = load().mac.extendInfo;
    for (const key of [
      'NSDocumentsFolderUsageDescription',
      'NSDesktopFolderUsageDescription',
      'NSDownloadsFolderUsageDescription',
      'NSRemovableVolumesUsageDescription',
      'NSNetworkVolumesUsageDescription',
      'NSFileProviderDomainUsageDescription',
    ]) {
      expect(typeof info[key], key).toBe('string');
      expect(String(info[key]), key).toMatch(/^Berth shares folders with Docker containers/);
    }
  });

  it('declares the macOS floor the bundled QEMU is verified against', () => {
    const c = load();
    expect(c.mac.minimumSystemVersion).toBe('14.0');
  });

  it('references files that exist', () => {
    const c = load();
    for (const key of ['entitlements', 'entitlementsInherit', 'sign'] as const) {
      expect(fs.existsSync(path.join(repo, String(c.mac[key]))), `mac.${key}`).toBe(true);
    }
    expect(fs.existsSync(path.join(repo, String(c.afterPack)))).toBe(true);
    expect(fs.existsSync(path.join(repo, 'build/entitlements.qemu.plist'))).toBe(true);
    for (const r of [...c.extraResources, ...c.mac.extraResources]) expect(fs.existsSync(path.join(repo, r.from)), r.from).toBe(true);
  });

  it('has entitlements plists with exactly the intended keys (no comments: AMFI rejects them)', () => {
    const keys = (f: string): string[] => {
      const text = fs.readFileSync(path.join(repo, 'build', f), 'utf8');
      expect(text).not.toContain('<!--');
      return [...text.matchAll(/<key>([^<]+)<\/key>\s*<true\/>/g)].map((m) => m[1]).sort();
    };
    expect(keys('entitlements.mac.plist')).toEqual(['com.apple.security.cs.allow-jit']);
    expect(keys('entitlements.mac.inherit.plist')).toEqual(['com.apple.security.cs.allow-jit']);
    expect(keys('entitlements.qemu.plist')).toEqual(['com.apple.security.cs.allow-jit', 'com.apple.security.hypervisor']);
  });
});

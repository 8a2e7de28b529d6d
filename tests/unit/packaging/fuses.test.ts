// Electron fuses in build/electron-builder.yml: the packed app cannot be run as plain Node, take
// NODE_OPTIONS or --inspect, or load code from anywhere but its integrity-checked app.asar — and
// nothing the app does needs those. (tests/packaging/pack.test.ts checks the flipped wire in a
// packed binary.)
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

const load = (): Record<string, unknown> => YAML.parse(fs.readFileSync(path.join(repo, 'build/electron-builder.yml'), 'utf8')) as Record<string, unknown>;

/** Every .ts file under a folder, as one string per file. */
function sources(dir: string): { file: string; text: string }[] {
  return (fs.readdirSync(path.join(repo, dir), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .map((f) => ({ file: path.join(dir, f), text: fs.readFileSync(path.join(repo, dir, f), 'utf8') }));
}

describe('Electron fuses', () => {
  it('turns off run-as-Node, NODE_OPTIONS and --inspect; turns on asar integrity and asar-only loading', () => {
    expect(load().electronFuses).toEqual({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      resetAdHocDarwinSignature: true,
    });
  });

  it('leaves file:// privileges alone, since the windows load the renderer from files', () => {
    expect(load().electronFuses).not.toHaveProperty('grantFileProtocolExtraPrivileges');
    expect(fs.readFileSync(path.join(repo, 'electron/main/windows.ts'), 'utf8')).toMatch(/\.loadFile\(/);
  });

  it('is checked by electron-builder’s schema (a misspelt fuse fails the build)', async () => {
    const c = load();
    await expect(validateConfiguration(c, new DebugLogger(false))).resolves.toBeUndefined();
    await expect(validateConfiguration({ ...c, electronFuses: { runAsNod: false } }, new DebugLogger(false))).rejects.toThrow(/electronFuses/);
  }, 30_000);

  it('the app needs none of what they turn off', () => {
    const shipped = [...sources('electron/main'), ...sources('electron/engine'), ...sources('electron/shared'), ...sources('electron/preload')];
    for (const { file, text } of shipped) {
      expect(text, file).not.toMatch(/ELECTRON_RUN_AS_NODE|NODE_OPTIONS|--inspect/);
    }
    // the host agent is an Electron utility process, not this binary re-run as Node
    expect(fs.readFileSync(path.join(repo, 'electron/main/agent-forker.ts'), 'utf8')).toMatch(/utilityProcess\.fork\(/);
    // the only spawn of process.execPath (the headless supervisor) is the CLI's, under system Node
    const main = sources('electron/main').map((s) => s.text).join('\n');
    expect(main).not.toMatch(/attachOrSpawn|process\.execPath/);
  });
});

// compose/buildx for the user's docker CLI: Berth's plugin folder, announced in the docker config,
// never shadowing a plugin the user has (the CLI searches cliPluginsExtraDirs first).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { engineVersion, pluginSources, pluginVersion, provideCliPlugins } from '../../../electron/engine/docker-plugins.js';
import type { PluginSource } from '../../../electron/engine/docker-plugins.js';

let tmp: string;
let cfgDir: string;
let pluginDir: string;
let sysDir: string;

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plugins-'));
  cfgDir = path.join(tmp, 'docker');
  pluginDir = path.join(tmp, 'berth', '_cli-plugins');
  sysDir = path.join(tmp, 'usr-libexec-docker-cli-plugins');
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fake plugin binary that answers docker-cli-plugin-metadata like the real ones. */
function fakePlugin(dir: string, name: string, version: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const f = path.join(dir, name);
  fs.writeFileSync(f, `#!/bin/sh\n[ "$1" = docker-cli-plugin-metadata ] && echo '{"SchemaVersion":"0.1.0","Vendor":"test","Version":"${version}"}'\n`, { mode: 0o755 });
  return f;
}

function sources(): PluginSource[] {
  const dir = path.join(tmp, 'image', 'cli-plugins');
  return [
    { name: 'docker-compose', version: '2.26.1', file: fakePlugin(dir, 'docker-compose', 'v2.26.1'), size: 0, sha256: 'c'.repeat(64) },
    { name: 'docker-buildx', version: '0.13.1', file: fakePlugin(dir, 'docker-buildx', 'v0.13.1'), size: 0, sha256: 'b'.repeat(64) },
  ].map((s) => ({ ...s, size: fs.statSync(s.file).size }));
}

const provide = () => provideCliPlugins({ pluginDir, dockerConfigDir: cfgDir, sources: sources(), systemDirs: [sysDir] });
const config = () => JSON.parse(fs.readFileSync(path.join(cfgDir, 'config.json'), 'utf8')) as Record<string, unknown>;

describe('provideCliPlugins', () => {
  it('with no docker config: copies both plugins into Berth’s folder and writes a config naming it', () => {
    const r = provide();
    expect(r.configUpdated).toBe(true);
    expect(config()).toEqual({ cliPluginsExtraDirs: [path.resolve(pluginDir)] });
    for (const p of ['docker-compose', 'docker-buildx']) expect(fs.statSync(path.join(pluginDir, p)).mode & 0o777).toBe(0o755);
    expect(r.plugins['docker-compose']).toEqual({ source: 'berth', path: path.join(pluginDir, 'docker-compose'), version: '2.26.1' });
  });

  it('keeps every other key and the user’s own extra dirs, adds ours once, keeps the file mode', () => {
    fs.mkdirSync(cfgDir, { recursive: true });
    const before = { auths: { 'registry.example': { auth: 'eA==' } }, currentContext: 'colima', cliPluginsExtraDirs: ['/opt/homebrew/lib/docker/cli-plugins'], credsStore: 'osxkeychain' };
    fs.writeFileSync(path.join(cfgDir, 'config.json'), JSON.stringify(before), { mode: 0o644 });
    provide();
    expect(config()).toEqual({ ...before, cliPluginsExtraDirs: ['/opt/homebrew/lib/docker/cli-plugins', path.resolve(pluginDir)] });
    expect(fs.statSync(path.join(cfgDir, 'config.json')).mode & 0o777).toBe(0o644);
    const again = provide();
    expect(again.configUpdated).toBe(false);
    expect((config().cliPluginsExtraDirs as string[]).filter((d) => d === path.resolve(pluginDir))).toHaveLength(1);
  });

  it('a plugin the user has in ~/.docker/cli-plugins is left to win: ours is not offered (the CLI would pick ours first)', () => {
    const theirs = fakePlugin(path.join(cfgDir, 'cli-plugins'), 'docker-compose', 'v2.40.0');
    const r = provide();
    expect(r.plugins['docker-compose']).toEqual({ source: 'user', path: theirs });
    expect(fs.existsSync(path.join(pluginDir, 'docker-compose'))).toBe(false);
    expect(r.plugins['docker-buildx']?.source).toBe('berth');
  });

  it('a plugin installed later by the user (system folder or another extra dir) removes ours at the next start', () => {
    provide();
    expect(fs.existsSync(path.join(pluginDir, 'docker-buildx'))).toBe(true);
    fakePlugin(sysDir, 'docker-buildx', 'v0.20.0');
    const brew = path.join(tmp, 'brew-plugins');
    fakePlugin(brew, 'docker-compose', 'v2.39.0');
    const cfg = config();
    fs.writeFileSync(path.join(cfgDir, 'config.json'), JSON.stringify({ ...cfg, cliPluginsExtraDirs: [...(cfg.cliPluginsExtraDirs as string[]), brew] }));
    const r = provide();
    expect(r.plugins['docker-buildx']).toEqual({ source: 'user', path: path.join(sysDir, 'docker-buildx') });
    expect(r.plugins['docker-compose']).toEqual({ source: 'user', path: path.join(brew, 'docker-compose') });
    expect(fs.readdirSync(pluginDir).filter((f) => !f.startsWith('.'))).toEqual([]);
  });

  it('a docker config that is not JSON is left untouched and the reason is reported', () => {
    fs.mkdirSync(cfgDir, { recursive: true });
    fs.writeFileSync(path.join(cfgDir, 'config.json'), '{ "auths": ');
    const r = provide();
    expect(fs.readFileSync(path.join(cfgDir, 'config.json'), 'utf8')).toBe('{ "auths": ');
    expect(r.configUpdated).toBe(false);
    expect(r.note).toMatch(/left .*config\.json alone/);
    expect(r.note).toContain('cliPluginsExtraDirs');
  });

  it('replaces a stale copy when the offered plugin changes', () => {
    provide();
    const src = sources();
    fs.writeFileSync(src[0]!.file, '#!/bin/sh\necho new\n', { mode: 0o755 });
    provideCliPlugins({ pluginDir, dockerConfigDir: cfgDir, sources: [{ ...src[0]!, size: fs.statSync(src[0]!.file).size, sha256: 'd'.repeat(64) }], systemDirs: [sysDir] });
    expect(fs.readFileSync(path.join(pluginDir, 'docker-compose'), 'utf8')).toContain('echo new');
  });
});

describe('pluginSources', () => {
  it('reads the image manifest’s cliPlugins, else the app bundle’s plugins.json', () => {
    const img = path.join(tmp, 'img');
    fakePlugin(path.join(img, 'cli-plugins'), 'docker-compose', 'v2.26.1');
    fs.writeFileSync(path.join(img, 'manifest.json'), JSON.stringify({ cliPlugins: [{ name: 'docker-compose', version: '2.26.1', size: 1, sha256: 'a'.repeat(64) }] }));
    const res = path.join(tmp, 'Resources');
    fakePlugin(path.join(res, 'cli-plugins'), 'docker-buildx', 'v0.30.1');
    fakePlugin(path.join(res, 'cli-plugins'), 'docker-compose', 'v2.40.0');
    fs.writeFileSync(
      path.join(res, 'cli-plugins', 'plugins.json'),
      JSON.stringify({ plugins: [{ name: 'docker-buildx', version: '0.30.1', size: 1, sha256: 'b'.repeat(64) }, { name: 'docker-compose', version: '2.40.0', size: 1, sha256: 'c'.repeat(64) }] }),
    );
    const got = pluginSources({ imageDir: img, resourcesDir: res });
    expect(got.map((s) => `${s.name} ${s.version}`).sort()).toEqual(['docker-buildx 0.30.1', 'docker-compose 2.26.1']);
    expect(pluginSources({ imageDir: path.join(tmp, 'none') })).toEqual([]);
  });
});

describe('versions', () => {
  it('pluginVersion reads docker-cli-plugin-metadata', async () => {
    expect(await pluginVersion(fakePlugin(tmp, 'docker-compose', 'v2.40.0'))).toBe('2.40.0');
    expect(await pluginVersion(path.join(tmp, 'missing'))).toBeUndefined();
  });

  it('engineVersion reads GET /version from the Docker socket', async () => {
    const sock = path.join(tmp, 'docker.sock');
    const srv = http.createServer((req, res) => {
      expect(req.url).toBe('/version');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ Version: '26.1.5+dfsg1', ApiVersion: '1.45', MinAPIVersion: '1.24' }));
    });
    await new Promise<void>((r) => srv.listen(sock, r));
    try {
      expect(await engineVersion(sock)).toEqual({ version: '26.1.5+dfsg1', apiVersion: '1.45', minApiVersion: '1.24' });
    } finally {
      srv.close();
    }
    expect(await engineVersion(path.join(tmp, 'nobody.sock'))).toEqual({});
  });
});

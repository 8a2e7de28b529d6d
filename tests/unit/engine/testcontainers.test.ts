// ~/.testcontainers.properties: Berth's docker.host line while its context is current, every other
// line kept, exactly its line removed at stop, and a docker.host it did not write left alone. The
// file is read back the way Testcontainers for Node 10.28 reads it (its properties-reader).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSettings } from '../../../electron/engine/config.js';
import { ensureInstanceDir, instancePaths } from '../../../electron/engine/instance/index.js';
import { MARKER, TestcontainersService, parseLine, withOurLine, withoutOurLine } from '../../../electron/engine/services/testcontainers.js';
import type { Settings } from '../../../electron/shared/settings.js';
import type { Status } from '../../../electron/shared/status.js';
import { removeScratch, scratch } from './helpers/stand-ins.js';
import { serviceContext } from './helpers/service-context.js';

afterAll(removeScratch);

const require = createRequire(import.meta.url);
const propertiesReader = require('properties-reader') as (file: string) => { read(text: string): { get(key: string): unknown } };
/** docker.host as Testcontainers for Node reads it (null: not set). */
const tcDockerHost = (text: string) => propertiesReader('').read(text).get('docker.host');

function setup(opts: { current: boolean }) {
  const home = scratch('berth-tc-');
  const p = instancePaths('default', path.join(home, '.berth'));
  ensureInstanceDir(p);
  const dockerConfig = path.join(home, '.docker');
  fs.mkdirSync(dockerConfig);
  const useContext = (name: string) => fs.writeFileSync(path.join(dockerConfig, 'config.json'), JSON.stringify({ currentContext: name, auths: {} }));
  useContext(opts.current ? 'berth' : 'desktop-linux');
  const ctx = serviceContext(p, { env: { HOME: home } });
  const svc = new TestcontainersService(ctx, 60_000);
  const file = path.join(home, '.testcontainers.properties');
  const status = () => {
    const st = {} as Status;
    svc.status(st);
    return st.sockets?.testcontainers;
  };
  return { p, svc, file, status, useContext };
}

const settings = (defaultSocket = false): Settings => ({ ...defaultSettings(), docker: { context: true, defaultSocket } });

describe('Testcontainers properties', () => {
  it('context current: our line is added, the other lines kept; at stop exactly our line goes', async () => {
    const { p, svc, file, status } = setup({ current: true });
    const before = '# mine\nryuk.disabled=true\ndocker.client.strategy=org.testcontainers.dockerclient.UnixSocketClientProviderStrategy\n';
    fs.writeFileSync(file, before, { mode: 0o640 });
    await svc.onReady(settings());
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toBe(`${before}${MARKER}\ndocker.host=unix://${p.docker}\n`);
    expect(tcDockerHost(text)).toBe(`unix://${p.docker}`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    expect(status()).toEqual({ state: 'written', file, note: 'docker.host → this instance' });
    svc.onStop();
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    expect(status()).toBeUndefined();
  });

  it('no file before: one is made, and removed again at stop', async () => {
    const { svc, file } = setup({ current: true });
    await svc.onReady(settings());
    expect(fs.existsSync(file)).toBe(true);
    svc.onStop();
    expect(fs.existsSync(file)).toBe(false);
  });

  it('another context current: nothing is written (Docker Desktop keeps Testcontainers); docker.defaultSocket writes it anyway', async () => {
    const { svc, file, status } = setup({ current: false });
    await svc.onReady(settings());
    expect(fs.existsSync(file)).toBe(false);
    expect(status()?.state).toBe('off');
    await svc.onReady(settings(true));
    expect(status()?.state).toBe('written');
    svc.onStop();
  });

  it('the user switches context while running: the line follows', async () => {
    const { svc, file, useContext } = setup({ current: true });
    await svc.onReady(settings());
    expect(tcDockerHost(fs.readFileSync(file, 'utf8'))).toMatch(/^unix:\/\//);
    useContext('desktop-linux');
    svc.apply();
    expect(fs.existsSync(file)).toBe(false);
    useContext('berth');
    svc.apply();
    expect(tcDockerHost(fs.readFileSync(file, 'utf8'))).toMatch(/^unix:\/\//);
    svc.onStop();
  });

  it('a docker.host Berth did not write is never overwritten, and the status says so', async () => {
    const { svc, file, status } = setup({ current: true });
    const mine = 'docker.host=tcp://build-box:2376\ndocker.tls.verify=1\n';
    fs.writeFileSync(file, mine);
    await svc.onReady(settings());
    expect(fs.readFileSync(file, 'utf8')).toBe(mine);
    expect(status()).toMatchObject({ state: 'taken', note: 'docker.host=tcp://build-box:2376 was not written by Berth: left as it is, so Testcontainers uses that Docker' });
    svc.onStop();
    expect(fs.readFileSync(file, 'utf8')).toBe(mine);
  });

  it('a line rewritten by Testcontainers for Java (comments dropped, ":" escaped) is still recognised as ours at stop', () => {
    const ours = '/Users/ada/.berth/default/docker.sock';
    const java = '#Modified by Testcontainers\n#Tue Dec 01 10:00:00 CET 2026\ndocker.client.strategy=org.testcontainers.dockerclient.EnvironmentAndSystemPropertyClientProviderStrategy\ndocker.host=unix\\:///Users/ada/.berth/default/docker.sock\n';
    expect(parseLine('docker.host=unix\\:///Users/ada/.berth/default/docker.sock')).toEqual({ key: 'docker.host', value: `unix://${ours}` });
    expect(withOurLine(java, ours, () => false).text).toBeUndefined();
    expect(withoutOurLine(java, ours)).toBe('#Modified by Testcontainers\n#Tue Dec 01 10:00:00 CET 2026\ndocker.client.strategy=org.testcontainers.dockerclient.EnvironmentAndSystemPropertyClientProviderStrategy\n');
  });

  it("Berth's own stale line (a crash, another instance that stopped) is replaced; an unmarked one is not", () => {
    const stale = `${MARKER}\ndocker.host=unix:///gone/docker.sock\n`;
    expect(withOurLine(stale, '/new/docker.sock', () => true).text).toBe(`${MARKER}\ndocker.host=unix:///new/docker.sock\n`);
    const unmarked = withOurLine('docker.host=unix:///gone/docker.sock\n', '/new/docker.sock', () => true);
    expect(unmarked.text).toBeUndefined();
    expect(unmarked.info.state).toBe('taken');
  });

  it('a properties file that is a symlink (dotfiles) stays a symlink; its target is rewritten', async () => {
    const { svc, file } = setup({ current: true });
    const real = path.join(path.dirname(file), 'dotfiles-testcontainers.properties');
    fs.writeFileSync(real, 'ryuk.disabled=true\n');
    fs.symlinkSync(real, file);
    await svc.onReady(settings());
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(real, 'utf8')).toMatch(/^ryuk\.disabled=true\n# Berth: .*\ndocker\.host=unix:\/\//);
    svc.onStop();
    expect(fs.readFileSync(real, 'utf8')).toBe('ryuk.disabled=true\n');
  });
});

// docker.defaultSocket: what Berth does with /var/run/docker.sock on each platform, and that it
// never replaces what belongs to another Docker. The system path is a scratch path here; the macOS
// authorization prompt is a stand-in runner (there is no Mac here).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSettings } from '../../../electron/engine/config.js';
import { ensureInstanceDir, instancePaths } from '../../../electron/engine/instance/index.js';
import { DefaultSocketService, appleScriptString, inspectSystemSocket, linkCommand, planDefaultSocket } from '../../../electron/engine/services/default-socket.js';
import type { PrivilegedRunner } from '../../../electron/engine/services/default-socket.js';
import type { Settings } from '../../../electron/shared/settings.js';
import type { Status } from '../../../electron/shared/status.js';
import { removeScratch, scratch } from './helpers/stand-ins.js';
import { serviceContext } from './helpers/service-context.js';

afterAll(removeScratch);

const on = (): Settings => ({ ...defaultSettings(), docker: { context: true, defaultSocket: true } });
const off = (): Settings => ({ ...defaultSettings(), docker: { context: true, defaultSocket: false } });

function setup(opts: { platform: 'darwin' | 'linux'; uid: number; runPrivileged?: PrivilegedRunner }) {
  const home = scratch('berth-ds-');
  const p = instancePaths('default', home);
  ensureInstanceDir(p);
  const varRun = path.join(home, 'var-run');
  fs.mkdirSync(varRun);
  const systemSocket = path.join(varRun, 'docker.sock');
  const ctx = serviceContext(p);
  const svc = new DefaultSocketService(ctx, { ...opts, systemSocket });
  const status = () => {
    const st = {} as Status;
    svc.status(st);
    return st.sockets?.defaultSocket;
  };
  return { p, svc, systemSocket, status };
}

describe('docker.defaultSocket', () => {
  it('Linux as root: the link is made at ready and removed at stop', async () => {
    const { p, svc, systemSocket, status } = setup({ platform: 'linux', uid: 0 });
    await svc.onReady(on());
    expect(fs.readlinkSync(systemSocket)).toBe(p.docker);
    expect(status()).toEqual({ state: 'linked', note: `${systemSocket} → this instance` });
    svc.onStop();
    expect(fs.existsSync(systemSocket) || fs.lstatSync(systemSocket, { throwIfNoEntry: false })).toBeFalsy();
    expect(status()).toBeUndefined();
  });

  it('Linux without root: nothing is made; the status gives the exact sudo command', async () => {
    const { p, svc, systemSocket, status } = setup({ platform: 'linux', uid: 1000 });
    await svc.onReady(on());
    expect(fs.lstatSync(systemSocket, { throwIfNoEntry: false })).toBeUndefined();
    const command = `sudo ln -s '${p.docker}' ${systemSocket}`;
    expect(status()).toEqual({ state: 'action', note: `${systemSocket} needs root to link: run \`${command}\``, command });
  });

  it('macOS: the administrator prompt runs the ln once; the link then counts as ours', async () => {
    const asked: string[] = [];
    const runPrivileged: PrivilegedRunner = async (cmd) => {
      asked.push(cmd);
      // what `do shell script … with administrator privileges` would do, without the root
      const [, target, link] = /^ln -s '(.*)' (.*)$/.exec(cmd)!;
      fs.symlinkSync(target!, link!);
      return { ok: true };
    };
    const { p, svc, systemSocket, status } = setup({ platform: 'darwin', uid: 501, runPrivileged });
    await svc.onReady(on());
    expect(asked).toEqual([linkCommand(p.docker, systemSocket)]);
    expect(status()?.state).toBe('linked');
    // ready again (a resume): already ours, no second prompt
    await svc.onReady(on());
    expect(asked).toHaveLength(1);
  });

  it('macOS: a cancelled prompt is said, and not asked again during the same run', async () => {
    const asked: string[] = [];
    const runPrivileged: PrivilegedRunner = async (cmd) => {
      asked.push(cmd);
      return { ok: false, error: '0:82: execution error: User canceled. (-128)' };
    };
    const { svc, systemSocket, status } = setup({ platform: 'darwin', uid: 501, runPrivileged });
    await svc.onReady(on());
    expect(status()).toEqual({ state: 'action', note: `${systemSocket} is not linked: the administrator prompt was cancelled; Stop and Start to be asked again` });
    await svc.onReady(on());
    expect(asked).toHaveLength(1);
  });

  it("Docker Desktop's link and a host dockerd's socket are left alone and named", async () => {
    const desktop = setup({ platform: 'linux', uid: 0 });
    fs.symlinkSync('/Users/ada/.docker/run/docker.sock', desktop.systemSocket);
    await desktop.svc.onReady(on());
    expect(fs.readlinkSync(desktop.systemSocket)).toBe('/Users/ada/.docker/run/docker.sock');
    expect(desktop.status()).toMatchObject({ state: 'taken', note: expect.stringContaining('links to /Users/ada/.docker/run/docker.sock') });
    desktop.svc.onStop();
    expect(fs.readlinkSync(desktop.systemSocket)).toBe('/Users/ada/.docker/run/docker.sock');

    const host = setup({ platform: 'linux', uid: 0 });
    const server = net.createServer().listen(host.systemSocket);
    await new Promise((r) => server.once('listening', r));
    try {
      await host.svc.onReady(on());
      expect(fs.lstatSync(host.systemSocket).isSocket()).toBe(true);
      expect(host.status()).toMatchObject({ state: 'taken', note: expect.stringContaining("another Docker's socket") });
    } finally {
      server.close();
    }
  });

  it('turned off: our link goes, anything else stays, and nothing is reported', async () => {
    const { p, svc, systemSocket, status } = setup({ platform: 'linux', uid: 0 });
    fs.symlinkSync(p.docker, systemSocket);
    await svc.onReady(off());
    expect(fs.lstatSync(systemSocket, { throwIfNoEntry: false })).toBeUndefined();
    expect(status()).toBeUndefined();
  });

  it('the plan is pure: a file that is not a socket is never replaced, whoever asks', () => {
    for (const platform of ['darwin', 'linux'] as const)
      for (const isRoot of [true, false]) {
        const plan = planDefaultSocket({ enabled: true, found: { kind: 'other' }, platform, isRoot, ours: '/o', systemSocket: '/var/run/docker.sock', promptedThisRun: false });
        expect(plan).toMatchObject({ do: 'nothing', info: { state: 'taken' } });
      }
  });

  it('inspect tells ours from another link; the AppleScript string escapes quotes and backslashes', () => {
    const dir = scratch('berth-ds-i-');
    const s = path.join(dir, 'docker.sock');
    expect(inspectSystemSocket(s, '/o')).toEqual({ kind: 'none' });
    fs.symlinkSync('/o', s);
    expect(inspectSystemSocket(s, '/o')).toEqual({ kind: 'ours' });
    expect(inspectSystemSocket(s, '/other')).toEqual({ kind: 'link', target: '/o' });
    expect(appleScriptString(`ln -s '/a "b"\\c' x`)).toBe(`"ln -s '/a \\"b\\"\\\\c' x"`);
  });
});

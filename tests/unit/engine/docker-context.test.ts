// The docker context rules, with the real docker CLI against a throwaway DOCKER_CONFIG (context
// commands need no engine): Berth creates `berth` (or `berth-<instance>`) pointing at its socket,
// and makes it the current context only when the user's current one is missing or broken.
import { execa } from 'execa';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dockerContextName, ensureDockerContext, removeDockerContext } from '../../../electron/engine/docker-context.js';

const DOCKER = 'docker';
let tmp: string;
let cfg: string;
let env: NodeJS.ProcessEnv;
const servers: net.Server[] = [];

beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bctx-'));
  cfg = path.join(tmp, 'docker-config');
  // No DOCKER_HOST of the machine's, and a default socket that is certainly absent.
  env = { PATH: process.env.PATH, HOME: tmp, DOCKER_CONFIG: cfg, DOCKER_HOST: `unix://${path.join(tmp, 'no-engine.sock')}` };
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The docker CLI as the user runs it, with the test's config folder. */
async function docker(args: string[]): Promise<string> {
  const { DOCKER_HOST: _host, ...plain } = env; // with DOCKER_HOST set, `context show` would say "default"
  const r = await execa(DOCKER, args, { env: plain, extendEnv: false, reject: false });
  return `${String(r.stdout).trim()}${r.exitCode ? ` (exit ${r.exitCode}: ${String(r.stderr).trim()})` : ''}`;
}
const current = () => docker(['context', 'show']);
const hostOf = (name: string) => docker(['context', 'inspect', name, '--format', '{{.Endpoints.docker.Host}}']);

/** A unix socket something listens on, as a running engine's would be. */
async function liveSocket(name: string): Promise<string> {
  const p = path.join(tmp, name);
  const s = net.createServer();
  servers.push(s);
  await new Promise<void>((r) => s.listen(p, r));
  return p;
}

const ours = () => path.join(tmp, 'berth', 'default', 'docker.sock');
const ensure = (extra: Partial<Parameters<typeof ensureDockerContext>[1]> = {}) => ensureDockerContext(ours(), { docker: DOCKER, env, ...extra });

describe('the berth docker context', () => {
  it('is named berth for the default instance, berth-<name> for the others', () => {
    expect(dockerContextName('default')).toBe('berth');
    expect(dockerContextName('dev')).toBe('berth-dev');
  });

  it('a fresh machine (no current context, no engine): created, pointing at our socket, and made current', async () => {
    expect(await ensure()).toEqual({ created: true, switched: true });
    expect(await hostOf('berth')).toBe(`unix://${ours()}`);
    expect(await current()).toBe('berth');
  });

  it('the default context with a working DOCKER_HOST socket is left alone', async () => {
    env.DOCKER_HOST = `unix://${await liveSocket('engine.sock')}`;
    expect(await ensure()).toEqual({ created: true, switched: false });
    expect(await current()).toBe('default');
  });

  it('the default context with a tcp:// DOCKER_HOST is left alone (not ours to judge)', async () => {
    env.DOCKER_HOST = 'tcp://127.0.0.1:2376';
    expect(await ensure()).toMatchObject({ switched: false });
    expect(await current()).toBe('default');
  });

  it('a user context whose socket exists stays current', async () => {
    const sock = await liveSocket('colima.sock');
    expect(await docker(['context', 'create', 'colima', '--docker', `host=unix://${sock}`])).toBe('colima');
    expect(await docker(['context', 'use', 'colima'])).toBe('colima');
    expect(await ensure()).toEqual({ created: true, switched: false });
    expect(await current()).toBe('colima');
    // …and on the next start too: our context is updated, theirs still current.
    expect(await ensure()).toEqual({ created: false, switched: false });
    expect(await current()).toBe('colima');
  });

  it('a user context whose socket is gone is broken: switched to berth', async () => {
    expect(await docker(['context', 'create', 'colima', '--docker', `host=unix://${path.join(tmp, 'gone.sock')}`])).toBe('colima');
    expect(await docker(['context', 'use', 'colima'])).toBe('colima');
    expect(await ensure()).toEqual({ created: true, switched: true });
    expect(await current()).toBe('berth');
  });

  it('a current context that no longer exists is broken: switched to berth', async () => {
    fs.mkdirSync(cfg, { recursive: true });
    fs.writeFileSync(path.join(cfg, 'config.json'), JSON.stringify({ currentContext: 'uninstalled-tool' }));
    expect(await ensure()).toEqual({ created: true, switched: true });
    expect(await current()).toBe('berth');
  });

  it('a second start points the context at the socket it has now, without creating another', async () => {
    await ensure();
    const moved = path.join(tmp, 'elsewhere', 'docker.sock');
    expect(await ensureDockerContext(moved, { docker: DOCKER, env })).toMatchObject({ created: false });
    expect(await hostOf('berth')).toBe(`unix://${moved}`);
  });

  it('another instance gets its own context, and becomes current only while the current berth one is broken', async () => {
    fs.mkdirSync(path.dirname(ours()), { recursive: true });
    const running = net.createServer();
    servers.push(running);
    await new Promise<void>((r) => running.listen(ours(), r)); // the default instance is up
    await ensure();
    expect(await current()).toBe('berth');
    const dev = path.join(tmp, 'berth', 'dev', 'docker.sock');
    expect(await ensureDockerContext(dev, { name: 'berth-dev', docker: DOCKER, env })).toEqual({ created: true, switched: false });
    expect(await hostOf('berth-dev')).toBe(`unix://${dev}`);
    expect(await current()).toBe('berth');
    // The default instance stopped (its socket is gone): its context is now a broken current one.
    await new Promise((r) => running.close(r));
    expect(await ensureDockerContext(dev, { name: 'berth-dev', docker: DOCKER, env })).toEqual({ created: false, switched: true });
    expect(await current()).toBe('berth-dev');
  });

  it('berth delete removes our context and switches the current one back to default; a same-named context pointing elsewhere is kept', async () => {
    await ensure();
    await removeDockerContext(ours(), 'berth', DOCKER, env);
    expect(await hostOf('berth')).toMatch(/exit 1: .*not found/);
    expect(await current()).toBe('default');

    expect(await docker(['context', 'create', 'berth', '--docker', 'host=unix:///somebody/else.sock'])).toBe('berth');
    await removeDockerContext(ours(), 'berth', DOCKER, env);
    expect(await hostOf('berth')).toBe('unix:///somebody/else.sock');
  });
});

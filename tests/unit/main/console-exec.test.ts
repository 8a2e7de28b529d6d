// A shell in a container from the console window: a `docker exec` through the Engine API on a
// hijacked connection (no docker CLI), served like a pty; and console.show/console.target, the
// way the dashboard's Shell button reaches the console window.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withConsoles } from '../../../electron/main/app-backend.js';
import type { ConsoleEvent } from '../../../electron/shared/contract.js';
import { FakeBackend } from '../../fixtures/fake-backend.js';
import { container, FakeDockerd } from '../../fixtures/fake-dockerd.js';

let dir: string;
let dockerd: FakeDockerd;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-exec-'));
  dockerd = new FakeDockerd(path.join(dir, 'docker.sock'));
  dockerd.containers = [container({ Id: 'c1'.padEnd(64, '1'), name: 'web' }), container({ Id: 'c2'.padEnd(64, '2'), name: 'stopped', State: 'exited' })];
  await dockerd.start();
});

afterEach(async () => {
  await dockerd.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function until<T>(fn: () => T | undefined | false, ms = 3000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('shell in a container', () => {
  it('runs an exec with a tty over the upgraded connection: output, input, resize, exit code', async () => {
    const b = withConsoles(new FakeBackend(), { sshConfig: path.join(dir, 'none'), dockerSocket: dockerd.socketPath });
    const events: ConsoleEvent[] = [];
    b.on('console', (e) => events.push(e));
    const r = await b.invoke('console.open', { cols: 120, rows: 30, container: 'web' });
    if (!r.ok) throw new Error(r.error.message);
    const id = r.value.id;
    const out = (): string => events.flatMap((e) => ('data' in e && e.id === id ? [e.data] : [])).join('');
    // the exec was created for that container with a tty and a shell, then started with Upgrade: tcp
    const exec = dockerd.execs.get('exec1')!;
    expect(exec.tty).toBe(true);
    expect(exec.cmd[0]).toBe('/bin/sh');
    await until(() => out().includes('# /bin/sh -c'));
    await until(() => exec.resized === '120x30');
    await b.invoke('console.write', { id, data: 'uname -m\r' });
    await until(() => out().includes('uname -m'));
    expect(dockerd.execInput).toBe('uname -m\r');
    await b.invoke('console.resize', { id, cols: 100, rows: 20 });
    await until(() => exec.resized === '100x20');
    await b.invoke('console.write', { id, data: 'exit\r' });
    const exit = await until(() => events.find((e): e is { id: string; exit: number } => 'exit' in e && e.id === id));
    expect(exit.exit).toBe(3);
    expect(b.consoles.size).toBe(0);
    // no docker CLI: every request went to the Engine API
    expect(dockerd.requests.map((q) => `${q.method} ${q.url.split('?')[0]}`)).toEqual(expect.arrayContaining(['POST /containers/web/exec', 'POST /exec/exec1/start', 'GET /exec/exec1/json']));
  });

  it('a stopped container: Docker’s refusal, as the console shows it', async () => {
    const b = withConsoles(new FakeBackend(), { sshConfig: path.join(dir, 'none'), dockerSocket: dockerd.socketPath });
    const r = await b.invoke('console.open', { cols: 80, rows: 24, container: 'stopped' });
    expect(r).toMatchObject({ ok: false, error: { code: 'E_DOCKER', message: expect.stringContaining('is not running') } });
  });

  it('the dashboard’s Shell button: console.show shows the window and hands it the target once', async () => {
    let shown = 0;
    const b = withConsoles(new FakeBackend(), { sshConfig: '', dockerSocket: dockerd.socketPath, showConsole: () => shown++ });
    const events: ConsoleEvent[] = [];
    b.on('console', (e) => events.push(e));
    expect(await b.invoke('console.show', { container: 'c1'.padEnd(64, '1'), name: 'web' })).toEqual({ ok: true, value: null });
    expect(shown).toBe(1);
    // an open console window hears it at once; one that opens now asks for it
    expect(events).toEqual([{ id: '', show: { container: 'c1'.padEnd(64, '1'), name: 'web' } }]);
    expect(await b.invoke('console.target', {})).toEqual({ ok: true, value: { container: 'c1'.padEnd(64, '1'), name: 'web' } });
    expect(await b.invoke('console.target', {})).toEqual({ ok: true, value: null });
  });
});

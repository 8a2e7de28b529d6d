import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { withConsoles } from '../../../electron/main/app-backend.js';
import { nodePtySpawn, sshCommand } from '../../../electron/main/console.js';
import type { PtyLike } from '../../../electron/main/console.js';
import type { ConsoleEvent } from '../../../electron/shared/contract.js';
import { FakeBackend } from '../../fixtures/fake-backend.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-console-'));
const sshConfig = path.join(dir, 'config');
fs.writeFileSync(sshConfig, 'Host berth\n  HostName 127.0.0.1\n');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function fakePty(): PtyLike & { data?: (d: string) => void; exit?: (e: { exitCode: number }) => void; writes: string[]; sizes: number[][]; killed: boolean } {
  const p = {
    writes: [] as string[],
    sizes: [] as number[][],
    killed: false,
    onData(cb: (d: string) => void) {
      p.data = cb;
    },
    onExit(cb: (e: { exitCode: number }) => void) {
      p.exit = cb;
    },
    write(d: string) {
      p.writes.push(d);
    },
    resize(c: number, r: number) {
      p.sizes.push([c, r]);
    },
    kill() {
      p.killed = true;
    },
  } as PtyLike & { data?: (d: string) => void; exit?: (e: { exitCode: number }) => void; writes: string[]; sizes: number[][]; killed: boolean };
  return p;
}

describe('console sessions', () => {
  it('runs ssh with the instance config and the berth host alias', () => {
    expect(sshCommand('/Users/ada/.berth/default/ssh/config')).toEqual({ file: 'ssh', args: ['-F', '/Users/ada/.berth/default/ssh/config', '-o', 'LogLevel=ERROR', 'berth'] });
  });

  it('opens, writes, resizes and closes a pty; output and exit become console events', async () => {
    const pty = fakePty();
    const spawn = vi.fn(() => pty);
    const engine = new FakeBackend();
    const b = withConsoles(engine, { sshConfig, spawn });
    const events: ConsoleEvent[] = [];
    const off = b.on('console', (e) => events.push(e));

    const r = await b.invoke('console.open', { cols: 100, rows: 30 });
    expect(r.ok).toBe(true);
    const id = r.ok ? r.value.id : '';
    expect(spawn).toHaveBeenCalledWith('ssh', ['-F', sshConfig, '-o', 'LogLevel=ERROR', 'berth'], expect.objectContaining({ cols: 100, rows: 30, name: 'xterm-256color' }));
    pty.data!('hello');
    expect(events).toEqual([{ id, data: 'hello' }]);
    await expect(b.invoke('console.write', { id, data: 'ls\r' })).resolves.toEqual({ ok: true, value: null });
    await expect(b.invoke('console.resize', { id, cols: 120, rows: 40 })).resolves.toEqual({ ok: true, value: null });
    expect(pty.writes).toEqual(['ls\r']);
    expect(pty.sizes).toEqual([[120, 40]]);
    pty.exit!({ exitCode: 3 });
    expect(events.at(-1)).toEqual({ id, exit: 3 });
    await expect(b.invoke('console.write', { id, data: 'x' })).resolves.toMatchObject({ ok: false, error: { code: 'E_INVALID_PARAMS' } });
    off();
    // everything else goes to the engine
    await expect(b.invoke('vm.status', {})).resolves.toMatchObject({ ok: true, value: { state: 'stopped' } });
    expect(engine.calls.map((c) => c.method)).toEqual(['vm.status']);
    await b.close();
  });

  it('kills every pty when the backend closes', async () => {
    const ptys = [fakePty(), fakePty()];
    let i = 0;
    const b = withConsoles(new FakeBackend(), { sshConfig, spawn: () => ptys[i++]! });
    await b.invoke('console.open', { cols: 80, rows: 24 });
    await b.invoke('console.open', { cols: 80, rows: 24 });
    await b.close();
    expect(ptys.map((p) => p.killed)).toEqual([true, true]);
  });

  it('says to start Docker first when the VM has no SSH config yet', async () => {
    const b = withConsoles(new FakeBackend(), { sshConfig: path.join(dir, 'missing'), spawn: () => fakePty() });
    await expect(b.invoke('console.open', { cols: 80, rows: 24 })).resolves.toMatchObject({ ok: false, error: { code: 'E_NOT_RUNNING', hint: expect.stringContaining('Start Docker') } });
  });

  it('drives a real pty through node-pty', async () => {
    const b = withConsoles(new FakeBackend(), { sshConfig, spawn: nodePtySpawn, command: { file: '/bin/sh', args: ['-c', 'stty size; echo berth-$((6*7))'] } });
    const out: string[] = [];
    const exited = new Promise<number>((resolve) =>
      b.on('console', (e) => {
        if ('data' in e) out.push(e.data);
        else if ('exit' in e) resolve(e.exit);
      }),
    );
    const r = await b.invoke('console.open', { cols: 91, rows: 17 });
    expect(r.ok).toBe(true);
    await expect(exited).resolves.toBe(0);
    expect(out.join('')).toContain('17 91');
    expect(out.join('')).toContain('berth-42');
    await b.close();
  });
});

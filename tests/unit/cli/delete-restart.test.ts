// `berth delete` (asks first; --yes outside a terminal; waits for the supervisor to exit) and
// `berth restart` (a fresh boot, never a suspend and resume), without a VM: against stand-in
// supervisors on the instance's control socket.
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import * as pty from 'node-pty';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../../electron/cli/main.js';
import { serveControl } from '../../../electron/engine/control/server.js';
import type { Backend } from '../../../electron/engine/backend.js';
import type { Envelope, Method, Params, Result } from '../../../electron/shared/contract.js';
import type { Status } from '../../../electron/shared/status.js';
import { makeStatus } from '../../fixtures/status.js';

const BERTH = path.resolve(import.meta.dirname, '../../../bin/berth.mjs');
const SPAWN_MS = 30_000;

const homes: string[] = [];
function instance(): { home: string; dir: string } {
  const home = fs.mkdtempSync('/tmp/bdel-');
  homes.push(home);
  const dir = path.join(home, 'default');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'disk.qcow2'), 'a disk');
  return { home, dir };
}
const children: ChildProcess[] = [];
const servers: net.Server[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});
afterAll(() => homes.forEach((h) => fs.rmSync(h, { recursive: true, force: true })));

/** main() in this process, as bin/berth.mjs runs it, with stdin not a terminal and output captured. */
async function cli(home: string, args: string[], opts: Parameters<typeof main>[1] = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  const tty = Object.getOwnPropertyDescriptor(process.stdin, 'isTTY');
  Object.defineProperty(process.stdin, 'isTTY', { value: undefined, configurable: true });
  const before = process.env.BERTH_HOME;
  process.env.BERTH_HOME = home;
  try {
    const code = await main(args, opts);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
    if (tty) Object.defineProperty(process.stdin, 'isTTY', tty);
    else delete (process.stdin as { isTTY?: boolean }).isTTY;
    if (before === undefined) delete process.env.BERTH_HOME;
    else process.env.BERTH_HOME = before;
  }
}

/**
 * A stand-in for the headless supervisor, in its own process: it holds supervisor.pid, serves
 * control.sock, writes each request to `log` (outside the instance), and exits `exitMs` after a
 * vm.stop — or never, as the app's supervisor does not (exitMs < 0).
 */
const FAKE_SUPERVISOR = `
const fs = require('node:fs'), net = require('node:net'), path = require('node:path');
const [dir, log, exitMs] = process.argv.slice(1);
fs.writeFileSync(path.join(dir, 'supervisor.pid'), String(process.pid));
net.createServer((s) => {
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    for (let i; (i = buf.indexOf('\\n')) >= 0; ) {
      const m = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      fs.appendFileSync(log, JSON.stringify({ method: m.method, params: m.params }) + '\\n');
      s.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result: { ok: true, value: { state: 'stopped' } } }) + '\\n');
      if (m.method === 'vm.stop' && Number(exitMs) >= 0) setTimeout(() => { fs.appendFileSync(log, 'exit\\n'); process.exit(0); }, Number(exitMs));
    }
  });
}).listen(path.join(dir, 'control.sock'), () => fs.appendFileSync(log, 'listening\\n'));
`;

async function fakeSupervisor(dir: string, exitMs: number): Promise<{ child: ChildProcess; log: string; exited: Promise<number> }> {
  const log = path.join(path.dirname(dir), `supervisor-${children.length}.log`);
  const child = spawn(process.execPath, ['-e', FAKE_SUPERVISOR, dir, log, String(exitMs)], { stdio: 'ignore' });
  children.push(child);
  const exited = new Promise<number>((r) => child.once('exit', () => r(Date.now())));
  for (const t0 = Date.now(); !(fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('listening')); ) {
    if (Date.now() - t0 > SPAWN_MS - 5000) throw new Error('the stand-in supervisor did not come up');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, log, exited };
}
const requests = (log: string) =>
  fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { method: string; params: unknown });

describe('berth delete', () => {
  it('outside a terminal and without --yes: refuses with exit 2 and the command that works; nothing deleted', async () => {
    const { home, dir } = instance();
    const r = await cli(home, ['delete']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/berth: delete removes instance default \(.*\): its disk and all its Docker images, containers and volumes; without a terminal to ask, it needs --yes/);
    expect(r.err).toMatch(/hint: `berth delete --yes` deletes without asking/);
    expect(fs.existsSync(path.join(dir, 'disk.qcow2'))).toBe(true);
    expect((await cli(home, ['delete', '--instance', 'dev'])).err).toMatch(/nothing to delete/);
  });

  it('--yes with nothing running deletes the instance', async () => {
    const { home, dir } = instance();
    const r = await cli(home, ['delete', '--yes']);
    expect(r.code).toBe(0);
    expect(r.err).toContain(`deleted instance default (${dir})`);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it(
    'with a supervisor: asks it to shut the VM down, and deletes only once that supervisor has exited',
    async () => {
      const { home, dir } = instance();
      // It exits 4 s after the stop, later than the fixed 3.5 s delete used to wait.
      const sup = await fakeSupervisor(dir, 4000);
      const r = await cli(home, ['delete', '--yes']);
      const returned = Date.now();
      expect(r.code, r.err).toBe(0);
      expect(requests(sup.log)).toEqual([{ method: 'vm.stop', params: { shutdown: true } }]);
      expect(await Promise.race([sup.exited, new Promise((res) => setTimeout(() => res(Infinity), 100))])).toBeLessThanOrEqual(returned);
      expect(fs.existsSync(dir)).toBe(false);
    },
    SPAWN_MS,
  );

  it(
    'a supervisor that stays (the app) after the VM stopped: nothing deleted, and says to quit the app',
    async () => {
      const { home, dir } = instance();
      const sup = await fakeSupervisor(dir, -1);
      const r = await cli(home, ['delete', '--yes'], { supervisorExitMs: 300 });
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`the supervisor of default \\(pid ${sup.child.pid}\\) still runs after its VM stopped; nothing was deleted`));
      expect(r.err).toMatch(/hint: If the Berth app runs this instance, quit the app, then `berth delete` again/);
      expect(fs.existsSync(path.join(dir, 'disk.qcow2'))).toBe(true);
    },
    SPAWN_MS,
  );

  /** The real command on a real terminal: the prompt, then `answer` typed. */
  async function onTerminal(home: string, answer: string): Promise<{ code: number; screen: string }> {
    const term = pty.spawn(process.execPath, [BERTH, 'delete'], { env: { ...process.env, BERTH_HOME: home }, cols: 200, rows: 10 });
    let screen = '';
    let typed = false;
    return new Promise((resolve) => {
      term.onData((d) => {
        screen += d;
        if (!typed && screen.includes('[y/N] ')) {
          typed = true;
          term.write(`${answer}\r`);
        }
      });
      term.onExit(({ exitCode }) => resolve({ code: exitCode, screen }));
    });
  }

  it(
    'on a terminal it asks; anything but y keeps the instance',
    async () => {
      const { home, dir } = instance();
      const r = await onTerminal(home, 'n');
      expect(r.screen).toMatch(/Delete instance default \(.*\): its disk and all its Docker images, containers and volumes\? \[y\/N\]/);
      expect(r.screen).toContain('berth: nothing was deleted');
      expect(r.code).toBe(1);
      expect(fs.existsSync(path.join(dir, 'disk.qcow2'))).toBe(true);
    },
    SPAWN_MS,
  );

  it(
    'on a terminal, y deletes',
    async () => {
      const { home, dir } = instance();
      const r = await onTerminal(home, 'y');
      expect(r.code).toBe(0);
      expect(r.screen).toContain('deleted instance default');
      expect(fs.existsSync(dir)).toBe(false);
    },
    SPAWN_MS,
  );
});

/**
 * A supervisor in this process that records what it is asked and answers like the real one; its
 * restart sends the status events a real restart sends (the old boot's steps, stopping, stopped,
 * then the new boot's steps one by one).
 */
function recordingBackend(): Backend & { calls: { method: Method; params: unknown }[] } {
  const calls: { method: Method; params: unknown }[] = [];
  const listeners = new Set<(s: Status) => void>();
  const emit = (s: Status) => listeners.forEach((l) => l(s));
  return {
    calls,
    on: ((event: string, l: (s: Status) => void) => {
      if (event !== 'status') return () => undefined;
      listeners.add(l);
      return () => listeners.delete(l);
    }) as Backend['on'],
    close: async () => undefined,
    async invoke<M extends Method>(method: M, params: Params<M>): Promise<Envelope<Result<M>>> {
      calls.push({ method, params });
      if (method === 'vm.restart') {
        const up = makeStatus('running');
        emit(up);
        emit({ ...up, state: 'stopping' });
        emit(makeStatus('stopped'));
        const steps: Status['steps'] = up.steps.map((st) => ({ name: st.name, label: st.label, state: 'pending' }));
        for (let i = 0; i < steps.length; i++) {
          steps[i] = { ...steps[i]!, state: 'done', durationMs: 1000 };
          emit(makeStatus('starting', { steps: steps.map((st) => ({ ...st })) }));
        }
        await new Promise((r) => setTimeout(r, 50)); // the events reach the CLI before the answer
      }
      let value: Status;
      if (method === 'vm.stop') {
        // stopMode: suspend, the default: a plain stop saves the VM
        value = makeStatus('stopped', { lastStop: { how: 'suspend', at: '2026-12-01T10:00:00Z', ms: 800, bytes: 400 * 2 ** 20 } });
      } else if (method === 'vm.start') {
        value = makeStatus('running', { readyMs: 1500, resume: { resumed: true, loadMs: 500 } });
      } else if (method === 'vm.restart') {
        value = makeStatus('running', { readyMs: 30_000 });
        delete value.resume;
      } else value = makeStatus('running');
      return { ok: true, value: value as unknown as Result<M> };
    },
  };
}

describe('berth restart', () => {
  it('asks the supervisor for a restart (a shutdown and a fresh boot), never a stop that suspends and a start that resumes', async () => {
    const { home, dir } = instance();
    const backend = recordingBackend();
    servers.push(await serveControl(path.join(dir, 'control.sock'), backend, { log: () => undefined }));
    const r = await cli(home, ['restart']);
    expect(r.code, r.err).toBe(0);
    expect(backend.calls.map((c) => c.method).filter((m) => m !== 'vm.status')).toEqual(['vm.restart']);
    expect(r.err).toMatch(/Docker is ready in 30\.0 s/);
    expect(r.err).not.toMatch(/resumed/);
    // Each step of the new boot is printed once; the old boot's steps are not printed at all.
    const steps = makeStatus('running').steps;
    for (const [i, st] of steps.entries()) expect(r.err.split(`[${i + 1}/${steps.length}] ${st.label}: ok (1.0 s)`)).toHaveLength(2);
    expect(r.err.match(/: ok/g)).toHaveLength(steps.length);
    expect(r.out.trim()).toMatch(/^DOCKER_HOST=unix:\/\//);
  });

  it(
    'without a supervisor: discards a saved state first, so the boot is cold',
    async () => {
      const { home, dir } = instance();
      fs.writeFileSync(path.join(dir, 'saved.vmstate'), 'memory');
      fs.writeFileSync(path.join(dir, 'saved.json'), '{}');
      // A broken berth.yaml ends the start right after it was asked for: no VM is booted here.
      fs.writeFileSync(path.join(dir, 'berth.yaml'), 'memoryGiB: lots\n');
      const r = await execa('node', [BERTH, 'restart'], { env: { ...process.env, BERTH_HOME: home }, reject: false, timeout: 2 * SPAWN_MS - 5000 });
      expect(String(r.stderr)).toMatch(/the saved state was discarded; restart boots cold/);
      for (const f of ['saved.vmstate', 'saved.json']) expect(fs.existsSync(path.join(dir, f)), f).toBe(false);
      expect(r.exitCode).toBe(1);
      expect(String(r.stderr)).toMatch(/memoryGiB \(line 1\): must be a number/);
    },
    2 * SPAWN_MS, // the command, and the headless supervisor it starts
  );

  it('takes no options', async () => {
    const r = await cli(instance().home, ['restart', '--cpus', '4']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Unknown option '--cpus'/);
  });
});

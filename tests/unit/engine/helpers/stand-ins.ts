// Stand-ins for a QEMU the engine finds on disk: a live process whose command line looks like
// ours, a scripted QMP monitor on a unix socket (like the peer in qmp.test.ts), an image
// directory, and a host agent that answers without a guest.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AgentForker, AgentProcess } from '../../../../electron/engine/agent-host.js';
import type { FromAgent, ToAgent } from '../../../../electron/engine/agent/protocol.js';
import { STEPS } from '../../../../electron/shared/status.js';

const scratchDirs: string[] = [];

/** A fresh directory under the system temp dir, removed by `removeScratch` (call it in afterAll). */
export function scratch(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratchDirs.push(d);
  return d;
}

export function removeScratch(): void {
  for (const d of scratchDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export type QmpCommand = { execute: string; id?: string; arguments?: Record<string, unknown> };
/** Return the value to answer with, or undefined to leave the command unanswered. */
export type QmpScript = (cmd: QmpCommand, sock: net.Socket) => unknown;

export interface FakeMonitor {
  received: string[];
  close(): Promise<void>;
}

export async function fakeMonitor(sockPath: string, script: QmpScript, opts: { greet?: boolean } = {}): Promise<FakeMonitor> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (opts.greet !== false) s.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } }) + '\r\n');
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(buf.slice(0, nl)) as QmpCommand;
        buf = buf.slice(nl + 1);
        if (cmd.execute === 'qmp_capabilities') {
          s.write(JSON.stringify({ return: {}, id: cmd.id }) + '\r\n');
          continue;
        }
        received.push(cmd.execute);
        const ret = script(cmd, s);
        if (ret !== undefined && !s.destroyed) s.write(JSON.stringify({ return: ret, id: cmd.id }) + '\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(sockPath, r));
  return {
    received,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * A live process whose command line opens `disk` the way QEMU's does (`-drive …,file=<disk>,…`).
 * Its own process group, so `kill()` also ends the sleep under the shell.
 */
export function qemuLookalike(disk: string, name = 'berth-test'): ChildProcess & { stop(): void } {
  const child = spawn('/bin/sh', ['-c', 'sleep 60; :', 'qemu-system-x86_64', '-name', `${name},process=${name}`, '-drive', `if=none,id=root,file=${disk},format=qcow2`], {
    stdio: 'ignore',
    detached: true,
  });
  return Object.assign(child, {
    stop() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    },
  });
}

export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** An image directory readImageDir accepts (tiny files of the recorded sizes). */
export function fakeImage(dir: string, arch: 'x86_64' | 'aarch64' = 'x86_64'): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = (name: string) => {
    fs.writeFileSync(path.join(dir, name), name);
    return { name, size: name.length, sha256: '0'.repeat(64) };
  };
  const manifest = { schema: 1, arch, recipeHash: 'test-recipe', kernelVersion: '6.1', kernel: file('vmlinuz'), initrd: file('initrd.img'), disk: file('base.qcow2') };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

/** A host agent that reports every step done at once and answers each exec with exit 0 (recording the commands). */
/**
 * A host agent process stood in for: `onInit` answers the supervisor's init through `reply`; a
 * shutdown or a kill ends it, as the real agent's exit would.
 */
export function agentStandIn(pid: number, onInit: (reply: (m: FromAgent) => void) => void): AgentForker {
  return () => {
    const ee = new EventEmitter();
    const reply = (m: FromAgent) => setImmediate(() => ee.emit('message', m));
    const proc: AgentProcess = {
      pid,
      send(m: ToAgent) {
        if (m.type === 'init') onInit(reply);
        else if (m.type === 'shutdown') setImmediate(() => ee.emit('exit', 0, null));
      },
      kill() {
        setImmediate(() => ee.emit('exit', null, 'SIGKILL'));
      },
      on: ((e: string, fn: (...a: unknown[]) => void) => ee.on(e, fn)) as AgentProcess['on'],
    };
    return proc;
  };
}

/** A host agent that connects to nothing: it never reports a step, until it is shut down. */
export const silentAgent: AgentForker = agentStandIn(2_000_000, () => undefined);

export function fakeAgent(execs: string[] = []): AgentForker {
  return () => {
    const ee = new EventEmitter();
    const reply = (m: FromAgent) => setImmediate(() => ee.emit('message', m));
    const proc: AgentProcess = {
      pid: 1_000_000 + Math.floor(Math.random() * 1000),
      send(m: ToAgent) {
        if (m.type === 'init') {
          for (const s of STEPS.slice(4, 8)) reply({ type: 'step', name: s.name, state: 'done' });
          reply({ type: 'ready' });
        } else if (m.type === 'exec') {
          execs.push(m.cmd);
          reply({ type: 'exec-result', id: m.id, code: 0, stdout: '', stderr: '' });
        } else if (m.type === 'shutdown') setImmediate(() => ee.emit('exit', 0, null));
      },
      kill() {
        setImmediate(() => ee.emit('exit', null, 'SIGKILL'));
      },
      on: ((e: string, fn: (...a: unknown[]) => void) => ee.on(e, fn)) as AgentProcess['on'],
    };
    return proc;
  };
}

// Spawns the host agent and talks to it; restarts it when it dies while the VM runs.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentInit, FromAgent, ToAgent } from './agent/protocol.js';
import { BerthFailure } from './errors.js';

/** How to start the agent process: child_process.fork here; Electron passes utilityProcess.fork. */
export interface AgentProcess {
  pid: number | undefined;
  send(m: ToAgent): void;
  kill(signal?: NodeJS.Signals): void;
  on(e: 'message', fn: (m: FromAgent) => void): void;
  on(e: 'exit', fn: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}
export type AgentForker = (entry: string, logFile: string) => AgentProcess;

export function agentEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const js = path.join(here, 'agent', 'main.js');
  return fs.existsSync(js) ? js : path.join(here, 'agent', 'main.ts');
}

export const nodeForker: AgentForker = (entry, logFile) => {
  const out = fs.openSync(logFile, 'a', 0o600);
  const child: ChildProcess = fork(entry, [], {
    stdio: ['ignore', out, out, 'ipc'],
    serialization: 'json',
    execArgv: entry.endsWith('.ts') ? ['--experimental-strip-types'] : [],
  });
  fs.closeSync(out);
  return {
    get pid() {
      return child.pid;
    },
    send: (m) => {
      if (child.connected) child.send(m);
    },
    kill: (s) => child.kill(s),
    on: ((e: string, fn: (...a: unknown[]) => void) => child.on(e, fn)) as AgentProcess['on'],
  };
};

export class AgentHost extends EventEmitter<{ message: [FromAgent]; exit: [string] }> {
  private proc: AgentProcess | null = null;
  private execId = 1;
  private execs = new Map<number, { resolve: (r: { code: number | null; stdout: string; stderr: string }) => void; reject: (e: Error) => void }>();
  private wantRunning = false;

  constructor(
    private readonly forker: AgentForker,
    private readonly logFile: string,
  ) {
    super();
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  start(init: AgentInit): void {
    this.wantRunning = true;
    const p = this.forker(agentEntry(), this.logFile);
    this.proc = p;
    p.on('message', (m) => {
      if (m.type === 'exec-result') {
        const w = this.execs.get(m.id);
        if (!w) return;
        this.execs.delete(m.id);
        if (m.error) w.reject(new BerthFailure('E_AGENT', m.error));
        else w.resolve({ code: m.code, stdout: m.stdout, stderr: m.stderr });
        return;
      }
      this.emit('message', m);
    });
    p.on('exit', (code, signal) => {
      if (this.proc !== p) return;
      this.proc = null;
      for (const [, w] of this.execs) w.reject(new BerthFailure('E_AGENT', 'host agent exited'));
      this.execs.clear();
      if (this.wantRunning) this.emit('exit', signal ? `killed by ${signal}` : `exited with code ${code}`);
    });
    p.send(init);
  }

  send(m: ToAgent): void {
    this.proc?.send(m);
  }

  exec(cmd: string, opts: { stdin?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const p = this.proc;
    if (!p) return Promise.reject(new BerthFailure('E_AGENT', 'host agent is not running', 'Start Docker first.'));
    const id = this.execId++;
    return new Promise((resolve, reject) => {
      this.execs.set(id, { resolve, reject });
      p.send({ type: 'exec', id, cmd, ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}), timeoutMs: opts.timeoutMs ?? 30_000 });
    });
  }

  async stop(): Promise<void> {
    this.wantRunning = false;
    const p = this.proc;
    if (!p) return;
    this.proc = null;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        p.kill('SIGKILL');
        resolve();
      }, 2000);
      p.on('exit', () => {
        clearTimeout(t);
        resolve();
      });
      p.send({ type: 'shutdown' });
    });
  }
}

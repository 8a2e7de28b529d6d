// Interactive shells in the VM for the console window: a pty on the host running
// `ssh -F <instance>/ssh/config berth` (the engine writes that config, host alias `berth`).
// Output goes out as `console` events; no Electron import, so the browser-test bridge uses it too.
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { ConsoleEvent } from '../shared/contract.js';
import type { BerthError } from '../shared/status.js';
import { DockerApi } from '../engine/docker/api.js';
import { openExec } from '../engine/docker/exec.js';
import { toBerthError } from '../engine/errors.js';

export interface PtyLike {
  onData(cb: (data: string) => void): unknown;
  onExit(cb: (e: { exitCode: number; signal?: number }) => void): unknown;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  kill(signal?: string): void;
}

export interface PtySpawnOptions {
  name: string;
  cols: number;
  rows: number;
  cwd: string;
  env: Record<string, string>;
}

export type SpawnPty = (file: string, args: string[], opts: PtySpawnOptions) => PtyLike | Promise<PtyLike>;

/** node-pty, loaded only when a shell is first opened (it is a native module). */
export const nodePtySpawn: SpawnPty = async (file, args, opts) => {
  const pty = await import('node-pty');
  return pty.spawn(file, args, opts);
};

export interface ConsoleOptions {
  sshConfig: string;
  emit: (event: ConsoleEvent) => void;
  spawn?: SpawnPty;
  ssh?: string;
  /** run this instead of ssh (dev-only fake backends: a local shell) */
  command?: { file: string; args: string[] };
  maxSessions?: number;
  /** the instance's docker.sock: a shell in a container is a `docker exec` through its API */
  dockerSocket?: string;
}

export class ConsoleFailure extends Error {
  constructor(readonly berth: BerthError) {
    super(berth.message);
  }
}

export function sshCommand(sshConfig: string, ssh = 'ssh'): { file: string; args: string[] } {
  return { file: ssh, args: ['-F', sshConfig, '-o', 'LogLevel=ERROR', 'berth'] };
}

export class ConsoleSessions {
  private readonly sessions = new Map<string, PtyLike>();
  private readonly spawn: SpawnPty;

  constructor(private readonly opts: ConsoleOptions) {
    this.spawn = opts.spawn ?? nodePtySpawn;
  }

  get size(): number {
    return this.sessions.size;
  }

  async open(cols: number, rows: number, container?: string): Promise<{ id: string }> {
    if (container) return this.openExec(cols, rows, container);
    if (!this.opts.command && !fs.existsSync(this.opts.sshConfig)) {
      throw new ConsoleFailure({
        code: 'E_NOT_RUNNING',
        message: `no SSH config for the VM yet (${this.opts.sshConfig})`,
        hint: 'Start Docker first; the shell opens once SSH is up.',
      });
    }
    if (this.sessions.size >= (this.opts.maxSessions ?? 8)) {
      throw new ConsoleFailure({ code: 'E_BUSY', message: 'too many console sessions are open', hint: 'Close a console tab first.' });
    }
    const { file, args } = this.opts.command ?? sshCommand(this.opts.sshConfig, this.opts.ssh);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    env.TERM = 'xterm-256color';
    env.COLORTERM = 'truecolor';
    const id = randomUUID();
    const pty = await this.spawn(file, args, { name: 'xterm-256color', cols, rows, cwd: process.env.HOME ?? '/', env });
    this.sessions.set(id, pty);
    pty.onData((data) => this.opts.emit({ id, data }));
    pty.onExit(({ exitCode }) => {
      this.sessions.delete(id);
      this.opts.emit({ id, exit: exitCode });
    });
    return { id };
  }

  private async openExec(cols: number, rows: number, container: string): Promise<{ id: string }> {
    if (!this.opts.dockerSocket) throw new ConsoleFailure({ code: 'E_NOT_RUNNING', message: 'this console cannot reach Docker', hint: 'Open the shell from the Containers view of the dashboard.' });
    if (this.sessions.size >= (this.opts.maxSessions ?? 8)) {
      throw new ConsoleFailure({ code: 'E_BUSY', message: 'too many console sessions are open', hint: 'Close a console tab first.' });
    }
    let session: PtyLike;
    try {
      session = await openExec(new DockerApi(this.opts.dockerSocket), container, { cols, rows });
    } catch (e) {
      throw new ConsoleFailure(toBerthError(e, 'E_DOCKER'));
    }
    const id = randomUUID();
    this.sessions.set(id, session);
    session.onData((data) => this.opts.emit({ id, data }));
    session.onExit(({ exitCode }) => {
      this.sessions.delete(id);
      this.opts.emit({ id, exit: exitCode });
    });
    return { id };
  }

  private get(id: string): PtyLike {
    const p = this.sessions.get(id);
    if (!p) throw new ConsoleFailure({ code: 'E_INVALID_PARAMS', message: `no console session ${JSON.stringify(id)}` });
    return p;
  }

  write(id: string, data: string): null {
    this.get(id).write(data);
    return null;
  }

  resize(id: string, cols: number, rows: number): null {
    this.get(id).resize(cols, rows);
    return null;
  }

  close(id: string): null {
    const p = this.get(id);
    this.sessions.delete(id);
    p.kill();
    return null;
  }

  closeAll(): void {
    for (const [id, p] of this.sessions) {
      this.sessions.delete(id);
      try {
        p.kill();
      } catch {
        /* already gone */
      }
    }
  }
}

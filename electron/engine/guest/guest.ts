// The guest as the engine sees it: typed operations over one exec transport. Today the transport
// is the host agent's SSH connection (AgentHost.exec); another (a virtio-serial channel) would be
// another GuestTransport, with nothing above this file changing.
import type { Arch } from '../../shared/status.js';
import { GUEST_COMMANDS, parseMountsStatus } from './commands.js';
import type { GuestMount } from './commands.js';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface GuestTransport {
  exec(cmd: string, opts?: { stdin?: string; timeoutMs?: number }): Promise<ExecResult>;
}

/** A result for a command that could not be sent (no transport, timed out): code null, the reason as stderr. */
export function notSent(e: Error): ExecResult {
  return { code: null, stdout: '', stderr: e.message };
}

export class Guest {
  constructor(private readonly transport: GuestTransport) {}

  /** Any command line, for the operations below and tools (`berth shell` has its own terminal). Rejects if it cannot be sent. */
  exec(cmd: string, opts: { stdin?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.transport.exec(cmd, opts);
  }

  ping(timeoutMs: number): Promise<ExecResult> {
    return this.exec(GUEST_COMMANDS.ping, { timeoutMs });
  }

  /** The guest's clock in ms since the epoch (NaN when its answer is not a time). */
  async readClock(timeoutMs: number): Promise<number> {
    const r = await this.exec(GUEST_COMMANDS.readClock, { timeoutMs });
    return Number(r.stdout.trim()) * 1000;
  }

  setClock(epochMs: number, timeoutMs: number): Promise<ExecResult> {
    return this.exec(GUEST_COMMANDS.setClock(epochMs), { timeoutMs });
  }

  /** What the guest's mount script reported, share by share. */
  async mountsStatus(timeoutMs: number): Promise<GuestMount[]> {
    const r = await this.exec(GUEST_COMMANDS.mountsStatus, { timeoutMs });
    return parseMountsStatus(r.stdout);
  }

  /** Mount every share of this boot again (after a resume), rewriting the status. */
  mountsUp(timeoutMs: number): Promise<ExecResult> {
    return this.exec(GUEST_COMMANDS.mountsUp, { timeoutMs });
  }

  /** Unmount every share (before a save); fails naming what still uses one. */
  mountsDown(timeoutMs: number): Promise<ExecResult> {
    return this.exec(GUEST_COMMANDS.mountsDown, { timeoutMs });
  }

  setEmulation(on: boolean, timeoutMs: number): Promise<ExecResult> {
    return this.exec(GUEST_COMMANDS.emulation(on), { timeoutMs });
  }

  /** Whether the foreign architecture's interpreter is registered, and what the tool said. */
  async emulationStatus(timeoutMs: number): Promise<{ on: boolean; result: ExecResult }> {
    const r = await this.exec(GUEST_COMMANDS.emulationStatus, { timeoutMs });
    return { on: r.stdout.trim() === 'enabled', result: r };
  }

  /** Run a foreign binary: its `uname -m` and the interpreter's version line. */
  async emulationSelfTest(foreign: Arch, timeoutMs: number): Promise<{ code: number | null; machine: string; interpreter: string; stderr: string }> {
    const t = await this.exec(GUEST_COMMANDS.emulationSelfTest(foreign), { timeoutMs });
    const [machine = '', interpreter = ''] = t.stdout.trim().split('\n');
    return { code: t.code, machine, interpreter, stderr: t.stderr };
  }

  /** The VM's and its containers' DNS queries to the engine's server at the host's `port`; null gives them back to QEMU's. */
  dnsRedirect(port: number | null, timeoutMs: number): Promise<ExecResult> {
    return this.exec(GUEST_COMMANDS.dnsRedirect(port), { timeoutMs });
  }

  /**
   * The VM's own Docker socket at the host-side socket path, so a container started with
   * `-v <hostPath>:/var/run/docker.sock` reaches dockerd. Idempotent; undone by mountsDown.
   */
  async bindDockerSocket(hostPath: string, timeoutMs: number): Promise<{ ok: boolean; note?: string }> {
    const r = await this.exec(GUEST_COMMANDS.bindDockerSocket(hostPath), { timeoutMs });
    if (r.code === 0 && r.stdout.trim().split('\n').pop() === 'bound') return { ok: true };
    return { ok: false, note: r.stderr.trim().split('\n').pop() || `exit ${r.code}` };
  }

  sync(timeoutMs: number): Promise<ExecResult> {
    return this.exec(GUEST_COMMANDS.sync, { timeoutMs });
  }
}

// One SSH connection to the guest (npm ssh2) with a pinned host key, reconnecting when it drops.
import { EventEmitter } from 'node:events';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import type { Duplex } from 'node:stream';
import readline from 'node:readline';
import { GUEST_COMMANDS } from '../guest/commands.js';
import type { ExecResult, GuestLink, ListenerWatch } from './link.js';

const { Client } = ssh2;
type SshClient = InstanceType<typeof Client>;

export class SshLink extends EventEmitter<{ up: []; down: [string] }> implements GuestLink {
  readonly kind = 'ssh' as const;
  private client: SshClient | null = null;
  private connecting: Promise<SshClient> | null = null;
  private stopped = false;
  private readonly pinned: Buffer;

  constructor(
    private readonly port: number,
    private readonly privateKey: string,
    hostKeyPub: string,
  ) {
    super();
    this.pinned = Buffer.from(hostKeyPub.trim().split(/\s+/)[1] ?? '', 'base64');
  }

  get isUp(): boolean {
    return this.client !== null;
  }

  /** Connect once; rejects on failure (callers retry). A host key that is not the pinned one is refused. */
  connect(timeoutMs = 5000): Promise<SshClient> {
    if (this.client) return Promise.resolve(this.client);
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<SshClient>((resolve, reject) => {
      const c = new Client();
      let mismatch = false;
      c.on('ready', () => {
        if (this.stopped) {
          // closed while connecting (the guest channel won): no idle connection left behind
          c.end();
          this.connecting = null;
          return reject(new Error('ssh link closed'));
        }
        c.setNoDelay(true); // Nagle + delayed ACKs cost ~90 ms per Docker request (bench/, latency)
        this.client = c;
        this.connecting = null;
        resolve(c);
        this.emit('up');
      });
      c.on('error', (e: Error) => {
        this.connecting = null;
        reject(mismatch ? new Error('guest host key does not match the pinned key: refusing to connect') : e);
      });
      c.on('close', () => {
        this.connecting = null;
        if (this.client === c) {
          this.client = null;
          if (!this.stopped) this.emit('down', 'ssh connection closed');
        }
      });
      c.connect({
        host: '127.0.0.1',
        port: this.port,
        username: 'root',
        privateKey: this.privateKey,
        readyTimeout: timeoutMs,
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          const ok = key.equals(this.pinned);
          if (!ok) mismatch = true;
          return ok;
        },
      });
    });
    return this.connecting;
  }

  /** Connect, retrying until `deadline` (epoch ms). */
  async connectUntil(deadline: number, onRetry?: (e: Error) => void): Promise<SshClient> {
    let authFailures = 0;
    for (;;) {
      try {
        return await this.connect(Math.max(1000, Math.min(5000, deadline - Date.now())));
      } catch (e) {
        if ((e as Error).message.includes('pinned')) throw e;
        // sshd answers but refuses our key: retrying for minutes would only hide the problem.
        if (/authentication methods failed/.test((e as Error).message) && ++authFailures >= 20) {
          throw new Error('the guest refused the instance SSH key (authorized key not installed by berth-boot?)');
        }
        if (Date.now() > deadline || this.stopped) throw e;
        onRetry?.(e as Error);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  async exec(cmd: string, opts: { stdin?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    const c = await this.connect();
    return new Promise<ExecResult>((resolve, reject) => {
      c.exec(cmd, (err: Error | undefined, ch: ClientChannel) => {
        if (err) return reject(err);
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => {
          ch.close();
          reject(new Error(`command timed out after ${opts.timeoutMs} ms: ${cmd.slice(0, 80)}`));
        }, opts.timeoutMs ?? 30_000);
        ch.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
        ch.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
        ch.on('close', (code: number | null) => {
          clearTimeout(timer);
          resolve({ code: code ?? null, stdout, stderr });
        });
        if (opts.stdin !== undefined) ch.end(opts.stdin);
        else ch.end();
      });
    });
  }

  /** A stream to a unix socket in the guest (OpenSSH streamlocal forwarding). */
  async openUnix(path: string): Promise<Duplex> {
    const c = await this.connect();
    return new Promise<Duplex>((resolve, reject) => {
      c.openssh_forwardOutStreamLocal(path, (err: Error | undefined, ch: ClientChannel) => (err ? reject(err) : resolve(ch)));
    });
  }

  /** A stream to a TCP port in the guest (direct-tcpip). */
  async openTcp(host: string, port: number): Promise<Duplex> {
    const c = await this.connect();
    return new Promise<Duplex>((resolve, reject) => {
      c.forwardOut('127.0.0.1', 0, host, port, (err: Error | undefined, ch: ClientChannel) => (err ? reject(err) : resolve(ch)));
    });
  }

  /** The listener watcher runs as a command; a line on its stdin asks for a fresh report. */
  async watchListeners(onLine: (line: string) => void): Promise<ListenerWatch> {
    const c = await this.connect();
    return new Promise<ListenerWatch>((resolve, reject) => {
      c.exec(GUEST_COMMANDS.portWatch, (err: Error | undefined, ch: ClientChannel) => {
        if (err) return reject(err);
        readline.createInterface({ input: ch }).on('line', onLine);
        ch.on('error', () => undefined);
        resolve({ refresh: () => ch.writable && ch.write('\n'), close: () => ch.close() });
      });
    });
  }

  close(): void {
    this.stopped = true;
    this.client?.end();
    this.client = null;
  }
}

// QEMU's own forwarding rules for UDP ports, set up for the host agent (which has no QEMU monitor):
// `hostfwd_add udp:127.0.0.1:R-:GUESTPORT` on an internal free port R of the host's loopback; the
// agent's relay binds the port users see and passes datagrams to R. The monitor's HMP commands
// answer errors as text in a successful reply, so every reply is read.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { HostfwdRequest } from '../agent/protocol.js';
import type { Service } from './service.js';

/** The QEMU monitor, as far as this service needs it. */
export interface HmpMonitor {
  hmp(commandLine: string, timeoutMs?: number): Promise<string>;
}

/** The user-mode network QEMU runs with (qemu-args.ts). */
const NETDEV = 'net0';
/** A rule on a port another process took in the meantime fails: try another port this often. */
const ADD_TRIES = 3;

/** null when hostfwd_add succeeded (it prints nothing), or QEMU's message. */
export function hostfwdAddError(reply: string): string | null {
  const text = reply.trim();
  return text ? text : null;
}

/** hostfwd_remove prints "… removed" or "… not found" (both leave no rule); anything else is an error. */
export function hostfwdRemoveError(reply: string): string | null {
  const text = reply.trim();
  return /\b(removed|not found)\s*$/i.test(text) ? null : text || 'no answer';
}

/** The UDP rules in `info usernet`: "  UDP[HOST_FORWARD]  33  127.0.0.1 40555  10.0.2.15  5353  0  0". */
export function usernetUdpForwards(info: string): { hostAddress: string; hostPort: number; guestPort: number }[] {
  const out: { hostAddress: string; hostPort: number; guestPort: number }[] = [];
  for (const line of info.split(/\r?\n/)) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== 'UDP[HOST_FORWARD]' || f.length < 6) continue;
    const hostPort = Number(f[3]);
    const guestPort = Number(f[5]);
    if (Number.isInteger(hostPort) && Number.isInteger(guestPort)) out.push({ hostAddress: f[2]!, hostPort, guestPort });
  }
  return out;
}

/** A UDP port nobody holds on the host's 127.0.0.1 right now. */
export function freeLoopbackUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind({ address: '127.0.0.1', port: 0, exclusive: true }, () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export class UdpHostfwdService implements Service {
  readonly name = 'udp-hostfwd';
  /** the internal ports of the rules made on this VM */
  private readonly rules = new Set<number>();
  /** the monitor whose leftover rules were already removed */
  private swept: HmpMonitor | null = null;
  /** one monitor command at a time, in the order the agent asked */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly monitor: () => HmpMonitor | null,
    private readonly log: (line: string) => void,
    private readonly freePort: () => Promise<number> = freeLoopbackUdpPort,
  ) {}

  /** The agent's request, answered as the protocol's hostfwd-result wants it. */
  handle(req: HostfwdRequest): Promise<{ hostPort?: number; error?: string }> {
    const run = req.op === 'add' ? () => this.add(req.guestPort).then((hostPort) => ({ hostPort })) : () => this.remove(req.hostPort).then(() => ({}));
    const next = this.queue.then(run, run).catch((e: Error) => ({ error: e.message }));
    this.queue = next;
    return next;
  }

  /** The rules this service made and has not removed: their internal host ports. */
  get active(): number[] {
    return [...this.rules].sort((a, b) => a - b);
  }

  private mon(): HmpMonitor {
    const m = this.monitor();
    if (!m) throw new Error('the QEMU monitor is not connected');
    return m;
  }

  private async add(guestPort: number): Promise<number> {
    const m = this.mon();
    await this.sweep(m);
    let last = '';
    for (let i = 0; i < ADD_TRIES; i++) {
      const port = await this.freePort();
      const err = hostfwdAddError(await m.hmp(`hostfwd_add ${NETDEV} udp:127.0.0.1:${port}-:${guestPort}`));
      if (!err) {
        this.rules.add(port);
        return port;
      }
      last = err;
    }
    throw new Error(last);
  }

  private async remove(hostPort: number): Promise<void> {
    const m = this.mon();
    this.rules.delete(hostPort);
    const err = hostfwdRemoveError(await m.hmp(`hostfwd_remove ${NETDEV} udp:127.0.0.1:${hostPort}`));
    if (err) throw new Error(err);
  }

  /**
   * A VM this supervisor did not start (adopted after a crash) may still hold the rules the last
   * one made, for relays that died with their agent: remove them once. Berth makes no other UDP
   * forwarding rules.
   */
  private async sweep(m: HmpMonitor): Promise<void> {
    if (this.swept === m) return;
    this.swept = m;
    const stale = usernetUdpForwards(await m.hmp('info usernet')).filter((r) => r.hostAddress === '127.0.0.1' && !this.rules.has(r.hostPort));
    for (const r of stale) {
      const err = hostfwdRemoveError(await m.hmp(`hostfwd_remove ${NETDEV} udp:127.0.0.1:${r.hostPort}`));
      this.log(err ? `udp: could not remove a leftover forward of guest port ${r.guestPort}: ${err}` : `udp: removed a leftover forward of guest port ${r.guestPort} (127.0.0.1:${r.hostPort})`);
    }
  }

  /** The agent is gone and its relays with it: their rules go too (a new agent asks again). */
  removeAll(): Promise<void> {
    const ports = [...this.rules];
    return Promise.all(ports.map((hostPort) => this.handle({ op: 'remove', protocol: 'udp', hostPort }))).then(() => undefined);
  }

  onStart(): void {
    // a new QEMU has none of the last one's rules
    this.rules.clear();
    this.swept = null;
  }

  onStop(): void {
    this.rules.clear();
    this.swept = null;
  }
}

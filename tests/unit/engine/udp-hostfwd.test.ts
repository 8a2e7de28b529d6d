// QEMU's UDP forwarding rules as the supervisor sets them up for the agent. The monitor is a stand-in
// that answers the way QEMU 7.2 answered these HMP commands on this machine (the replies below are
// recorded from it); the integration suite ports-udp.test.ts runs the same against a real QEMU.
import { describe, expect, it } from 'vitest';
import { UdpHostfwdService, freeLoopbackUdpPort, hostfwdAddError, hostfwdRemoveError, usernetUdpForwards } from '../../../electron/engine/services/udp-hostfwd.js';
import type { HmpMonitor } from '../../../electron/engine/services/udp-hostfwd.js';
import { bindUdp } from '../../../electron/engine/agent/udp-relay.js';

const INFO_USERNET = [
  'Hub -1 (net0):',
  '  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ',
  '  TCP[ESTABLISHED]   25       127.0.0.1 36895       10.0.2.15    22     0     0',
  '  TCP[HOST_FORWARD]  14       127.0.0.1 36895       10.0.2.15    22     0     0',
  '  UDP[HOST_FORWARD]  34       127.0.0.1 40556       10.0.2.15  5353     0     0',
  '  UDP[HOST_FORWARD]  33       127.0.0.1 40555       10.0.2.15  5353     0     0',
  '',
].join('\r\n');

/** A monitor that keeps a rule table the way QEMU does and answers in its words. */
function qemu(opts: { refuse?: number; leftovers?: number[] } = {}) {
  const rules = new Map<number, number>((opts.leftovers ?? []).map((p) => [p, 5353]));
  let refuse = opts.refuse ?? 0;
  const log: string[] = [];
  const monitor: HmpMonitor = {
    async hmp(cmd) {
      log.push(cmd);
      let m = /^hostfwd_add net0 udp:127\.0\.0\.1:(\d+)-:(\d+)$/.exec(cmd);
      if (m) {
        if (refuse > 0 || rules.has(Number(m[1]))) {
          refuse--;
          return `Could not set up host forwarding rule 'udp:127.0.0.1:${m[1]}-:${m[2]}'\r\n`;
        }
        rules.set(Number(m[1]), Number(m[2]));
        return '';
      }
      m = /^hostfwd_remove net0 udp:127\.0\.0\.1:(\d+)$/.exec(cmd);
      if (m) return rules.delete(Number(m[1])) ? `host forwarding rule for udp:127.0.0.1:${m[1]} removed\r\n` : `host forwarding rule for udp:127.0.0.1:${m[1]} not found\r\n`;
      if (cmd === 'info usernet')
        return ['Hub -1 (net0):', '  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ', ...[...rules].map(([h, g]) => `  UDP[HOST_FORWARD]  33       127.0.0.1 ${h}       10.0.2.15  ${g}     0     0`), ''].join('\r\n');
      return `unknown command: '${cmd}'\r\n`;
    },
  };
  return { monitor, rules, log };
}

describe('reading QEMU’s replies', () => {
  it('hostfwd_add prints nothing on success and its reason otherwise', () => {
    expect(hostfwdAddError('')).toBeNull();
    expect(hostfwdAddError("Could not set up host forwarding rule 'udp:127.0.0.1:40555-:5353'\r\n")).toBe("Could not set up host forwarding rule 'udp:127.0.0.1:40555-:5353'");
    expect(hostfwdAddError("Invalid host forwarding rule 'udp:bad' (Missing : separator)\r\n")).toBe("Invalid host forwarding rule 'udp:bad' (Missing : separator)");
  });
  it('hostfwd_remove: removed and not found both leave no rule', () => {
    expect(hostfwdRemoveError('host forwarding rule for udp:127.0.0.1:40555 removed\r\n')).toBeNull();
    expect(hostfwdRemoveError('host forwarding rule for udp:127.0.0.1:40555 not found\r\n')).toBeNull();
    expect(hostfwdRemoveError("unknown command: 'hostfwd_remove'\r\n")).toBe("unknown command: 'hostfwd_remove'");
  });
  it('info usernet: the UDP forwarding rules, not TCP ones nor connections', () => {
    expect(usernetUdpForwards(INFO_USERNET)).toEqual([
      { hostAddress: '127.0.0.1', hostPort: 40556, guestPort: 5353 },
      { hostAddress: '127.0.0.1', hostPort: 40555, guestPort: 5353 },
    ]);
  });
});

describe('the UDP rules service', () => {
  it('adds a rule on a free loopback port and gives that port to the agent', async () => {
    const q = qemu();
    const svc = new UdpHostfwdService(() => q.monitor, () => undefined);
    const r = await svc.handle({ op: 'add', protocol: 'udp', guestPort: 5353 });
    expect(r.error).toBeUndefined();
    expect(q.rules.get(r.hostPort!)).toBe(5353);
    expect(q.log).toEqual(['info usernet', `hostfwd_add net0 udp:127.0.0.1:${r.hostPort}-:5353`]);
    expect(svc.active).toEqual([r.hostPort]);
    expect(await svc.handle({ op: 'remove', protocol: 'udp', hostPort: r.hostPort! })).toEqual({});
    expect(q.rules.size).toBe(0);
    expect(svc.active).toEqual([]);
  });

  it('removes the rules a crashed supervisor left on the VM, once, before its first add', async () => {
    const q = qemu({ leftovers: [40555, 40556] });
    const lines: string[] = [];
    const svc = new UdpHostfwdService(() => q.monitor, (l) => lines.push(l));
    await svc.handle({ op: 'add', protocol: 'udp', guestPort: 53 });
    await svc.handle({ op: 'add', protocol: 'udp', guestPort: 54 });
    // only this supervisor's two rules are left
    expect([...q.rules.keys()].sort((x, y) => x - y)).toEqual(svc.active);
    expect([...q.rules.values()].sort()).toEqual([53, 54]);
    expect(q.log.filter((c) => c === 'info usernet')).toHaveLength(1);
    expect(lines).toHaveLength(2);
  });

  it('a port taken between choosing it and QEMU binding it: another port is tried', async () => {
    const q = qemu({ refuse: 2 });
    const svc = new UdpHostfwdService(() => q.monitor, () => undefined);
    const r = await svc.handle({ op: 'add', protocol: 'udp', guestPort: 5353 });
    expect(r.hostPort).toBeGreaterThan(0);
    expect(q.log.filter((c) => c.startsWith('hostfwd_add'))).toHaveLength(3);
  });

  it('QEMU refusing every try: the agent gets QEMU’s words', async () => {
    const q = qemu({ refuse: 99 });
    const svc = new UdpHostfwdService(() => q.monitor, () => undefined);
    const r = await svc.handle({ op: 'add', protocol: 'udp', guestPort: 5353 });
    expect(r.error).toMatch(/^Could not set up host forwarding rule 'udp:127\.0\.0\.1:\d+-:5353'$/);
    expect(svc.active).toEqual([]);
  });

  it('no monitor (QEMU gone): an error, not a hang', async () => {
    const svc = new UdpHostfwdService(() => null, () => undefined);
    expect(await svc.handle({ op: 'add', protocol: 'udp', guestPort: 5353 })).toEqual({ error: 'the QEMU monitor is not connected' });
  });

  it('the agent gone: removeAll gives back every rule; a new VM (onStart) starts with none', async () => {
    const q = qemu();
    const svc = new UdpHostfwdService(() => q.monitor, () => undefined);
    await Promise.all([5353, 5354, 5355].map((guestPort) => svc.handle({ op: 'add', protocol: 'udp', guestPort })));
    expect(q.rules.size).toBe(3);
    await svc.removeAll();
    expect(q.rules.size).toBe(0);
    await svc.handle({ op: 'add', protocol: 'udp', guestPort: 1 });
    svc.onStart();
    expect(svc.active).toEqual([]);
  });

  it('requests run one at a time in the order asked (a remove then an add for the same guest port)', async () => {
    const q = qemu();
    const svc = new UdpHostfwdService(() => q.monitor, () => undefined);
    const first = await svc.handle({ op: 'add', protocol: 'udp', guestPort: 7 });
    const [removed, again] = await Promise.all([svc.handle({ op: 'remove', protocol: 'udp', hostPort: first.hostPort! }), svc.handle({ op: 'add', protocol: 'udp', guestPort: 7 })]);
    expect(removed).toEqual({});
    expect([...q.rules.entries()]).toEqual([[again.hostPort, 7]]);
  });

  it('the port it picks is free on 127.0.0.1', async () => {
    const p = await freeLoopbackUdpPort();
    (await bindUdp('127.0.0.1', p)).close();
  });
});

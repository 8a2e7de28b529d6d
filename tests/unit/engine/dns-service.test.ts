// The DNS service against a stand-in guest: the redirect it asks for, the server it starts (real,
// asked by a real resolver), and what the status says when either part fails.
import dgram from 'node:dgram';
import dns from 'node:dns';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSettings, saveSettings } from '../../../electron/engine/config.js';
import { startDnsServer } from '../../../electron/engine/dns/server.js';
import { EventLog } from '../../../electron/engine/event-log.js';
import type { ExecResult } from '../../../electron/engine/guest/index.js';
import { baseStatus, ensureInstanceDir, instancePaths, pendingSteps } from '../../../electron/engine/instance/index.js';
import { DnsService } from '../../../electron/engine/services/dns.js';
import { removeScratch, scratch } from './helpers/stand-ins.js';
import { serviceContext } from './helpers/service-context.js';

afterAll(removeScratch);

function context(answer: Partial<ExecResult>) {
  const p = instancePaths('dns', scratch('berth-dns-'));
  ensureInstanceDir(p);
  saveSettings(p.settings, defaultSettings());
  const sent: string[] = [];
  const log = new EventLog(p.events);
  const ctx = serviceContext(p, {
    exec: async (cmd) => {
      sent.push(cmd);
      return { code: 0, stdout: '', stderr: '', ...answer };
    },
    journal: (kind, data) => void log.append(kind, data),
  });
  const status = () => {
    const st = baseStatus(p, defaultSettings(), { state: 'running', steps: pendingSteps(), pids: {}, restartNeeded: false });
    return st;
  };
  return { p, ctx, sent, status };
}

describe('dns service', () => {
  it('at ready: starts the server, redirects the guest to its port, says so in the status and the journal', async () => {
    const { p, ctx, sent, status } = context({});
    const svc = new DnsService(ctx);
    svc.onStart();
    await svc.onReady();
    const st = status();
    svc.status(st);
    expect(st.dns).toMatchObject({ via: 'host', port: expect.any(Number) });
    const port = st.dns!.port!;
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain(`--to-destination 10.0.2.2:${port}`);
    expect(sent[0]).toMatch(/-A BERTH-DNS -d 10\.0\.2\.3\/32 -p udp --dport 53/);
    expect(sent[0]).toMatch(/-A BERTH-DNS -d 10\.0\.2\.3\/32 -p tcp --dport 53/);
    expect(EventLog.readLast(p.events).find((e) => e.kind === 'dns')).toMatchObject({ via: 'host', port });
    const r = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
    r.setServers([`127.0.0.1:${port}`]);
    expect(await r.resolve4('gateway.docker.internal')).toEqual(['10.0.2.2']);
    svc.onStop();
    const after = status();
    svc.status(after);
    expect(after.dns).toBeUndefined();
  });

  it('a resume re-applies (same server, same port) and the ready after it does not ask again', async () => {
    const { ctx, sent, status } = context({});
    const svc = new DnsService(ctx);
    svc.onStart();
    await svc.onReady();
    svc.onStart();
    await svc.afterResume();
    await svc.onReady();
    expect(sent).toHaveLength(2);
    expect(sent[1]).toBe(sent[0]);
    const st = status();
    svc.status(st);
    expect(st.dns?.via).toBe('host');
    svc.onStop();
  });

  it('a server that cannot start (its port taken): QEMU’s resolver stays, the redirect is removed, the status says why', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '127.0.0.1', r));
    const { ctx, sent, status } = context({});
    const svc = new DnsService(ctx, () => startDnsServer({ port: taken.address().port }));
    svc.onStart();
    await svc.onReady();
    taken.close();
    const st = status();
    svc.status(st);
    expect(st.dns).toMatchObject({ via: 'qemu', reason: expect.stringMatching(/DNS server did not start \(.*EADDRINUSE/) });
    expect(sent[0]).toContain('-F BERTH-DNS');
    expect(sent[0]).not.toContain('DNAT');
  });

  it('a guest that cannot redirect: QEMU’s resolver, and the guest’s error in the status', async () => {
    const { ctx, status } = context({ code: 1, stderr: 'iptables-restore: line 3 failed\n' });
    const svc = new DnsService(ctx);
    svc.onStart();
    await svc.onReady();
    const st = status();
    svc.status(st);
    expect(st.dns).toEqual({ via: 'qemu', reason: 'the VM could not redirect its DNS queries (iptables-restore: line 3 failed)' });
    svc.onStop();
  });
});

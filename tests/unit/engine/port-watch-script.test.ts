// The guest's ports watcher script (guest/scripts.ts), run by bash on this Linux host against its
// own /proc/net tables with real sockets: what the agent reads from it is what is bound.
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { parseWatchLine } from '../../../electron/engine/agent/listeners.js';
import { PORT_WATCH_SCRIPT } from '../../../electron/engine/guest/scripts.js';

const opened: { close(): unknown }[] = [];
afterAll(() => {
  for (const s of opened) s.close();
});

function udp(type: 'udp4' | 'udp6', address: string): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(type);
    opened.push(s);
    s.bind(0, address, () => resolve(s));
  });
}

/** One scan: with stdin at EOF the script prints the table once and exits. */
function scan() {
  const r = spawnSync('bash', ['-c', PORT_WATCH_SCRIPT], { input: '', encoding: 'utf8', timeout: 10_000 });
  expect(r.status, r.stderr).toBe(0);
  const line = r.stdout.split('\n').find((l) => l.startsWith('L'));
  return parseWatchLine(line ?? '')!;
}

describe.skipIf(!fs.existsSync('/proc/net/udp'))('the ports watcher script', () => {
  it('reports UDP servers on 127.0.0.1 and ::1, not a connect()ed client socket, and TCP listeners apart from them', async () => {
    const server4 = await udp('udp4', '127.0.0.1');
    const server6 = await udp('udp6', '::1');
    const client = await udp('udp4', '127.0.0.1');
    await new Promise<void>((r) => client.connect((server4.address() as AddressInfo).port, '127.0.0.1', () => r()));
    const tcp = net.createServer().listen(0, '127.0.0.1');
    opened.push(tcp);
    await new Promise((r) => tcp.once('listening', r));

    const seen = scan();
    const p4 = (server4.address() as AddressInfo).port;
    const p6 = (server6.address() as AddressInfo).port;
    const pc = (client.address() as AddressInfo).port;
    const pt = (tcp.address() as AddressInfo).port;
    expect(seen.udp).toContainEqual({ port: p4, address: '127.0.0.1' });
    expect(seen.udp).toContainEqual({ port: p6, address: '::1' });
    expect(seen.udp.map((l) => l.port)).not.toContain(pc);
    expect(seen.udp.map((l) => l.port)).not.toContain(pt);
    expect(seen.tcp).toContainEqual({ port: pt, address: '127.0.0.1' });
    expect(seen.tcp.map((l) => l.port)).not.toContain(p4);

    server4.close();
    opened.splice(opened.indexOf(server4), 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(scan().udp.map((l) => l.port)).not.toContain(p4);
  });
});

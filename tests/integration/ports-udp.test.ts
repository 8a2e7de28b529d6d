// UDP forwarding against a real VM (the shared one: see SHARED_VM in harness.ts): a container's
// `-p H:C/udp` and a plain guest UDP server answer datagrams from host 127.0.0.1 and ::1 through
// Berth's relay and the guest channel's UDP streams (QEMU holds no rule for them); they disappear
// with their listener. Also `localhost` both ways for TCP. The UDP echo is a small static C program (the
// test image's busybox has no UDP server), compiled here.
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortForward } from '../../electron/shared/status.js';
import { berth, busyboxTar, docker, joinSharedVm, leaveSharedVm, sharedInstance, until } from './harness.js';

// Its settings include ports.ignore: [23456].
const inst = sharedInstance();
const IMG = 'berth-test/busybox:udp';

/** busybox + /bin/udp-echo, imported as IMG. */
async function importUdpImage(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'udp-img-'));
  try {
    const tar = busyboxTar('/bin/busybox', dir);
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const cc = spawnSync('gcc', ['-static', '-O2', '-o', path.join(bin, 'udp-echo'), path.join(import.meta.dirname, 'udp-echo.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`gcc -static udp-echo.c: ${cc.stderr}`);
    const add = spawnSync('tar', ['-rf', tar, '-C', dir, './bin/udp-echo'], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`tar -r: ${add.stderr}`);
    const imp = await docker(inst, ['import', tar, IMG]);
    if (imp.exitCode !== 0) throw new Error(`docker import: ${imp.stderr}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  await joinSharedVm(inst);
  await importUdpImage();
}, 180_000);

afterAll(() => leaveSharedVm(inst), 120_000);

async function ports(): Promise<PortForward[]> {
  const r = await berth(inst, ['ports', '--json']);
  return JSON.parse(String(r.stdout)) as PortForward[];
}

/** Datagrams from one client socket on `host`: the replies, in arrival order, after all came or timeoutMs passed. */
function exchange(host: '127.0.0.1' | '::1', port: number, msgs: Buffer[], timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(host === '::1' ? 'udp6' : 'udp4');
    const got: Buffer[] = [];
    const done = () => {
      clearTimeout(t);
      s.close();
      resolve(got);
    };
    const t = setTimeout(done, timeoutMs);
    s.on('message', (m) => {
      got.push(m);
      if (got.length === msgs.length) done();
    });
    s.on('error', () => undefined);
    s.bind(0, host, () => {
      for (const m of msgs) s.send(m, port, host);
    });
  });
}

const echoes = async (host: '127.0.0.1' | '::1', port: number, text: string) => (await exchange(host, port, [Buffer.from(text)], 1000)).map(String)[0] === text;

/** QEMU's UDP forwarding rules, read on the monitor socket the supervisor leaves free for debugging. */
function usernetUdpRules(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(path.join(inst.dir, 'qmp-debug.sock'));
    let buf = '';
    let sent = 0;
    sock.on('data', (d) => {
      buf += String(d);
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        const m = JSON.parse(l) as { QMP?: unknown; return?: unknown };
        if (m.QMP) {
          sock.write('{"execute":"qmp_capabilities"}\n');
          sent = 1;
        } else if (sent === 1 && 'return' in m) {
          sock.write('{"execute":"human-monitor-command","arguments":{"command-line":"info usernet"}}\n');
          sent = 2;
        } else if (sent === 2 && typeof m.return === 'string') {
          sock.end();
          resolve(m.return.split(/\r?\n/).filter((x) => x.includes('UDP[HOST_FORWARD]')));
        }
      }
    });
    sock.on('error', reject);
  });
}

describe('UDP: a published container port', () => {
  it('docker run -p H:C/udp → datagrams from host 127.0.0.1 and ::1 come back whole; berth ports says udp', async () => {
    const r = await docker(inst, ['run', '-d', '--name', 'udp-echo', '-p', '15353:5353/udp', IMG, 'udp-echo', '5353']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    await until('the UDP forward', async () => ((await echoes('127.0.0.1', 15353, 'ping')) ? true : undefined), 60_000, 200);
    expect(await echoes('::1', 15353, 'ping6')).toBe(true);

    const list = await ports();
    expect(list).toContainEqual(expect.objectContaining({ protocol: 'udp', hostPort: 15353, guestPort: 15353, state: 'forwarding' }));
    expect(String((await berth(inst, ['ports'])).stdout)).toMatch(/localhost:15353\/udp\s+→ \S+:15353\s+forwarding/);

    // boundaries: each datagram comes back as one, in its own size
    const sizes = [1, 100, 1400, 8000];
    const back = await exchange('127.0.0.1', 15353, sizes.map((n, i) => Buffer.alloc(n, 97 + i)));
    expect(back.map((b) => b.length).sort((a, b) => a - b)).toEqual(sizes);
    for (const b of back) expect(new Set(b).size).toBe(1);
  });

  it('two clients at once (127.0.0.1 and ::1) each get only their own replies', async () => {
    const msgs = (tag: string) => Array.from({ length: 10 }, (_, i) => Buffer.from(`${tag}-${i}`));
    const [a, b] = await Promise.all([exchange('127.0.0.1', 15353, msgs('a')), exchange('::1', 15353, msgs('b'))]);
    expect(a.map(String).sort()).toEqual(msgs('a').map(String).sort());
    expect(b.map(String).sort()).toEqual(msgs('b').map(String).sort());
  });

  it('the host agent killed: the UDP forward comes back by itself; the guest channel carries it (QEMU holds no rule for it)', async () => {
    expect(await usernetUdpRules()).toEqual([]);
    const agent = (JSON.parse(String((await berth(inst, ['status', '--json'])).stdout)) as { pids: { agent?: number } }).pids.agent;
    expect(agent).toBeGreaterThan(0);
    process.kill(agent!, 'SIGKILL');
    await until('the forward after the agent restart', async () => ((await echoes('127.0.0.1', 15353, 'back')) ? true : undefined), 60_000, 200);
    expect(await echoes('::1', 15353, 'back6')).toBe(true);
    expect(await usernetUdpRules()).toEqual([]);
  });

  it('docker rm -f → the forward disappears and the host port is free', async () => {
    expect((await docker(inst, ['rm', '-f', 'udp-echo'])).exitCode).toBe(0);
    await until('the UDP forward to go', async () => ((await ports()).some((p) => p.protocol === 'udp' && p.hostPort === 15353) ? undefined : true), 20_000, 200);
    for (const host of ['127.0.0.1', '::1']) {
      const s = dgram.createSocket(host === '::1' ? 'udp6' : 'udp4');
      await new Promise<void>((res, rej) => {
        s.once('error', rej);
        s.bind(15353, host, () => res());
      });
      s.close();
    }
  });

  it('a host UDP port another program holds: failed with the reason, the other forwards keep working', async () => {
    const other = dgram.createSocket('udp4');
    await new Promise<void>((res) => other.bind(15600, '127.0.0.1', () => res()));
    try {
      const r = await docker(inst, ['run', '-d', '--name', 'udp-clash', '-p', '15600:5353/udp', '-p', '15601:5353/udp', IMG, 'udp-echo', '5353']);
      expect(r.exitCode, String(r.stderr)).toBe(0);
      const failed = await until('the failed forward', async () => (await ports()).find((p) => p.protocol === 'udp' && p.hostPort === 15600 && p.state === 'failed'), 60_000, 200);
      expect(failed.reason).toBe('port 15600 is already used by another program on this host (binding 127.0.0.1:15600/udp failed: address in use)');
      await until('the other forward', async () => ((await echoes('127.0.0.1', 15601, 'still here')) ? true : undefined), 30_000, 200);
    } finally {
      other.close();
      await docker(inst, ['rm', '-f', 'udp-clash']);
    }
  });
});

describe('UDP: a plain guest server', () => {
  it('a UDP server in the VM’s own network answers; when it closes it disappears from berth ports', async () => {
    const r = await docker(inst, ['run', '-d', '--name', 'udp-host', '--network', 'host', IMG, 'udp-echo', '15400']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    await until('the guest UDP server’s forward', async () => ((await echoes('127.0.0.1', 15400, 'guest')) ? true : undefined), 60_000, 200);
    expect(await echoes('::1', 15400, 'guest6')).toBe(true);
    expect((await ports()).find((p) => p.protocol === 'udp' && p.guestPort === 15400)).toMatchObject({ guestAddress: '0.0.0.0', state: 'forwarding' });
    expect((await docker(inst, ['rm', '-f', 'udp-host'])).exitCode).toBe(0);
    await until('the forward to go', async () => ((await ports()).some((p) => p.protocol === 'udp' && p.guestPort === 15400) ? undefined : true), 20_000, 200);
    expect(await echoes('127.0.0.1', 15400, 'gone')).toBe(false);
  });

  it('a UDP server bound to the VM’s loopback only is reached too (the channel connects to its own address)', async () => {
    const r = await docker(inst, ['run', '-d', '--name', 'udp-lo', '--network', 'host', IMG, 'udp-echo', '15410', '127.0.0.1']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    await until('the loopback server’s forward', async () => ((await echoes('127.0.0.1', 15410, 'lo')) ? true : undefined), 60_000, 200);
    expect((await ports()).find((p) => p.protocol === 'udp' && p.guestPort === 15410)).toMatchObject({ guestAddress: '127.0.0.1', state: 'forwarding' });
    expect((await docker(inst, ['rm', '-f', 'udp-lo'])).exitCode).toBe(0);
  });

  it('ports.ignore applies to UDP too', async () => {
    const r = await docker(inst, ['run', '-d', '--name', 'udp-ignored', '--network', 'host', IMG, 'udp-echo', '23456']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    // the guest watcher sees it within a poll; give it a few
    await new Promise((res) => setTimeout(res, 3000));
    expect((await ports()).find((p) => p.guestPort === 23456)).toBeUndefined();
    expect(await echoes('127.0.0.1', 23456, 'x')).toBe(false);
    await docker(inst, ['rm', '-f', 'udp-ignored']);
  });
});

describe('localhost both ways', () => {
  it('a forwarded TCP port answers on 127.0.0.1 and on ::1', async () => {
    const r = await docker(inst, ['run', '-d', '--name', 'both-ways', '-p', '18500:80', IMG, 'sh', '-c', 'mkdir -p /www && echo both > /www/index.html && exec httpd -f -p 80 -h /www']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const get = (host: string) =>
      new Promise<string>((resolve, reject) => {
        const req = http.get({ host, port: 18500, path: '/', timeout: 5000, agent: false }, (res) => {
          let body = '';
          res.on('data', (d) => (body += String(d)));
          res.on('end', () => resolve(body.trim()));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
      });
    expect(await until('the TCP forward', async () => get('127.0.0.1').catch(() => undefined), 60_000, 200)).toBe('both');
    expect(await get('::1')).toBe('both');
  });
});

// Automatic port forwarding against a real VM (the shared one: see SHARED_VM in harness.ts):
// published container ports, plain guest listeners, many ports, big transfers, concurrency, a
// taken host port, and host.docker.internal.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PortForward } from '../../electron/shared/status.js';
import { berth, docker, joinSharedVm, leaveSharedVm, sharedInstance } from './harness.js';

// Its settings include ports.ignore: [23456].
const inst = sharedInstance();
const IMG = 'berth-test/busybox:ports';

beforeAll(() => joinSharedVm(inst, IMG), 120_000);

afterAll(() => leaveSharedVm(inst), 120_000);

function get(port: number, p = '/', timeoutMs = 5000): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not happen within ${ms} ms (${String(last)})`);
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

async function ports(): Promise<PortForward[]> {
  const r = await berth(inst, ['ports', '--json']);
  return JSON.parse(String(r.stdout)) as PortForward[];
}

const httpd = (name: string, publish: string[], extra = '') =>
  docker(inst, ['run', '-d', '--name', name, ...publish.flatMap((p) => ['-p', p]), IMG, 'sh', '-c', `mkdir -p /www && echo hello-${name} > /www/index.html ${extra} && exec httpd -f -p 80 -h /www`]);

describe('published container ports', () => {
  it('docker run -d -p H:C → http://127.0.0.1:H answers; docker rm -f → closed again', async () => {
    expect((await httpd('web', ['18080:80'])).exitCode).toBe(0);
    const res = await until('the forward', async () => {
      const r = await get(18080);
      return r.status === 200 ? r : undefined;
    });
    expect(res.body.toString().trim()).toBe('hello-web');
    const list = await ports();
    expect(list).toContainEqual(expect.objectContaining({ hostPort: 18080, guestPort: 18080, state: 'forwarding' }));
    expect((await docker(inst, ['rm', '-f', 'web'])).exitCode).toBe(0);
    await until('the host port to close', async () => ((await refused(18080)) ? true : undefined));
    expect((await ports()).find((p) => p.hostPort === 18080)).toBeUndefined();
  });

  it('20 published ports at once all answer', async () => {
    const servers = Array.from({ length: 20 }, (_, i) => `httpd -p ${8000 + i} -h /www`).join(' && ');
    const r = await docker(inst, ['run', '-d', '--name', 'many', '-p', '21000-21019:8000-8019', IMG, 'sh', '-c', `mkdir -p /www && echo many > /www/index.html && ${servers} && sleep 3600`]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const bodies = await until(
      'all 20 forwards',
      async () => {
        const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => get(21000 + i).then((x) => x.body.toString().trim(), () => 'x')));
        return rs.every((b) => b === 'many') ? rs : undefined;
      },
      // dockerd starts one docker-proxy process per published port: ~1 s each under TCG.
      120_000,
    );
    expect(bodies).toHaveLength(20);
  });

  it('50 concurrent connections all complete', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => get(21000, '/', 20_000).then((r) => r.status)));
    expect(results.filter((s) => s === 200)).toHaveLength(50);
  });
});

describe('plain guest listeners', () => {
  it('a listener started with berth shell on the guest 127.0.0.1 is reachable from the host', async () => {
    const r = await berth(inst, ['shell', '--', 'sh', '-c', 'mkdir -p /tmp/w && echo from-guest > /tmp/w/index.html && busybox httpd -p 127.0.0.1:19090 -h /tmp/w']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const res = await until('the guest listener forward', async () => {
      const g = await get(19090);
      return g.status === 200 ? g : undefined;
    });
    expect(res.body.toString().trim()).toBe('from-guest');
    expect((await ports()).find((p) => p.guestPort === 19090)).toMatchObject({ guestAddress: '127.0.0.1', state: 'forwarding' });
  });

  it('a port listed under ports.ignore in berth.yaml is not forwarded', async () => {
    await berth(inst, ['shell', '--', 'sh', '-c', 'busybox httpd -p 23456 -h /tmp/w; true']);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await refused(23456)).toBe(true);
    expect((await ports()).find((p) => p.guestPort === 23456)).toBeUndefined();
  });
});

describe('data through a forward', () => {
  it('100 MB download and upload keep their sha256', async () => {
    const r = await docker(inst, ['run', '-d', '--name', 'bulk', '-p', '18200:80', '-p', '18201:7000', IMG, 'sh', '-c',
      'mkdir -p /www && dd if=/dev/urandom of=/www/blob bs=1M count=100 2>/dev/null && sha256sum /www/blob > /www/blob.sha && (nc -l -p 7000 </dev/null | sha256sum > /www/up.tmp && mv /www/up.tmp /www/up.sha &) && exec httpd -f -p 80 -h /www']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const sha = await until('the blob', async () => {
      const s = await get(18200, '/blob.sha');
      return s.status === 200 ? s.body.toString().split(' ')[0] : undefined;
    }, 60_000);
    const blob = await get(18200, '/blob', 300_000);
    expect(blob.body.length).toBe(100 * 1024 * 1024);
    expect(createHash('sha256').update(blob.body).digest('hex')).toBe(sha);

    const up = randomBytes(100 * 1024 * 1024);
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: 18201 }, () => s.end(up));
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    const upSha = await until('the upload digest', async () => {
      const s = await get(18200, '/up.sha');
      return s.status === 200 ? s.body.toString().split(' ')[0] : undefined;
    }, 120_000);
    expect(upSha).toBe(createHash('sha256').update(up).digest('hex'));
  }, 600_000);
});

describe('failures and the other direction', () => {
  it('a host port already taken gives a failed forward with the reason; others keep working', async () => {
    const blocker = net.createServer().listen(18300, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    try {
      expect((await httpd('clash', ['18300:80', '18301:80'])).exitCode).toBe(0);
      const failed = await until('the failed forward', async () => (await ports()).find((p) => p.hostPort === 18300 && p.state === 'failed'));
      // found by a connect before binding (on macOS the bind alone could succeed and shadow it)
      expect(failed.reason).toBe('port 18300 is already used by another program on this host (it answers on 127.0.0.1:18300)');
      const ok = await until('the other forward', async () => {
        const g = await get(18301);
        return g.status === 200 ? g : undefined;
      });
      expect(ok.body.toString().trim()).toBe('hello-clash');
      const st = JSON.parse(String((await berth(inst, ['status', '--json'])).stdout));
      expect(st.ports).toContainEqual(expect.objectContaining({ hostPort: 18300, state: 'failed' }));
    } finally {
      blocker.close();
    }
  });

  it('a container reaches a server on the host loopback as host.docker.internal', async () => {
    const srv = http.createServer((_req, res) => res.end('hello-from-host')).listen(18400, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    try {
      const r = await docker(inst, ['run', '--rm', '--add-host', 'host.docker.internal:host-gateway', IMG, 'wget', '-qO-', 'http://host.docker.internal:18400/']);
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(String(r.stdout)).toBe('hello-from-host');
      // The VM itself resolves the name without any flag.
      const g = await berth(inst, ['shell', '--', 'busybox', 'wget', '-qO-', 'http://host.docker.internal:18400/']);
      expect(String(g.stdout)).toBe('hello-from-host');
    } finally {
      srv.close();
    }
  });

  it('nothing listens beyond loopback on the host', () => {
    const lines = [...fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1), ...fs.readFileSync('/proc/net/tcp6', 'utf8').split('\n').slice(1)];
    const ours = new Set<number>([18080, 18200, 18201, 18301, 19090, ...Array.from({ length: 20 }, (_, i) => 21000 + i)]);
    const exposed = lines
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === '0A')
      .map((f) => ({ addr: f[1]!.split(':')[0]!, port: parseInt(f[1]!.split(':')[1]!, 16) }))
      .filter((x) => ours.has(x.port) && x.addr !== '0100007F' && x.addr !== '00000000000000000000000001000000');
    expect(exposed).toEqual([]);
  });
});

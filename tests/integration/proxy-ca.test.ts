// Proxies and extra CAs, with real clients: Debian's docker-registry (distribution 2.8) on the
// host's loopback with TLS from a CA this test makes, and a small HTTP CONNECT proxy on the host's
// loopback. Two boots: the first without the CA (a push fails on the unknown authority), then
// berth.yaml gets the CA and the proxy and `berth restart` boots again with them.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berth, docker, finish, importBusybox, newInstance, statusOf, until } from './harness.js';

const inst = newInstance('pxy');
for (const env of [inst.env, inst.dockerEnv]) {
  for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'ALL_PROXY', 'all_proxy']) delete env[k];
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-pxy-'));
const caFile = path.join(work, 'ca.pem');
let registry: ChildProcess | undefined;
let regPort = 0;
let proxy: http.Server | undefined;
let proxyPort = 0;
/** each CONNECT the proxy was asked for: its target as the client sent it, and whether it carried credentials */
const connects: { target: string; auth: string | undefined }[] = [];

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: work, stdio: 'pipe' });
}

/** A test CA and a server certificate for the names the VM reaches the host's loopback by. */
function makeCertificates(): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Berth test CA', '-keyout', 'ca.key', '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=host.docker.internal', '-keyout', 'server.key', '-out', 'server.csr']);
  fs.writeFileSync(path.join(work, 'server.ext'), 'subjectAltName=IP:10.0.2.2,DNS:host.docker.internal\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'server.pem', '-extfile', 'server.ext']);
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** GET on the registry from the host, trusting the test CA. */
function registryGet(p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: regPort, path: p, ca: fs.readFileSync(caFile), servername: 'host.docker.internal', timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

async function startRegistry(): Promise<void> {
  const found = spawnSync('sh', ['-c', 'command -v docker-registry']).status === 0;
  if (!found) throw new Error("Debian's docker-registry is not installed: run build/setup-host.sh");
  regPort = await freePort();
  fs.writeFileSync(
    path.join(work, 'registry.yml'),
    [
      'version: 0.1',
      'log: {level: info}',
      'storage:',
      `  filesystem: {rootdirectory: ${path.join(work, 'storage')}}`,
      'http:',
      `  addr: 127.0.0.1:${regPort}`,
      `  tls: {certificate: ${path.join(work, 'server.pem')}, key: ${path.join(work, 'server.key')}}`,
      '',
    ].join('\n'),
  );
  const log = fs.openSync(path.join(work, 'registry.log'), 'a');
  registry = spawn('docker-registry', ['serve', path.join(work, 'registry.yml')], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  await until('the registry answers', async () => ((await registryGet('/v2/').catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 20_000, 200);
}

/**
 * A forward proxy that logs each CONNECT. The targets are the VM's names for the host's loopback
 * (10.0.2.2, host.docker.internal), which on the host is 127.0.0.1; any other target is refused.
 */
async function startProxy(): Promise<void> {
  proxy = http.createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const target = req.url ?? '';
    connects.push({ target, auth: req.headers['proxy-authorization'] });
    const m = /^(10\.0\.2\.2|host\.docker\.internal):(\d+)$/.exec(target);
    if (!m) return void client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    const up = net.connect(Number(m[2]), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  proxyPort = (proxy.address() as net.AddressInfo).port;
}

function writeYaml(extra = ''): void {
  fs.mkdirSync(inst.dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(inst.dir, 'berth.yaml'), `cpus: 2\nmemoryGiB: 2\nmounts: []\n${extra}`);
}

const image = () => `10.0.2.2:${regPort}/berth/bb:1`;

beforeAll(async () => {
  makeCertificates();
  await startRegistry();
  await startProxy();
  writeYaml();
  const r = await berth(inst, ['start']);
  if (r.exitCode !== 0) throw new Error(`berth start failed (${r.exitCode}):\n${r.stderr}`);
  await importBusybox(inst, image());
}, 600_000);

afterAll(async () => {
  await finish(inst);
  registry?.kill();
  proxy?.close();
  proxy?.closeAllConnections();
  fs.rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('without caCertificates', () => {
  it('status shows no proxy and no extra CA', async () => {
    expect((await statusOf(inst)).proxy).toEqual({ source: 'none', caCertificates: 0 });
    const out = String((await berth(inst, ['status'])).stdout);
    expect(out).toMatch(/^proxy: +none$/m);
    expect(out).toMatch(/^CAs: +-$/m);
  });

  it('a push to the registry fails: its certificate is signed by an unknown authority', async () => {
    const r = await docker(inst, ['push', image()]);
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stderr)).toMatch(/x509: certificate signed by unknown authority/);
    expect((await registryGet('/v2/_catalog')).body).not.toContain('berth/bb');
  });
});

describe('with the CA and a proxy on the host’s loopback, after berth restart', () => {
  beforeAll(async () => {
    writeYaml(`caCertificates:\n  - ${caFile}\nproxy:\n  https: http://berth:s3cret@127.0.0.1:${proxyPort}\n  noProxy: host.docker.internal\n`);
    // written while the VM runs: it takes effect at the next boot, and the status says so
    const s = await statusOf(inst);
    expect(s.state).toBe('running');
    expect(s.restartNeeded).toBe(true);
    const r = await berth(inst, ['restart']);
    // the image imported before stays on the disk across the restart
    if (r.exitCode !== 0) throw new Error(`berth restart failed (${r.exitCode}):\n${r.stderr}`);
  }, 600_000);

  it('status shows the proxy as the VM uses it, credentials masked, and one extra CA', async () => {
    const s = await statusOf(inst);
    expect(s.restartNeeded).toBe(false);
    expect(s.proxy).toEqual({ https: `http://***@10.0.2.2:${proxyPort}`, noProxy: 'host.docker.internal', source: 'berth.yaml', note: "the host's loopback is 10.0.2.2 from the VM", caCertificates: 1 });
    const out = String((await berth(inst, ['status'])).stdout);
    expect(out).toContain(`proxy:      HTTPS http://***@10.0.2.2:${proxyPort}, not for host.docker.internal (berth.yaml; the host's loopback is 10.0.2.2 from the VM)`);
    expect(out).toMatch(/^CAs: +1 extra \(caCertificates\)$/m);
    expect(out).not.toContain('s3cret');
  });

  it('the VM trusts the CA and its shells get the proxy', async () => {
    const bundle = await berth(inst, ['shell', '--', 'cat', '/etc/ssl/certs/ca-certificates.crt']);
    expect(String(bundle.stdout)).toContain(fs.readFileSync(caFile, 'utf8').trim().split('\n')[1]);
    const env = await berth(inst, ['shell', '--', 'cat', '/etc/environment']);
    expect(String(env.stdout)).toContain(`https_proxy=http://berth:s3cret@10.0.2.2:${proxyPort}`);
    expect(String(env.stdout)).toContain('no_proxy=host.docker.internal');
  });

  it('a push succeeds, through the proxy with its credentials', async () => {
    const before = connects.length;
    const r = await docker(inst, ['push', image()]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect((await registryGet('/v2/_catalog')).body).toContain('berth/bb');
    const seen = connects.slice(before);
    expect(seen.map((c) => c.target)).toContain(`10.0.2.2:${regPort}`);
    expect(seen.every((c) => c.auth === `Basic ${Buffer.from('berth:s3cret').toString('base64')}`)).toBe(true);
  });

  it('the image pulls back through the proxy and runs', async () => {
    expect((await docker(inst, ['rmi', image()])).exitCode).toBe(0);
    const before = connects.length;
    const r = await docker(inst, ['pull', image()], { timeout: 180_000 });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(connects.slice(before).map((c) => c.target)).toContain(`10.0.2.2:${regPort}`);
    const run = await docker(inst, ['run', '--rm', image(), '/bin/echo', 'pulled through the proxy'], { timeout: 180_000 });
    expect(String(run.stdout).trim(), String(run.stderr)).toBe('pulled through the proxy');
  });

  it('a registry named in noProxy is reached directly, never through the proxy', async () => {
    const before = connects.length;
    const r = await docker(inst, ['pull', `host.docker.internal:${regPort}/berth/bb:1`], { timeout: 180_000 });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(connects.slice(before)).toEqual([]);
  });
});

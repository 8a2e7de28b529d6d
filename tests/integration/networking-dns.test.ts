// Names in the VM and its containers, against a real VM (the shared one): host.docker.internal
// without --add-host on the default bridge, a user-defined network and a compose network; names
// the host resolves (its /etc/hosts) resolve in containers too; a missing name fails at once; and
// host-gateway still means the host.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berth, docker, joinSharedVm, leaveSharedVm, sharedInstance, statusOf } from './harness.js';

const inst = sharedInstance();
const IMG = 'berth-test/busybox:dns';
const NET = 'berth-dns-net';
const tag = `${process.pid}-${Date.now().toString(36)}`;
/** exists only in the host's /etc/hosts, for the length of this suite */
const HOSTS_NAME = `berth-hosts-only-${tag}.test`;
const HOSTS_ADDR = '198.51.100.77';
const HOSTS_LINE = `${HOSTS_ADDR} ${HOSTS_NAME} # berth networking-dns test`;
const MISSING = `berth-no-such-name-${tag}.invalid`;

let srv: http.Server;
let port = 0;

function removeHostsLine(): void {
  const now = fs.readFileSync('/etc/hosts', 'utf8');
  if (!now.includes(HOSTS_LINE)) return;
  // Written in place: /etc/hosts is often a bind mount that a rename would not replace.
  fs.writeFileSync('/etc/hosts', now.split('\n').filter((l) => l !== HOSTS_LINE).join('\n'));
}

beforeAll(async () => {
  await joinSharedVm(inst, IMG);
  srv = http.createServer((req, res) => res.end(`hello-from-host ${req.headers.host ?? ''}`));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  port = (srv.address() as { port: number }).port;
  const n = await docker(inst, ['network', 'create', NET]);
  if (n.exitCode !== 0 && !/already exists/.test(String(n.stderr))) throw new Error(`network create: ${n.stderr}`);
  const hosts = fs.readFileSync('/etc/hosts', 'utf8');
  fs.writeFileSync('/etc/hosts', `${hosts}${hosts.endsWith('\n') ? '' : '\n'}${HOSTS_LINE}\n`);
}, 180_000);

afterAll(async () => {
  try {
    removeHostsLine();
  } finally {
    srv?.close();
    await leaveSharedVm(inst);
    await docker(inst, ['network', 'rm', NET]);
  }
}, 120_000);

/** `sh -c script` in a fresh container on `network`. */
const inContainer = (network: string, script: string, extra: string[] = []) => docker(inst, ['run', '--rm', '--network', network, ...extra, IMG, 'sh', '-c', script]);

describe('DNS through the host’s resolver', () => {
  it('berth status says the VM resolves through the host, on the engine’s loopback port', async () => {
    const st = await statusOf(inst);
    expect(st.dns).toMatchObject({ via: 'host', port: expect.any(Number) });
    const text = String((await berth(inst, ['status'])).stdout);
    expect(text).toContain(`dns:        the host's resolver (engine server on 127.0.0.1:${st.dns!.port})`);
  });

  it('the redirect is in its own chain, beside Docker’s rules in the same iptables flavour, jumped to once from OUTPUT and PREROUTING', async () => {
    const r = await berth(inst, ['shell', '--', 'sh', '-c', 'iptables -V; iptables -t nat -S']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const out = String(r.stdout);
    const lines = out.split('\n');
    const port = (await statusOf(inst)).dns!.port!;
    expect(lines).toContain('-N BERTH-DNS');
    expect(lines).toContain('-N DOCKER');
    expect(lines).toContain(`-A BERTH-DNS -d 10.0.2.3/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.0.2.2:${port}`);
    expect(lines).toContain(`-A BERTH-DNS -d 10.0.2.3/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 10.0.2.2:${port}`);
    expect(lines.filter((l) => l === '-A OUTPUT -j BERTH-DNS')).toHaveLength(1);
    expect(lines.filter((l) => l === '-A PREROUTING -j BERTH-DNS')).toHaveLength(1);
    // dockerd and Berth use the same `iptables`: its flavour is the one Docker's chains are in.
    expect(out).toMatch(/iptables v1\.\d+\.\d+ \((nf_tables|legacy)\)/);
  });

  it('the VM itself resolves a name that only the host’s /etc/hosts has', async () => {
    const r = await berth(inst, ['shell', '--', 'getent', 'hosts', HOSTS_NAME]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toContain(HOSTS_ADDR);
  });

  for (const network of ['bridge', NET]) {
    describe(`a container on ${network === 'bridge' ? 'the default bridge' : 'a user-defined network'}`, () => {
      it('reaches a server on the host’s 127.0.0.1 at host.docker.internal and gateway.docker.internal, without --add-host', async () => {
        const r = await inContainer(network, `wget -qO- http://host.docker.internal:${port}/ && echo && wget -qO- http://gateway.docker.internal:${port}/`);
        expect(r.exitCode, String(r.stderr)).toBe(0);
        expect(String(r.stdout).split('\n')).toEqual([`hello-from-host host.docker.internal:${port}`, `hello-from-host gateway.docker.internal:${port}`]);
      });

      it('resolves a name that only the host’s /etc/hosts has, to its address', async () => {
        const r = await inContainer(network, `nslookup ${HOSTS_NAME}`);
        expect(r.exitCode, String(r.stdout) + String(r.stderr)).toBe(0);
        expect(String(r.stdout)).toContain(HOSTS_ADDR);
      });

      it('a name that does not exist fails at once: "bad address" (getaddrinfo), NXDOMAIN (nslookup), no hang', async () => {
        // ping rather than wget: Debian's static busybox wget crashes on a failed lookup, on the host too.
        const r = await inContainer(network, `s=$(date +%s); busybox ping -c 1 -W 1 ${MISSING} 2>&1; echo "rc=$? took=$(( $(date +%s) - s ))"; nslookup ${MISSING} 2>&1`);
        const out = String(r.stdout);
        expect(out).toContain(`bad address '${MISSING}'`);
        expect(out).toMatch(/rc=1 /);
        expect(Number(/took=(\d+)/.exec(out)?.[1])).toBeLessThanOrEqual(3);
        expect(out).toMatch(/NXDOMAIN/);
      });

      it('--add-host host.docker.internal:host-gateway still means the host', async () => {
        const r = await inContainer(network, `grep host.docker.internal /etc/hosts; wget -qO- http://host.docker.internal:${port}/`, ['--add-host', 'host.docker.internal:host-gateway']);
        expect(r.exitCode, String(r.stderr)).toBe(0);
        expect(String(r.stdout)).toMatch(/^10\.0\.2\.2\s+host\.docker\.internal\n/);
        expect(String(r.stdout)).toContain(`hello-from-host host.docker.internal:${port}`);
      });
    });
  }

  it('a compose project: host.docker.internal with and without extra_hosts: host-gateway, and a host-only name', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dns-compose-'));
    const file = path.join(dir, 'compose.yaml');
    fs.writeFileSync(
      file,
      [
        'services:',
        '  plain:',
        `    image: ${IMG}`,
        `    command: ["sh", "-c", "wget -qO- http://host.docker.internal:${port}/ && echo && nslookup ${HOSTS_NAME}"]`,
        '  gateway:',
        `    image: ${IMG}`,
        '    extra_hosts: ["host.docker.internal:host-gateway"]',
        `    command: ["sh", "-c", "wget -qO- http://host.docker.internal:${port}/"]`,
        '',
      ].join('\n'),
    );
    const compose = (args: string[]) => docker(inst, ['compose', '-f', file, '-p', 'berthdns', ...args], { timeout: 300_000 });
    try {
      const plain = await compose(['run', '--rm', '-T', 'plain']);
      expect(plain.exitCode, String(plain.stderr)).toBe(0);
      expect(String(plain.stdout)).toContain(`hello-from-host host.docker.internal:${port}`);
      expect(String(plain.stdout)).toContain(HOSTS_ADDR);
      const gw = await compose(['run', '--rm', '-T', 'gateway']);
      expect(gw.exitCode, String(gw.stderr)).toBe(0);
      expect(String(gw.stdout)).toContain(`hello-from-host host.docker.internal:${port}`);
    } finally {
      await compose(['down', '--timeout', '1']);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('containers still find each other by name through Docker’s embedded DNS first', async () => {
    const up = await docker(inst, ['run', '-d', '--name', 'dns-peer', '--network', NET, IMG, 'sleep', '600']);
    expect(up.exitCode, String(up.stderr)).toBe(0);
    const r = await inContainer(NET, 'nslookup dns-peer');
    expect(r.exitCode, String(r.stdout)).toBe(0);
    expect(String(r.stdout)).toMatch(/Address: 172\.\d+\.\d+\.\d+/);
  });
});

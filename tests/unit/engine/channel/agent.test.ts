// ChannelLink against the real guest agent (resources/guest/agent, built natively by build/guest/build-agent.sh):
// the test serves a unix socket the way QEMU's chardev does and `berth-guestd --connect` dials it, so every byte
// crosses the same codec, windows and stream kinds as in the VM. Linux only: the agent is Linux code (epoll, /proc).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelLink } from '../../../../electron/engine/channel/link.js';
import { keepAlive } from '../../../../electron/engine/agent/transport.js';

const root = path.resolve(import.meta.dirname, '../../../..');
let dir: string;
let agentBin: string;
let server: net.Server;
const accepted: net.Socket[] = [];
const acceptWaiters: ((s: net.Socket) => void)[] = [];
let agent: ChildProcess;
let link: ChannelLink;
/** the socket the link runs over, to put bytes on the wire behind its back */
let current: net.Socket | null = null;

/** The next connection the agent makes, as QEMU would hand it to its one client. */
async function nextAgentSocket(): Promise<net.Socket> {
  const s = accepted.shift() ?? (await new Promise<net.Socket>((r) => acceptWaiters.push(r)));
  current = s;
  return s;
}

function startAgent(): ChildProcess {
  const p = spawn(agentBin, ['--connect', path.join(dir, 'guest.sock'), '--boot-id-file', path.join(dir, 'boot-id')], { stdio: ['ignore', 'ignore', 'inherit'] });
  return p;
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function readAll(s: Duplex): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(c));
  return new Promise((resolve, reject) => {
    s.on('end', () => resolve(Buffer.concat(parts)));
    s.on('error', reject);
  });
}

function unixServer(name: string, onConn: (s: net.Socket) => void): Promise<string> {
  const p = path.join(dir, name);
  const srv = net.createServer(onConn);
  return new Promise((r) => srv.listen(p, () => r(p)));
}

describe.skipIf(process.platform !== 'linux')('the channel against berth-guestd', () => {
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chan-e2e-'));
    const b = spawnSync('bash', [path.join(root, 'build/guest/build-agent.sh'), os.arch() === 'arm64' ? 'aarch64' : 'x86_64', path.join(dir, 'bin')], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`build-agent.sh failed: ${b.stderr}`);
    agentBin = path.join(dir, 'bin', 'berth-guestd');
    fs.writeFileSync(path.join(dir, 'boot-id'), 'e2e-boot\n');
    server = net.createServer((s) => {
      const w = acceptWaiters.shift();
      if (w) w(s);
      else accepted.push(s);
    });
    await new Promise<void>((r) => server.listen(path.join(dir, 'guest.sock'), r));
    agent = startAgent();
    link = new ChannelLink('', { connect: nextAgentSocket });
    await link.connectUntil(Date.now() + 10_000);
  }, 120_000);

  afterAll(async () => {
    link?.close();
    agent?.kill('SIGKILL');
    server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('comes up with the boot id and the agent name', () => {
    expect(link.isUp).toBe(true);
    expect(link.hello).toEqual({ version: 1, bootId: 'e2e-boot', agent: 'berth-guestd 1' });
  });

  it('carries an HTTP exchange to a unix socket in the guest, as the docker socket would be', async () => {
    const sockPath = path.join(dir, 'docker.sock');
    const srv = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, body })));
    });
    await new Promise<void>((r) => srv.listen(sockPath, r));
    try {
      for (let i = 0; i < 3; i++) {
        const stream = await link.openUnix(sockPath);
        const answer = await new Promise<string>((resolve, reject) => {
          const req = http.request({ createConnection: () => stream as net.Socket, method: 'POST', path: `/v1.43/containers/create?i=${i}`, headers: { connection: 'close' } }, (res) => {
            let b = '';
            res.on('data', (c: Buffer) => (b += c.toString()));
            res.on('end', () => resolve(`${res.statusCode} ${b}`));
          });
          req.on('error', reject);
          req.end('{"Image":"alpine"}');
        });
        expect(answer).toBe(`200 {"method":"POST","url":"/v1.43/containers/create?i=${i}","body":"{\\"Image\\":\\"alpine\\"}"}`);
      }
    } finally {
      srv.close();
    }
  });

  it('moves 50 MB each way intact', async () => {
    const up = randomBytes(50 * 1024 * 1024);
    const down = randomBytes(50 * 1024 * 1024);
    const sinkPath = await unixServer('sink.sock', (s) => {
      const h = createHash('sha256');
      let n = 0;
      s.on('data', (c: Buffer) => {
        h.update(c);
        n += c.length;
      });
      s.on('end', () => s.end(`${n} ${h.digest('hex')}`));
    });
    const sourcePath = await unixServer('source.sock', (s) => s.end(down));
    const sink = await link.openUnix(sinkPath);
    const answer = readAll(sink);
    sink.end(up);
    expect((await answer).toString()).toBe(`${up.length} ${sha(up)}`);
    const source = await link.openUnix(sourcePath);
    const got = await readAll(source);
    expect(got.length).toBe(down.length);
    expect(sha(got)).toBe(sha(down));
  }, 60_000);

  it('runs 20 streams in parallel without mixing their bytes', async () => {
    const echo = await unixServer('echo.sock', (s) => s.pipe(s));
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const data = randomBytes(300_000 + i * 1000);
        const s = await link.openUnix(echo);
        const got = readAll(s);
        s.end(data);
        return (await got).equals(data);
      }),
    );
    expect(results).toEqual(Array(20).fill(true));
  }, 60_000);

  it('execs with stdin, stdout, stderr and the exit code', async () => {
    const r = await link.exec('echo out; echo err >&2; read x; echo "got:$x"; exit 7', { stdin: 'hello\n' });
    expect(r).toEqual({ code: 7, stdout: 'out\ngot:hello\n', stderr: 'err\n' });
    expect((await link.exec('cat', { stdin: 'x'.repeat(700_000) })).stdout.length).toBe(700_000);
    expect((await link.exec('kill -9 $$')).code).toBe(137);
  }, 30_000);

  it('kills a command that times out, its whole process group', async () => {
    const marker = path.join(dir, 'late');
    await expect(link.exec(`(sleep 1; touch ${marker}) & sleep 1; touch ${marker}`, { timeoutMs: 300 })).rejects.toThrow(
      /command timed out after 300 ms/,
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('opens TCP to a server in the guest', async () => {
    const srv = net.createServer((s) => s.end('tcp hello'));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const s = await link.openTcp('127.0.0.1', (srv.address() as net.AddressInfo).port);
      expect((await readAll(s)).toString()).toBe('tcp hello');
      await expect(link.openTcp('127.0.0.1', 1)).rejects.toThrow(/refused/i);
    } finally {
      srv.close();
    }
  });

  it('relays UDP datagrams to an echo server in the guest', async () => {
    const srv = dgram.createSocket('udp4');
    srv.on('message', (m, rinfo) => srv.send(Buffer.concat([Buffer.from('echo:'), m]), rinfo.port, rinfo.address));
    await new Promise<void>((r) => srv.bind(0, '127.0.0.1', r));
    try {
      const port = await link.openUdp('127.0.0.1', srv.address().port);
      const got: string[] = [];
      const two = new Promise<void>((r) =>
        port.on('message', (b) => {
          got.push(b.toString());
          if (got.length === 2) r();
        }),
      );
      port.send(Buffer.from('one'));
      port.send(Buffer.from('two'));
      await two;
      expect(got.sort()).toEqual(['echo:one', 'echo:two']);
      port.close();
    } finally {
      srv.close();
    }
  });

  it('watches listeners: a line at once, another when a port opens', async () => {
    const lines: string[] = [];
    const w = await link.watchListeners((l) => lines.push(l));
    try {
      await expect.poll(() => lines.length, { timeout: 5000 }).toBeGreaterThan(0);
      expect(lines[0]).toMatch(/^L( |$)/);
      const srv = net.createServer();
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      const hex = (srv.address() as net.AddressInfo).port.toString(16).toUpperCase().padStart(4, '0');
      w.refresh();
      await expect.poll(() => lines.some((l) => l.includes(`:${hex}`)), { timeout: 5000 }).toBe(true);
      srv.close();
    } finally {
      w.close();
    }
  });

  it('pings', async () => {
    const ms = await link.ping(2000);
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThan(2000);
  });

  it('resets when the guest loses its place in the host bytes (RESYNC), failing open streams, and comes back up', async () => {
    const s = await link.openUnix(path.join(dir, 'echo.sock'));
    const err = new Promise<Error>((r) => s.on('error', r));
    const down = new Promise<string>((r) => link.once('down', r));
    const up = new Promise((r) => link.once('up', r));
    current!.write('these bytes are no frame header');
    expect(await down).toBe('channel reset');
    expect((await err).message).toBe('channel reset');
    await up;
    expect(link.isUp).toBe(true);
    expect((await link.exec('echo again')).stdout).toBe('again\n');
  });

  it('goes down when the agent is killed, errors its streams, and connectUntil brings up the next agent', async () => {
    const echo = path.join(dir, 'echo.sock');
    const s = await link.openUnix(echo);
    const err = new Promise<Error>((r) => s.on('error', r));
    const down = new Promise<string>((r) => link.once('down', r));
    agent.kill('SIGKILL');
    expect(await down).toBe('guest channel closed');
    expect((await err).message).toBe('guest channel closed');
    expect(link.isUp).toBe(false);
    fs.writeFileSync(path.join(dir, 'boot-id'), 'e2e-boot-2\n');
    agent = startAgent();
    const retries: string[] = [];
    const hello = await link.connectUntil(Date.now() + 10_000, (e) => retries.push(e.message));
    expect(hello.bootId).toBe('e2e-boot-2');
    expect((await link.exec('echo back')).stdout).toBe('back\n');
  }, 30_000);

  it('keepAlive: a guest agent that stops answering (SIGSTOP) is dropped after two missed pings, with the reason; it comes back when it answers again', async () => {
    const stop = keepAlive(link, () => undefined, 300, 2);
    try {
      const down = new Promise<string>((r) => link.once('down', r));
      agent.kill('SIGSTOP');
      expect(await down).toBe('the guest channel stopped answering (2 pings of 0.3 s)');
      agent.kill('SIGCONT');
      const hello = await link.connectUntil(Date.now() + 10_000);
      expect(hello.agent).toBe('berth-guestd 1');
      expect((await link.exec('echo alive')).stdout).toBe('alive\n');
    } finally {
      stop();
      agent.kill('SIGCONT');
    }
  }, 30_000);

  it('a new agent behind the same host connection (QEMU keeps its socket while berth-guestd restarts): its RESYNC starts a new session, no reconnect', async () => {
    // QEMU's part: one host-side connection that outlives the guest agents behind it.
    let behind: net.Socket | null = null;
    const queued: Buffer[] = [];
    const hostEnd = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        if (behind) behind.write(chunk, () => cb());
        else (queued.push(chunk), cb());
      },
    });
    const relay = net.createServer((s) => {
      behind = s;
      s.on('data', (d) => hostEnd.push(d));
      s.on('close', () => behind === s && (behind = null));
      for (const q of queued.splice(0)) s.write(q);
    });
    const sock = path.join(dir, 'qemu-like.sock');
    await new Promise<void>((r) => relay.listen(sock, r));
    const spawnBehind = () => spawn(agentBin, ['--connect', sock, '--boot-id-file', path.join(dir, 'boot-id')], { stdio: ['ignore', 'ignore', 'inherit'] });
    let first = spawnBehind();
    const l = ChannelLink.overSocket(hostEnd);
    try {
      await l.connectUntil(Date.now() + 10_000);
      expect((await l.exec('echo one')).stdout).toBe('one\n');
      const down = new Promise<string>((r) => l.once('down', r));
      const up = new Promise((r) => l.once('up', r));
      first.kill('SIGKILL');
      first = spawnBehind();
      expect(await down).toBe('channel reset');
      await up;
      expect((await l.exec('echo two')).stdout).toBe('two\n');
    } finally {
      l.close();
      first.kill('SIGKILL');
      relay.close();
    }
  }, 30_000);
});

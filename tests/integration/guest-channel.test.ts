// The guest channel on a real VM (docs/guest-channel.md): the start goes over it, the Docker socket
// and a port forward carry real bytes through the virtio-serial port, the session survives its
// guest agent restarting and the host agent being killed, a guest without berth-guestd falls back
// to SSH and says why, and `guestTransport: ssh` (the fallback as a setting) still does the job.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Status } from '../../electron/shared/status.js';
import { berth, boot, docker, finish, newInstance, statusOf, until } from './harness.js';

const inst = newInstance('chan');
const IMG = 'berth-test/busybox:chan';
const PORT = 18620;

const status = (): Promise<Status> => statusOf(inst);
const events = (): { kind: string; [k: string]: unknown }[] =>
  fs.readFileSync(path.join(inst.dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const shell = (cmd: string) => berth(inst, ['shell', '--', 'sh', '-c', cmd]);

beforeAll(() => boot(inst, { image: IMG, yaml: 'mounts: []\nstopMode: shutdown\n' }), 600_000);
afterAll(() => finish(inst), 120_000);

async function body(port: number, file = ''): Promise<Buffer | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/${file}`, { signal: AbortSignal.timeout(20_000) });
    return r.ok ? Buffer.from(await r.arrayBuffer()) : undefined;
  } catch {
    return undefined;
  }
}

const running = (pred: (s: Status) => boolean) => async () => {
  const s = await status();
  return s.state === 'running' && pred(s) ? s : undefined;
};

describe('the guest channel', () => {
  it('carries the start: berth status says so, and the agent holds no SSH connection', async () => {
    const s = await status();
    expect(s.guestLink).toEqual({ transport: 'channel' });
    expect(String((await berth(inst, ['status'])).stdout)).toContain('guest link: virtio-serial channel');
    expect(events()).toContainEqual(expect.objectContaining({ kind: 'link', transport: 'channel' }));
    expect((await docker(inst, ['version', '--format', '{{.Server.APIVersion}}'])).exitCode).toBe(0);
    // Our own `berth shell` is the one SSH session: the agent's data path does not use sshd.
    const ss = await shell("ss -Htn state established '( sport = :22 )' | wc -l");
    expect(ss.exitCode, String(ss.stderr)).toBe(0);
    expect(Number(String(ss.stdout).trim())).toBe(1);
  }, 60_000);

  it('a published port serves a 24 MB file byte for byte, and docker run -i gets its stdin and its EOF', async () => {
    const web = await docker(inst, ['run', '-d', '--name', 'web', '-p', `${PORT}:80`, IMG, 'sh', '-c', 'mkdir -p /www && head -c 25165824 /dev/urandom > /www/big && echo ok > /www/index.html && sha256sum /www/big > /sum && exec httpd -f -p 80 -h /www']);
    expect(web.exitCode, String(web.stderr)).toBe(0);
    await until('the forward', async () => ((await body(PORT))?.toString().trim() === 'ok' ? true : undefined), 60_000, 200);
    const big = await body(PORT, 'big');
    expect(big?.length).toBe(25165824);
    const sum = await docker(inst, ['exec', 'web', 'cat', '/sum']);
    expect(String(sum.stdout).split(' ')[0]).toBe(createHash('sha256').update(big!).digest('hex'));
    const cat = await docker(inst, ['run', '--rm', '-i', IMG, 'sh', '-c', 'wc -c; echo after-eof'], { input: 'x'.repeat(100_000) });
    expect(cat.exitCode, String(cat.stderr)).toBe(0);
    expect(String(cat.stdout).trim().split(/\s+/)).toEqual(['100000', 'after-eof']);
  }, 180_000);

  it('berth-guestd restarted in the guest: the host starts a new session and the socket and the forward work again', async () => {
    const r = await shell('systemctl restart berth-guestd');
    expect(r.exitCode, String(r.stderr)).toBe(0);
    await until('docker through the new session', async () => ((await docker(inst, ['version', '--format', '{{.Server.Version}}'])).exitCode === 0 ? true : undefined), 30_000, 250);
    await until('the forward again', async () => ((await body(PORT))?.toString().trim() === 'ok' ? true : undefined), 30_000, 250);
    expect((await status()).guestLink).toEqual({ transport: 'channel' });
  }, 120_000);

  it('the host agent killed: the new agent takes the channel again', async () => {
    const agent = (await status()).pids.agent!;
    process.kill(agent, 'SIGKILL');
    const after = await until('a new agent, running', running((s) => !!s.pids.agent && s.pids.agent !== agent), 30_000, 100);
    expect(after.guestLink).toEqual({ transport: 'channel' });
    expect((await docker(inst, ['version', '--format', '{{.Server.Version}}'])).exitCode).toBe(0);
    await until('the forward again', async () => ((await body(PORT))?.toString().trim() === 'ok' ? true : undefined), 30_000, 250);
  }, 120_000);

  it('a guest without berth-guestd: the next agent falls back to SSH, says why, and everything still works', async () => {
    expect((await shell('systemctl stop berth-guestd')).exitCode).toBe(0);
    const agent = (await status()).pids.agent!;
    process.kill(agent, 'SIGKILL');
    const after = await until('a new agent on SSH', running((s) => s.guestLink?.transport === 'ssh'), 60_000, 200);
    expect(after.guestLink?.note).toMatch(/the guest channel did not answer within 5 s of SSH/);
    expect(String((await berth(inst, ['status'])).stdout)).toMatch(/guest link: SSH \(the guest channel did not answer/);
    expect((await docker(inst, ['version', '--format', '{{.Server.Version}}'])).exitCode).toBe(0);
    await until('the forward over SSH', async () => ((await body(PORT))?.toString().trim() === 'ok' ? true : undefined), 30_000, 250);
    expect((await shell('systemctl start berth-guestd')).exitCode).toBe(0);
  }, 180_000);
});

describe('guestTransport: ssh (the SSH fallback as a setting)', () => {
  it('boots, serves the socket and a forward, runs -i containers, and says SSH with no complaint', async () => {
    expect((await docker(inst, ['rm', '-f', 'web'])).exitCode).toBe(0);
    expect((await berth(inst, ['stop'])).exitCode).toBe(0);
    fs.appendFileSync(path.join(inst.dir, 'berth.yaml'), 'guestTransport: ssh\n');
    const r = await berth(inst, ['start']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const s = await status();
    expect(s.guestLink).toEqual({ transport: 'ssh' });
    const web = await docker(inst, ['run', '-d', '--name', 'web2', '-p', `${PORT}:80`, IMG, 'sh', '-c', 'mkdir -p /www && echo ssh-ok > /www/index.html && exec httpd -f -p 80 -h /www']);
    expect(web.exitCode, String(web.stderr)).toBe(0);
    await until('the forward', async () => ((await body(PORT))?.toString().trim() === 'ssh-ok' ? true : undefined), 60_000, 200);
    const cat = await docker(inst, ['run', '--rm', '-i', IMG, 'wc', '-c'], { input: 'y'.repeat(5000) });
    expect(String(cat.stdout).trim()).toBe('5000');
  }, 300_000);
});

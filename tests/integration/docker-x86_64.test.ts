// The backbone, end to end: one real x86_64 VM (KVM if usable, TCG here), the real `berth` CLI and
// the real `docker` CLI through the forwarded socket.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Status } from '../../electron/shared/status.js';
import { berth, busyboxTar, docker, finish, listProcsMatching, listQemuPids, newInstance } from './harness.js';

const inst = newInstance('x86');
let startOut = '';
let startErr = '';

beforeAll(async () => {
  // Keep the VM small and the default home mount out of the way of the test's own files.
  fs.mkdirSync(inst.dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(inst.dir, 'berth.yaml'), `cpus: 2\nmemoryGiB: 2\nmounts: []\n`);
  const r = await berth(inst, ['start']);
  startOut = String(r.stdout);
  startErr = String(r.stderr);
  if (r.exitCode !== 0) throw new Error(`berth start failed (${r.exitCode}):\n${startErr}\n${startOut}`);
}, 600_000);

afterAll(() => finish(inst), 120_000);

async function status(): Promise<Status> {
  const r = await berth(inst, ['status', '--json']);
  expect(r.exitCode).toBe(0);
  return JSON.parse(String(r.stdout)) as Status;
}

describe('berth start (x86_64 guest)', () => {
  it('prints DOCKER_HOST on stdout and each readiness step on stderr', () => {
    expect(startOut.trim()).toBe(`DOCKER_HOST=unix://${inst.dir}/docker.sock`);
    for (const step of ['Guest image ready', 'Disk ready', 'QEMU started', 'Kernel booted', 'SSH up', 'Guest configured', 'Docker answers', 'Docker socket forwarded']) {
      expect(startErr).toContain(`${step}: ok`);
    }
    expect(startErr).toMatch(/Docker is ready in \d+\.\d s \(x86_64, (KVM|TCG)/);
  });

  it('status says running with the accelerator, socket and timings', async () => {
    const s = await status();
    expect(s.state).toBe('running');
    expect(s.arch).toBe('x86_64');
    expect(['kvm', 'tcg']).toContain(s.accel);
    expect(s.dockerSocket).toBe(path.join(inst.dir, 'docker.sock'));
    expect(s.steps.every((st) => st.state === 'done' && typeof st.durationMs === 'number')).toBe(true);
    expect(s.readyMs).toBeGreaterThan(0);
  });

  it('a second start attaches instead of booting a second VM', async () => {
    const before = listQemuPids(inst.home);
    expect(before).toHaveLength(1);
    const r = await berth(inst, ['start']);
    expect(r.exitCode).toBe(0);
    expect(String(r.stderr)).toMatch(/already running/);
    expect(String(r.stdout).trim()).toBe(`DOCKER_HOST=unix://${inst.dir}/docker.sock`);
    expect(listQemuPids(inst.home)).toEqual(before);
  });

  it('docker.sock, control.sock and the SSH keys are private to the user', () => {
    expect(fs.statSync(inst.dir).mode & 0o777).toBe(0o700);
    for (const f of ['docker.sock', 'control.sock', 'ssh/id_ed25519', 'ssh/host_ed25519']) {
      expect(fs.statSync(path.join(inst.dir, f)).mode & 0o777, f).toBe(0o600);
    }
  });

  it('writes the event log with a timed event per step', () => {
    const events = fs.readFileSync(path.join(inst.dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const done = events.filter((e) => e.kind === 'step' && e.state === 'done').map((e) => e.step);
    expect(done).toEqual(expect.arrayContaining(['image', 'disk', 'qemu', 'kernel', 'ssh', 'boot-marker', 'docker', 'socket', 'apply']));
    expect(events.some((e) => e.kind === 'state' && e.state === 'running' && e.readyMs > 0)).toBe(true);
  });
});

describe('the stock docker CLI through the forwarded socket', () => {
  const tar = busyboxTar('/bin/busybox');

  it('docker version talks to the guest dockerd', async () => {
    const r = await docker(inst, ['version', '--format', '{{.Server.Os}}/{{.Server.Arch}} {{.Server.Version}}']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toMatch(/^linux\/amd64 20\./);
  });

  it('the berth docker context points at the socket', async () => {
    const r = await docker(inst, ['--context', 'berth', 'info', '--format', '{{.Name}}'], { env: { ...inst.env } });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout).trim()).toBe('berth');
  });

  it('docker import builds an image from a tar', async () => {
    const r = await docker(inst, ['import', tar, 'berth-test/busybox:1']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toMatch(/^sha256:/);
  });

  it('docker run --rm runs it', async () => {
    const r = await docker(inst, ['run', '--rm', 'berth-test/busybox:1', 'uname', '-m']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout).trim()).toBe('x86_64');
  });

  it('docker run -i carries stdin through, with EOF, byte for byte (8 MB)', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const r = await docker(inst, ['run', '-i', '--rm', 'berth-test/busybox:1', 'sha256sum'], { input: data });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout).split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('docker logs -f follows a container until it exits; ps -a lists it; rm removes it', async () => {
    const run = await docker(inst, ['run', '-d', '--name', 'counter', 'berth-test/busybox:1', 'sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 1; done']);
    expect(run.exitCode, String(run.stderr)).toBe(0);
    const logs = await docker(inst, ['logs', '-f', 'counter']);
    expect(String(logs.stdout).trim().split('\n')).toEqual(['line1', 'line2', 'line3']);
    // The log stream ends when the output closes; the exit is recorded a moment later.
    expect(String((await docker(inst, ['wait', 'counter'])).stdout).trim()).toBe('0');
    const ps = await docker(inst, ['ps', '-a', '--format', '{{.Names}} {{.Status}}']);
    expect(String(ps.stdout)).toMatch(/counter Exited \(0\)/);
    expect((await docker(inst, ['rm', 'counter'])).exitCode).toBe(0);
    expect(String((await docker(inst, ['ps', '-a', '--format', '{{.Names}}'])).stdout)).not.toMatch(/counter/);
  });

  it('berth shell runs a command in the VM', async () => {
    const r = await berth(inst, ['shell', '--', 'cat', '/run/berth/boot-id']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout).trim()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('berth logs shows the serial console of this boot', async () => {
    const r = await berth(inst, ['logs', '--lines', '500']);
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout)).toContain('berth-initrd: root mounted');
    expect(String(r.stdout)).toContain('berth-boot: ready for ssh');
  });
});

describe('stop and start again', () => {
  it('berth stop leaves no QEMU, agent or supervisor and no stale socket; status says stopped', async () => {
    expect((await docker(inst, ['create', '--name', 'survivor', 'berth-test/busybox:1', 'true'])).exitCode).toBe(0);
    const r = await berth(inst, ['stop']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    // stopMode: suspend is the default: the VM is saved, and nothing of it keeps running.
    expect(String(r.stderr)).toMatch(/suspended in \d+\.\d s/);
    await new Promise((res) => setTimeout(res, 3500)); // the headless supervisor exits after a grace period
    expect(listQemuPids(inst.home)).toEqual([]);
    expect(listProcsMatching(`BERTH_HOME=${inst.home}`)).toEqual([]);
    for (const f of ['docker.sock', 'qmp.sock', 'qmp-debug.sock', 'serial.sock', 'control.sock', 'qemu.pid', 'supervisor.pid']) {
      expect(fs.existsSync(path.join(inst.dir, f)), f).toBe(false);
    }
    const s = await status();
    expect(s.state).toBe('stopped');
    expect(s.error).toBeUndefined();
  }, 120_000);

  it('the next start reuses the image and the Docker data', async () => {
    const r = await berth(inst, ['start']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toMatch(/Disk ready: ok/);
    const ps = await docker(inst, ['ps', '-a', '--format', '{{.Names}}']);
    expect(String(ps.stdout)).toMatch(/survivor/);
    const images = await docker(inst, ['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(String(images.stdout)).toContain('berth-test/busybox:1');
  }, 600_000);
});

// The aarch64 guest — what Apple Silicon runs under HVF — booted here under TCG.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Status } from '../../../electron/shared/status.js';
import { berth, docker, finish, newInstance } from '../harness.js';

const inst = newInstance('arm');
let start: { code: number; out: string; err: string };

beforeAll(async () => {
  fs.mkdirSync(inst.dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(inst.dir, 'berth.yaml'), 'arch: aarch64\ncpus: 2\nmemoryGiB: 2\nmounts: []\n');
  const r = await berth(inst, ['start', '--arch', 'aarch64']);
  start = { code: r.exitCode ?? 1, out: String(r.stdout), err: String(r.stderr) };
  if (start.code !== 0) throw new Error(`berth start --arch aarch64 failed:\n${start.err}`);
}, 900_000);

afterAll(() => finish(inst), 120_000);

describe('aarch64 guest under TCG', () => {
  it('starts and prints DOCKER_HOST', () => {
    expect(start.out.trim()).toBe(`DOCKER_HOST=unix://${inst.dir}/docker.sock`);
    expect(start.err).toMatch(/Docker is ready in \d+\.\d s \(aarch64, TCG/);
  });

  it('reports TCG with the reason', async () => {
    const s = JSON.parse(String((await berth(inst, ['status', '--json'])).stdout)) as Status;
    expect(s.state).toBe('running');
    expect(s.arch).toBe('aarch64');
    expect(s.accel).toBe('tcg');
    expect(s.accelNote).toMatch(/aarch64 guest on a x64 host/);
  });

  it('answers docker version as linux/arm64', async () => {
    const r = await docker(inst, ['version', '--format', '{{.Server.Os}}/{{.Server.Arch}}']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout).trim()).toBe('linux/arm64');
  });

  it('runs an arm64 container (busybox taken from the guest itself)', async () => {
    const bb = await berth(inst, ['shell', '--', 'sh', '-c', 'mkdir -p /tmp/r/bin && cp /bin/busybox /tmp/r/bin/ && ln -sf busybox /tmp/r/bin/uname && tar -C /tmp/r -c . | docker import - arm/busybox:1 >/dev/null && docker run --rm arm/busybox:1 uname -m']);
    expect(bb.exitCode, String(bb.stderr)).toBe(0);
    expect(String(bb.stdout).trim()).toBe('aarch64');
    const r = await docker(inst, ['run', '--rm', 'arm/busybox:1', 'uname', '-m']);
    expect(String(r.stdout).trim()).toBe('aarch64');
  });

  it('Stop suspends and Start resumes the arm64 VM (the machine type a Mac runs), a container still running', async () => {
    const run = await docker(inst, ['run', '-d', '--name', 'sleeper', 'arm/busybox:1', '/bin/busybox', 'sleep', '100000']);
    expect(run.exitCode, String(run.stderr)).toBe(0);
    const since = String((await docker(inst, ['inspect', '--format', '{{.State.StartedAt}}', 'sleeper'])).stdout).trim();
    const stop = await berth(inst, ['stop']);
    expect(stop.exitCode, String(stop.stderr)).toBe(0);
    expect(String(stop.stderr)).toMatch(/suspended in/);
    await new Promise((r) => setTimeout(r, 3500));
    const start = await berth(inst, ['start']);
    expect(start.exitCode, String(start.stderr)).toBe(0);
    expect(String(start.stderr)).toMatch(/resumed from the saved state/);
    const r = await docker(inst, ['inspect', '--format', '{{.State.Running}} {{.State.StartedAt}}', 'sleeper']);
    expect(String(r.stdout).trim()).toBe(`true ${since}`);
  }, 300_000);
});

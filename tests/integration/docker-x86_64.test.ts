// The backbone, end to end: one real x86_64 VM (KVM if usable, TCG here), the real `berth` CLI and
// the real `docker` CLI through the forwarded socket.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Status } from '../../electron/shared/status.js';
import { berth, busyboxTar, docker, finish, listProcsMatching, listQemuPids, newInstance } from './harness.js';
import { describeBuildKit } from './docker-tools.js';

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
    expect(String(r.stdout)).toMatch(/^linux\/amd64 26\./);
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

describe('disk space returns to the host (discard on the guest root, discard=unmap on the drive)', () => {
  const IMG = 'berth-test/busybox:1';
  const GiB = 2 ** 30;
  const MiB = 2 ** 20;
  const allocated = (): number => fs.statSync(path.join(inst.dir, 'disk.qcow2')).blocks * 512;
  /** the disk file's size once it stopped shrinking (freed blocks come back within seconds) */
  async function settled(maxMs = 90_000): Promise<number> {
    let last = allocated();
    for (let t = 0; t < maxMs; t += 2000) {
      await new Promise((r) => setTimeout(r, 2000));
      const now = allocated();
      if (now === last) return now;
      last = now;
    }
    return last;
  }
  const sha = async (args: string[]): Promise<string> => {
    const r = await docker(inst, args, { timeout: 300_000 });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    return String(r.stdout).trim().split(/\s/)[0]!;
  };

  it('a 1 GiB volume grows the disk file; removing it (berth disk reclaim --volumes) gives most of it back; other data intact', async () => {
    // data that must survive: a volume in use by a container, with a known checksum
    expect((await docker(inst, ['volume', 'create', 'keep'])).exitCode).toBe(0);
    const kept = await sha(['run', '--rm', '-v', 'keep:/d', IMG, 'sh', '-c', 'head -c 33554432 /dev/urandom > /d/f && sync && sha256sum /d/f']);
    expect((await docker(inst, ['run', '-d', '--name', 'keeper', '-v', 'keep:/d', IMG, 'sleep', '3600'])).exitCode).toBe(0);
    const before = await settled();
    expect((await docker(inst, ['volume', 'create', 'big'])).exitCode).toBe(0);
    const w = await docker(inst, ['run', '--rm', '-v', 'big:/d', IMG, 'sh', '-c', 'dd if=/dev/urandom of=/d/big bs=1048576 count=1024 2>&1 && sync'], { timeout: 900_000 });
    expect(w.exitCode, String(w.stdout) + String(w.stderr)).toBe(0);
    const grown = await settled(20_000);
    expect(grown - before).toBeGreaterThan(0.9 * GiB);
    const r = await berth(inst, ['disk', 'reclaim', '--volumes', '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const res = JSON.parse(String(r.stdout)) as { steps: Array<{ what: string; deleted: number; reclaimedBytes: number }> };
    // every unused volume goes (an earlier test's leftovers too), the one in use stays
    expect(res.steps.map((x) => x.what)).toEqual(['volumes']);
    expect(res.steps[0]!.deleted).toBeGreaterThanOrEqual(1);
    expect(String((await docker(inst, ['volume', 'ls', '--format', '{{.Name}}'])).stdout).split('\n')).not.toContain('big');
    expect(res.steps[0]!.reclaimedBytes).toBeGreaterThanOrEqual(GiB);
    const after = await settled();
    console.log(`reclaim figure (volume): disk.qcow2 ${Math.round(before / MiB)} MiB → ${Math.round(grown / MiB)} MiB after writing 1024 MiB → ${Math.round(after / MiB)} MiB after removing it (${Math.round((grown - after) / MiB)} MiB returned)`);
    expect(grown - after).toBeGreaterThan(0.8 * GiB);
    // the volume in use was left alone, its data intact
    expect(String((await docker(inst, ['volume', 'ls', '--format', '{{.Name}}'])).stdout).split('\n')).toContain('keep');
    expect(await sha(['exec', 'keeper', 'sha256sum', '/d/f'])).toBe(kept);
    expect((await docker(inst, ['rm', '-f', 'keeper'])).exitCode).toBe(0);
    expect((await docker(inst, ['volume', 'rm', 'keep'])).exitCode).toBe(0);
  }, 1_200_000);

  it('pruning a dangling image (berth disk reclaim --images) gives its space back; the tagged image still runs', async () => {
    expect((await docker(inst, ['run', '--name', 'fat', IMG, 'sh', '-c', 'head -c 314572800 /dev/urandom > /fat && sync'], { timeout: 600_000 })).exitCode).toBe(0);
    // committed without a name: a dangling image that holds the 300 MiB layer
    const c = await docker(inst, ['commit', 'fat'], { timeout: 600_000 });
    expect(c.exitCode, String(c.stderr)).toBe(0);
    expect((await docker(inst, ['rm', 'fat'])).exitCode).toBe(0);
    const grown = await settled();
    const r = await berth(inst, ['disk', 'reclaim', '--images', '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const res = JSON.parse(String(r.stdout)) as { steps: Array<{ what: string; deleted: number; reclaimedBytes: number }> };
    expect(res.steps[0]).toMatchObject({ what: 'images' });
    expect(res.steps[0]!.deleted).toBeGreaterThanOrEqual(1);
    const after = await settled();
    console.log(`reclaim figure (image): disk.qcow2 ${Math.round(grown / MiB)} MiB → ${Math.round(after / MiB)} MiB after pruning a 300 MiB dangling image (${Math.round((grown - after) / MiB)} MiB returned)`);
    expect(grown - after).toBeGreaterThan(250 * MiB);
    const u = await docker(inst, ['run', '--rm', IMG, 'uname', '-m']);
    expect(String(u.stdout).trim()).toBe('x86_64');
    // berth disk shows the same file and Docker's figures
    const d = await berth(inst, ['disk', '--json']);
    expect(d.exitCode).toBe(0);
    const usage = JSON.parse(String(d.stdout)) as { vmDisk: { path: string; allocatedBytes: number }; docker: { images: { count: number } } };
    expect(usage.vmDisk.path).toBe(path.join(inst.dir, 'disk.qcow2'));
    expect(Math.abs(usage.vmDisk.allocatedBytes - allocated())).toBeLessThan(64 * MiB);
    expect(usage.docker.images.count).toBeGreaterThanOrEqual(1);
  }, 1_200_000);
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

// BuildKit, compose/buildx for the user's CLI, API version: on this suite's VM (no second boot).
describeBuildKit(inst, 'berth-test/busybox:1');

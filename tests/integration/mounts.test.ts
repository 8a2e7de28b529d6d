// Host folders over virtio-9p at the same absolute path in the VM, so `docker run -v "$PWD":/src`
// works — against a real VM (the shared one, whose settings share these two folders: SHARED_VM).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MountInfo } from '../../electron/shared/status.js';
import { SHARED_VM, berth, docker, joinSharedVm, leaveSharedVm, sharedInstance } from './harness.js';
import { describeCompose } from './docker-tools.js';

const inst = sharedInstance();
const IMG = 'berth-test/busybox:mnt';
const share = path.join(inst.home, SHARED_VM.share);
const ro = path.join(inst.home, SHARED_VM.readonly); // holds keep.txt ("read me")
const v = (host: string, ctr: string, extra: string[] = []) => ['run', '--rm', '-v', `${host}:${ctr}`, ...extra, IMG];

beforeAll(() => joinSharedVm(inst, IMG), 120_000);

afterAll(() => leaveSharedVm(inst), 120_000);

describe('mounts', () => {
  it('berth mounts lists both, mounted, with their mode', async () => {
    const list = JSON.parse(String((await berth(inst, ['mounts', '--json'])).stdout)) as MountInfo[];
    expect(list).toEqual([
      { location: share, guestPath: share, writable: true, state: 'mounted' },
      { location: ro, guestPath: ro, writable: false, state: 'mounted' },
    ]);
  });

  it('a file written on the host is read in a container through -v', async () => {
    fs.writeFileSync(path.join(share, 'from-host.txt'), 'hello from the host\n');
    const r = await docker(inst, [...v(share, '/src'), 'cat', '/src/from-host.txt']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toBe('hello from the host');
  });

  it('a file written by a container appears on the host, owned by the host user', async () => {
    const r = await docker(inst, [...v(share, '/src'), 'sh', '-c', 'echo made-in-container > /src/from-ctr.txt']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const f = path.join(share, 'from-ctr.txt');
    expect(fs.readFileSync(f, 'utf8')).toBe('made-in-container\n');
    expect(fs.statSync(f).uid).toBe(process.getuid!());
  });

  it('a subfolder of a mount works as a bind source (any path under a mount)', async () => {
    fs.mkdirSync(path.join(share, 'project', 'src'), { recursive: true });
    fs.writeFileSync(path.join(share, 'project', 'src', 'main.c'), 'int main(){}\n');
    const r = await docker(inst, [...v(path.join(share, 'project'), '/work'), 'cat', '/work/src/main.c']);
    expect(String(r.stdout)).toBe('int main(){}');
  });

  it('a read-only mount refuses writes with a clear error and keeps the host file', async () => {
    const r = await docker(inst, [...v(ro, '/data'), 'sh', '-c', 'cat /data/keep.txt && echo x > /data/keep.txt']);
    expect(String(r.stdout)).toBe('read me');
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stderr)).toMatch(/Read-only file system/);
    expect(fs.readFileSync(path.join(ro, 'keep.txt'), 'utf8')).toBe('read me\n');
  });

  it('200 MB copied each way keeps its sha256', async () => {
    const data = randomBytes(200 * 1024 * 1024);
    fs.writeFileSync(path.join(share, 'big-in.bin'), data);
    const inSum = await docker(inst, [...v(share, '/src'), 'sha256sum', '/src/big-in.bin'], { timeout: 600_000 });
    expect(String(inSum.stdout).split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
    const out = await docker(inst, [...v(share, '/src'), 'sh', '-c', 'dd if=/dev/urandom of=/src/big-out.bin bs=1M count=200 2>/dev/null && sha256sum /src/big-out.bin'], { timeout: 600_000 });
    expect(out.exitCode, String(out.stderr)).toBe(0);
    const hostSum = createHash('sha256').update(fs.readFileSync(path.join(share, 'big-out.bin'))).digest('hex');
    expect(String(out.stdout).split(' ')[0]).toBe(hostSum);
    fs.rmSync(path.join(share, 'big-in.bin'));
    fs.rmSync(path.join(share, 'big-out.bin'));
  }, 600_000);

  it('names with spaces and non-ASCII characters work both ways', async () => {
    const dir = path.join(share, 'dossier été 東京');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'naïve file.txt'), 'accents ok\n');
    const r = await docker(inst, [...v(dir, '/x'), 'sh', '-c', 'cat "/x/naïve file.txt" && echo back > "/x/réponse ✓.txt"']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toBe('accents ok');
    expect(fs.readFileSync(path.join(dir, 'réponse ✓.txt'), 'utf8')).toBe('back\n');
  });

  it('a symlink inside a mount behaves as on the host', async () => {
    fs.mkdirSync(path.join(share, 'links'));
    fs.writeFileSync(path.join(share, 'links', 'target.txt'), 'target\n');
    fs.symlinkSync('target.txt', path.join(share, 'links', 'rel-link'));
    const r = await docker(inst, [...v(path.join(share, 'links'), '/l'), 'sh', '-c', 'readlink /l/rel-link && cat /l/rel-link && ln -s target.txt /l/made-in-ctr']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toBe('target.txt\ntarget');
    expect(fs.readlinkSync(path.join(share, 'links', 'made-in-ctr'))).toBe('target.txt');
  });

  it('a path outside every mount gives an empty directory (created inside the VM), as on Docker Desktop', async () => {
    const outside = path.join(inst.home, 'not-shared');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'host only\n');
    const r = await docker(inst, [...v(outside, '/o'), 'ls', '-A', '/o']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout).trim()).toBe('');
  });
});

// docker compose v2 with a bind mount of the shared folder: on this suite's VM (no second boot).
describeCompose(inst, share, IMG);

// The engine's Docker Engine API client and the Docker service against a fake dockerd on a unix
// socket: what the views and the CLI get for containers, images, volumes and the disk, the pushed
// `containers` event, followed logs, and Docker not answering.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Demuxer, DockerApi, LineSplitter } from '../../../electron/engine/docker/api.js';
import { DockerService } from '../../../electron/engine/docker/service.js';
import { mapStats, normalTimestamp } from '../../../electron/engine/docker/map.js';
import { runningContainers, startContainer, stopContainer } from '../../../electron/engine/suspend/docker-api.js';
import type { ContainerInfo, ContainerLogEvent } from '../../../electron/shared/docker.js';
import { validateRequest } from '../../../electron/shared/contract.js';
import type { Status } from '../../../electron/shared/status.js';
import { makeStatus } from '../../fixtures/status.js';
import { container, FakeDockerd, frame } from '../../fixtures/fake-dockerd.js';

let dir: string;
let dockerd: FakeDockerd;
let status: Status;
let statusListeners: Array<(s: Status) => void>;
let events: { containers: ContainerInfo[][]; logs: ContainerLogEvent[] };
let svc: DockerService;

function setStatus(s: Status): void {
  status = s;
  statusListeners.forEach((l) => l(s));
}

async function until<T>(fn: () => T | undefined | false, ms = 3000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-docker-'));
  dockerd = new FakeDockerd(path.join(dir, 'docker.sock'));
  await dockerd.start();
  fs.writeFileSync(path.join(dir, 'disk.qcow2'), Buffer.alloc(64 * 1024, 1));
  status = makeStatus('stopped');
  statusListeners = [];
  events = { containers: [], logs: [] };
  svc = new DockerService({
    socketPath: dockerd.socketPath,
    diskFile: path.join(dir, 'disk.qcow2'),
    status: () => status,
    emit: (e, p) => (e === 'containers' ? events.containers.push(p as ContainerInfo[]) : events.logs.push(p as ContainerLogEvent)),
    onStatus: (l) => {
      statusListeners.push(l);
      return () => (statusListeners = statusListeners.filter((x) => x !== l));
    },
    debounceMs: 5,
  });
  dockerd.images = [
    { Id: 'sha256:bbb', RepoTags: ['busybox:latest'], Size: 4_400_000, Created: 1_764_000_000, Architecture: 'amd64', Os: 'linux' },
    { Id: 'sha256:arm', RepoTags: ['berth-test/arm64:latest'], Size: 1_200_000, Created: 1_764_100_000, Architecture: 'arm64', Os: 'linux' },
    { Id: 'sha256:old', RepoTags: null, Size: 9_000_000, Created: 1_763_000_000, Architecture: 'amd64', Os: 'linux' },
  ];
  dockerd.containers = [
    container({ Id: 'c1'.padEnd(64, '1'), name: 'web', Ports: [{ PrivatePort: 80, PublicPort: 8080, IP: '0.0.0.0', Type: 'tcp' }, { PrivatePort: 80, PublicPort: 8080, IP: '::', Type: 'tcp' }] }),
    container({ Id: 'c2'.padEnd(64, '2'), name: 'shop-db-1', Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'db' }, Mounts: [{ Type: 'volume', Name: 'shop_data' }] }),
    container({ Id: 'c3'.padEnd(64, '3'), name: 'armbox', ImageID: 'sha256:arm', Image: 'berth-test/arm64', State: 'exited', Status: 'Exited (0) 1 hour ago' }),
  ];
  dockerd.volumes = [
    { Name: 'shop_data', Driver: 'local', Size: 1_048_576, Labels: { 'com.docker.compose.project': 'shop' } },
    { Name: 'scratch', Driver: 'local', Size: 1_073_741_824 },
  ];
});

afterEach(async () => {
  svc.close();
  await dockerd.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Docker requests', () => {
  it('refuses with E_NOT_RUNNING while the VM is down, without touching the socket', async () => {
    await expect(svc.handle('containers.list', {})).rejects.toMatchObject({ code: 'E_NOT_RUNNING' });
    expect(dockerd.requests).toEqual([]);
  });

  it('lists containers with image architecture, compose project, ports (once per port) and start time', async () => {
    setStatus(makeStatus('running'));
    const list = await svc.handle('containers.list', {});
    expect(list.map((c) => c.name)).toEqual(['armbox', 'web', 'shop-db-1']);
    const web = list.find((c) => c.name === 'web')!;
    expect(web.ports).toEqual([{ privatePort: 80, publicPort: 8080, hostIp: '0.0.0.0', type: 'tcp' }]);
    expect(web.startedAt).toBe('2026-12-02T00:00:00.000000000Z');
    const db = list.find((c) => c.name === 'shop-db-1')!;
    expect(db).toMatchObject({ project: 'shop', service: 'db', volumes: ['shop_data'] });
    // the fixture VM is aarch64: an amd64 image runs emulated, the arm64 one natively
    expect(list.find((c) => c.name === 'armbox')).toMatchObject({ arch: 'arm64', emulated: false, state: 'exited' });
    expect(web).toMatchObject({ arch: 'amd64', emulated: true });
  });

  it('starts, stops, restarts and removes, passing Docker’s refusal through', async () => {
    setStatus(makeStatus('running'));
    await svc.handle('containers.stop', { id: 'web' });
    expect(dockerd.find('web')!.State).toBe('exited');
    await svc.handle('containers.start', { id: 'web' });
    expect(dockerd.find('web')!.State).toBe('running');
    await svc.handle('containers.restart', { id: 'web' });
    await expect(svc.handle('containers.remove', { id: 'web' })).rejects.toMatchObject({ code: 'E_DOCKER', message: expect.stringContaining('cannot remove a running container') });
    await svc.handle('containers.remove', { id: 'web', force: true });
    expect(dockerd.find('web')).toBeUndefined();
    await expect(svc.handle('containers.start', { id: 'nope' })).rejects.toMatchObject({ code: 'E_DOCKER', message: 'No such container: nope' });
    expect(dockerd.requests.find((r) => r.url.startsWith('/containers/web/stop'))?.url).toBe('/containers/web/stop?t=10');
  });

  it('one-shot stats: CPU as a share of a core, memory without the page cache', async () => {
    setStatus(makeStatus('running'));
    const stats = await svc.handle('containers.stats', {});
    expect(stats.map((s) => s.id.slice(0, 2)).sort()).toEqual(['c1', 'c2']);
    expect(stats[0]).toMatchObject({ cpuPercent: 50, memoryBytes: 40 * 2 ** 20, memoryLimitBytes: 2 * 2 ** 30 });
    expect(dockerd.requests.filter((r) => r.url.includes('/stats')).every((r) => r.url.endsWith('?stream=false'))).toBe(true);
  });

  it('images: architecture, emulated, whether emulation lets it run, dangling, users', async () => {
    setStatus(makeStatus('running', { arch: 'x86_64', emulation: { enabled: false, state: 'disabled', foreignArch: 'aarch64' } }));
    let images = await svc.handle('images.list', {});
    expect(images.map((i) => [i.tags[0] ?? '<none>', i.arch, i.emulated, i.runs, i.dangling, i.containers])).toEqual([
      ['berth-test/arm64:latest', 'arm64', true, 'needs-emulation', false, 1],
      ['busybox:latest', 'amd64', false, 'native', false, 2],
      ['<none>', 'amd64', false, 'native', true, 0],
    ]);
    setStatus(makeStatus('running', { arch: 'x86_64', emulation: { enabled: true, state: 'enabled', foreignArch: 'aarch64' } }));
    images = await svc.handle('images.list', {});
    expect(images[0]!.runs).toBe('emulated');
    // an image id's architecture is asked once
    expect(dockerd.requests.filter((r) => r.url === '/images/sha256%3Aarm/json')).toHaveLength(1);
  });

  it('prunes dangling images by default, every unused one on request', async () => {
    setStatus(makeStatus('running'));
    expect(await svc.handle('images.prune', {})).toEqual({ deleted: 1, reclaimedBytes: 9_000_000 });
    expect(dockerd.images.map((i) => i.Id)).toEqual(['sha256:bbb', 'sha256:arm']);
    await svc.handle('containers.remove', { id: 'armbox' });
    expect(await svc.handle('images.prune', { all: true })).toEqual({ deleted: 1, reclaimedBytes: 1_200_000 });
  });

  it('volumes: size from system df, who uses them; remove refuses one in use; prune takes the unused', async () => {
    setStatus(makeStatus('running'));
    const vols = await svc.handle('volumes.list', {});
    expect(vols).toEqual([
      { name: 'scratch', driver: 'local', createdAt: '2026-12-01T10:00:00Z', sizeBytes: 1_073_741_824, usedBy: [] },
      { name: 'shop_data', driver: 'local', createdAt: '2026-12-01T10:00:00Z', sizeBytes: 1_048_576, usedBy: ['shop-db-1'], project: 'shop' },
    ]);
    await expect(svc.handle('volumes.remove', { name: 'shop_data' })).rejects.toMatchObject({ message: expect.stringContaining('volume is in use') });
    expect(await svc.handle('volumes.prune', {})).toEqual({ deleted: 1, reclaimedBytes: 1_073_741_824 });
    // API 1.41 prunes every unused volume; from 1.42 it must be asked to include named ones
    expect(dockerd.requests.find((r) => r.url.startsWith('/volumes/prune'))!.url).toBe('/volumes/prune');
  });

  it('volume prune asks for named volumes too on API 1.42+', async () => {
    dockerd.apiVersion = '1.45';
    setStatus(makeStatus('running'));
    await svc.handle('volumes.prune', {});
    expect(decodeURIComponent(dockerd.requests.find((r) => r.url.startsWith('/volumes/prune'))!.url)).toBe('/volumes/prune?filters={"all":["true"]}');
  });

  it('disk usage: the VM disk file’s allocated size on the host and Docker’s system df', async () => {
    setStatus(makeStatus('running'));
    const u = await svc.handle('disk.usage', {});
    expect(u.vmDisk!.path).toBe(path.join(dir, 'disk.qcow2'));
    expect(u.vmDisk!.allocatedBytes).toBe(fs.statSync(path.join(dir, 'disk.qcow2')).blocks * 512);
    expect(u.vmDisk!.virtualBytes).toBe(64 * 2 ** 30);
    expect(u.docker!.volumes).toEqual({ count: 2, active: 1, sizeBytes: 1_074_790_400, reclaimableBytes: 1_073_741_824 });
    expect(u.docker!.images).toMatchObject({ count: 3, active: 2, reclaimableBytes: 9_000_000 });
    expect(u.docker!.containers).toMatchObject({ count: 3, active: 2, reclaimableBytes: 1000 });
  });

  it('disk usage while stopped: the disk file, and why Docker’s part is missing', async () => {
    const u = await svc.handle('disk.usage', {});
    expect(u.vmDisk).not.toBeNull();
    expect(u.docker).toBeNull();
    expect(u.dockerError).toMatchObject({ code: 'E_NOT_RUNNING' });
  });

  it('reclaim prunes only what was chosen, containers first', async () => {
    setStatus(makeStatus('running'));
    const r = await svc.handle('disk.reclaim', { containers: true, volumes: true });
    expect(r.steps.map((s) => [s.what, s.deleted])).toEqual([
      ['containers', 1],
      ['volumes', 1],
    ]);
    expect(r.reclaimedBytes).toBe(1000 + 1_073_741_824);
    expect(r.allocatedBefore).toBeGreaterThan(0);
    expect(dockerd.images).toHaveLength(3);
    expect(dockerd.requests.map((x) => x.url).filter((u) => u.includes('prune'))).toEqual(['/containers/prune', '/volumes/prune']);
  });

  it('Docker not answering: a clear E_DOCKER with the socket in the hint', async () => {
    setStatus(makeStatus('running'));
    await dockerd.stop();
    const e = await svc.handle('containers.list', {}).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'E_DOCKER', message: expect.stringMatching(/^Docker is not answering/), hint: expect.stringContaining(dockerd.socketPath) });
    const u = await svc.handle('disk.usage', {});
    expect(u.dockerError).toMatchObject({ code: 'E_DOCKER' });
  });
});

describe('pushed updates and logs', () => {
  it('pushes the container list on Docker events (not polling) while Docker is up, and [] when it stops', async () => {
    setStatus(makeStatus('running'));
    // the stream opens and a first list goes out
    await until(() => events.containers.length >= 1);
    expect(dockerd.requests.filter((r) => r.url.startsWith('/events'))).toHaveLength(1);
    const n = events.containers.length;
    dockerd.find('web')!.State = 'exited';
    dockerd.event({ Type: 'container', Action: 'die', id: 'web' });
    const next = await until(() => events.containers.length > n && events.containers[events.containers.length - 1]);
    expect(next.find((c) => c.name === 'web')!.state).toBe('exited');
    // exec runs (health checks, shells) change nothing the views show
    const m = events.containers.length;
    dockerd.event({ Type: 'container', Action: 'exec_start: sh', id: 'web' });
    await new Promise((r) => setTimeout(r, 60));
    expect(events.containers.length).toBe(m);
    setStatus(makeStatus('stopped'));
    expect(events.containers[events.containers.length - 1]).toEqual([]);
    await until(() => dockerd.openStreams === 0);
    // only one /containers/json per event burst and the initial one: no timer asks by itself
    const lists = dockerd.requests.filter((r) => r.url.startsWith('/containers/json')).length;
    await new Promise((r) => setTimeout(r, 100));
    expect(dockerd.requests.filter((r) => r.url.startsWith('/containers/json')).length).toBe(lists);
  });

  it('reconnects the /events stream when it drops while Docker is up', async () => {
    setStatus(makeStatus('running'));
    await until(() => dockerd.openStreams === 1);
    await dockerd.stop();
    await dockerd.start();
    await until(() => dockerd.openStreams === 1, 5000);
    const n = events.containers.length;
    dockerd.event({ Type: 'container', Action: 'start', id: 'web' });
    await until(() => events.containers.length > n);
  });

  it('logs: the tail (multiplexed or tty), then followed lines as events, without repeating the tail', async () => {
    setStatus(makeStatus('running'));
    const now = Date.now();
    const ts = (ms: number) => new Date(now - ms).toISOString();
    dockerd.print('web', 'first', ts(3000));
    dockerd.print('web', 'second', ts(2000));
    dockerd.print('web', 'third', ts(1000));
    const r = await svc.handle('containers.logs', { id: 'web', tail: 2, follow: true });
    expect(r.lines).toEqual(['second', 'third']);
    expect(r.stream).toMatch(/^[0-9a-f-]{36}$/);
    await until(() => dockerd.openStreams >= 2);
    dockerd.print('web', 'printed after the view opened');
    const got = await until(() => events.logs.find((e) => 'lines' in e && e.stream === r.stream));
    expect(got).toEqual({ stream: r.stream, lines: ['printed after the view opened'] });
    // the tail lines were not sent again by the follow (it started from the second of the last one)
    expect(events.logs.flatMap((e) => ('lines' in e ? e.lines : []))).toEqual(['printed after the view opened']);
    svc.handle('containers.logsClose', { stream: r.stream! });
    await until(() => dockerd.openStreams === 1);
    dockerd.find('shop-db-1')!.Tty = true;
    dockerd.print('shop-db-1', 'tty line', ts(10));
    expect((await svc.handle('containers.logs', { id: 'shop-db-1' })).lines).toEqual(['tty line']);
  });

  it('a followed log ends with an end event when Docker closes it', async () => {
    setStatus(makeStatus('running'));
    const r = await svc.handle('containers.logs', { id: 'web', follow: true });
    await until(() => dockerd.openStreams >= 1);
    await dockerd.stop();
    await until(() => events.logs.find((e) => 'end' in e && e.stream === r.stream));
  });
});

describe('pieces', () => {
  it('demuxes frames split across chunks', () => {
    const d = new Demuxer();
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'world\n')]);
    const a = d.push(all.subarray(0, 5));
    const b = d.push(all.subarray(5, 17));
    const c = d.push(all.subarray(17));
    expect([...a, ...b, ...c].map((x) => x.toString())).toEqual(['hello ', 'world\n']);
  });

  it('splits lines across chunks and drops \\r', () => {
    const s = new LineSplitter();
    expect(s.push('a\r\nb')).toEqual(['a']);
    expect(s.push('c\n')).toEqual(['bc']);
    expect(s.flush()).toEqual([]);
  });

  it('compares Docker timestamps in time order despite trimmed zeros', () => {
    expect(normalTimestamp('2026-12-02T00:00:01.5Z') > normalTimestamp('2026-12-02T00:00:01.123456789Z')).toBe(true);
    expect(normalTimestamp('2026-12-02T00:00:01Z')).toBe('2026-12-02T00:00:01.000000000Z');
  });

  it('a CPU share of 0 when Docker gave no previous sample', () => {
    expect(mapStats('x', { cpu_stats: { cpu_usage: { total_usage: 5 }, system_cpu_usage: 10 } }).cpuPercent).toBe(0);
  });

  it('the client reports a missing socket as Docker not answering', async () => {
    await expect(new DockerApi(path.join(dir, 'nope.sock')).call('GET', '/_ping')).rejects.toMatchObject({ code: 'E_DOCKER', message: 'Docker is not answering (its socket does not exist)' });
  });

  it('the contract refuses odd ids before they reach Docker', () => {
    expect(validateRequest('containers.stop', { id: '../../images/x' })).toMatchObject({ code: 'E_INVALID_PARAMS' });
    expect(validateRequest('containers.stop', { id: 'web?force=1' })).toMatchObject({ code: 'E_INVALID_PARAMS' });
    expect(validateRequest('containers.stop', {})).toMatchObject({ code: 'E_INVALID_PARAMS', message: 'containers.stop: missing id' });
    expect(validateRequest('images.remove', { id: 'sha256:abc' })).toBeNull();
    expect(validateRequest('images.remove', { id: 'ghcr.io/acme/app:1.2' })).toBeNull();
    expect(validateRequest('disk.reclaim', { images: 'everything' })).toMatchObject({ code: 'E_INVALID_PARAMS' });
    expect(validateRequest('containers.logs', { id: 'web', tail: -1 })).toMatchObject({ code: 'E_INVALID_PARAMS' });
  });
});

describe('the suspend path’s calls, through the same client', () => {
  it('lists running containers with their bind sources; stop and start (an already stopped one is fine)', async () => {
    dockerd.find('web')!.Mounts = [{ Type: 'bind', Source: '/Users/ada/src' }, { Type: 'volume', Name: 'v' }];
    const list = await runningContainers(dockerd.socketPath);
    expect(list.map((c) => [c.name, c.binds])).toEqual([
      ['web', ['/Users/ada/src']],
      ['shop-db-1', []],
    ]);
    await stopContainer(dockerd.socketPath, 'web', 1);
    await stopContainer(dockerd.socketPath, 'web', 1);
    expect(dockerd.find('web')!.State).toBe('exited');
    await startContainer(dockerd.socketPath, 'web');
    expect(dockerd.find('web')!.State).toBe('running');
    await expect(startContainer(dockerd.socketPath, 'gone')).rejects.toThrow('start gone: No such container: gone');
  });
});

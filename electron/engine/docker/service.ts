// Docker itself, for the app and the CLI: containers, images, volumes, disk — the `containers.*`,
// `images.*`, `volumes.*` and `disk.*` requests, and the `containers` / `containerLogs` events.
// It talks to dockerd through the Engine API on the instance's forwarded docker.sock, and keeps
// one /events stream open while Docker runs, so the list is pushed on change, never polled.
// It never imports the supervisor: it gets a small context (the status, an emitter).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Events, Params, Result } from '../../shared/contract.js';
import type { ContainerInfo, ContainerStats, DiskUsage, ImageInfo, PruneResult, ReclaimResult, VolumeInfo } from '../../shared/docker.js';
import { isUpState } from '../../shared/status.js';
import type { Status } from '../../shared/status.js';
import { BerthFailure, toBerthError } from '../errors.js';
import { Demuxer, DockerApi, LineSplitter, seg } from './api.js';
import { mapContainer, mapDf, mapImage, mapStats, mapVolume, splitTimestamp } from './map.js';
import type { RawContainer, RawDf, RawImage, RawImageInspect, RawStats, RawVolume, VmView } from './map.js';

export type DockerMethod =
  | 'containers.list'
  | 'containers.stats'
  | 'containers.start'
  | 'containers.stop'
  | 'containers.restart'
  | 'containers.remove'
  | 'containers.logs'
  | 'containers.logsClose'
  | 'images.list'
  | 'images.remove'
  | 'images.prune'
  | 'volumes.list'
  | 'volumes.remove'
  | 'volumes.prune'
  | 'disk.usage'
  | 'disk.reclaim';

export interface DockerContext {
  socketPath: string;
  /** the VM's disk file on the host */
  diskFile: string;
  status(): Status;
  emit<E extends 'containers' | 'containerLogs'>(event: E, payload: Events[E]): void;
  /** status changes: the /events stream runs while Docker is up */
  onStatus(listener: (s: Status) => void): () => void;
  /** how long to wait before re-listing after a burst of Docker events */
  debounceMs?: number;
}

/** Docker event actions that change nothing the views show (exec runs, health probes, attaches). */
const QUIET = /^(exec_|attach|detach|resize|top|copy|archive-path|extract-to-dir|export)/;
const MAX_LOG_STREAMS = 16;

export class DockerService {
  readonly api: DockerApi;
  private readonly archCache = new Map<string, RawImageInspect>();
  private readonly streams = new Map<string, () => void>();
  private apiVersion: number | null = null;
  private watching: { abort: () => void } | null = null;
  private watchWanted = false;
  private retry: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private wasUp = false;
  private readonly off: () => void;

  constructor(private readonly ctx: DockerContext) {
    this.api = new DockerApi(ctx.socketPath);
    this.off = ctx.onStatus((s) => this.onStatus(s));
  }

  /** The contract's Docker requests, one entry each. */
  async handle<M extends DockerMethod>(method: M, params: Params<M>): Promise<Result<M>> {
    const p = params as Record<string, unknown>;
    const r = async (): Promise<unknown> => {
      switch (method) {
        case 'containers.list':
          return this.list();
        case 'containers.stats':
          return this.stats(p.ids as string[] | undefined);
        case 'containers.start':
          return this.post(`/containers/${seg(p.id as string)}/start`, {}, 60_000);
        case 'containers.stop':
          return this.post(`/containers/${seg(p.id as string)}/stop`, { t: 10 }, 60_000);
        case 'containers.restart':
          return this.post(`/containers/${seg(p.id as string)}/restart`, { t: 10 }, 90_000);
        case 'containers.remove':
          return this.del(`/containers/${seg(p.id as string)}`, { force: p.force === true });
        case 'containers.logs':
          return this.logs(p.id as string, (p.tail as number | undefined) ?? 500, p.follow === true);
        case 'containers.logsClose':
          return this.closeLogs(p.stream as string);
        case 'images.list':
          return this.images();
        case 'images.remove':
          return this.del(`/images/${seg(p.id as string)}`, { force: p.force === true });
        case 'images.prune':
          return this.pruneImages(p.all === true);
        case 'volumes.list':
          return this.volumes();
        case 'volumes.remove':
          return this.del(`/volumes/${seg(p.name as string)}`, { force: p.force === true });
        case 'volumes.prune':
          return this.pruneVolumes();
        case 'disk.usage':
          return this.diskUsage();
        case 'disk.reclaim':
          return this.reclaim(p as Params<'disk.reclaim'>);
      }
    };
    return (await r()) as Result<M>;
  }

  close(): void {
    this.off();
    this.stopWatch();
    for (const abort of this.streams.values()) abort();
    this.streams.clear();
  }

  // ---- helpers ----

  private vm(): VmView & { up: boolean } {
    const s = this.ctx.status();
    return { up: isUpState(s.state), arch: s.arch, emulation: s.emulation };
  }

  private needUp(): VmView {
    const v = this.vm();
    if (!v.up) throw new BerthFailure('E_NOT_RUNNING', 'Docker is not running', 'Start Docker first (the Start button, or `berth start`).');
    return v;
  }

  private async post(path: string, query: Record<string, string | number | boolean>, timeoutMs?: number): Promise<null> {
    this.needUp();
    await this.api.call('POST', path, { query, ...(timeoutMs ? { timeoutMs } : {}) });
    return null;
  }

  private async del(path: string, query: Record<string, boolean>): Promise<null> {
    this.needUp();
    await this.api.call('DELETE', path, { query, timeoutMs: 60_000 });
    return null;
  }

  private async version(): Promise<number> {
    if (this.apiVersion === null) {
      const v = await this.api.call<{ ApiVersion?: string }>('GET', '/version');
      this.apiVersion = Number(v?.ApiVersion ?? '1.41') || 1.41;
    }
    return this.apiVersion;
  }

  /** Image architecture never changes for an image id: asked once. */
  private async inspectImage(id: string): Promise<RawImageInspect | undefined> {
    const hit = this.archCache.get(id);
    if (hit) return hit;
    try {
      const r = await this.api.call<RawImageInspect>('GET', `/images/${seg(id)}/json`);
      const slim = { Id: r.Id, ...(r.Architecture ? { Architecture: r.Architecture } : {}), ...(r.Os ? { Os: r.Os } : {}), ...(r.Variant ? { Variant: r.Variant } : {}) };
      if (this.archCache.size > 2000) this.archCache.clear();
      this.archCache.set(id, slim);
      return slim;
    } catch {
      return undefined;
    }
  }

  private rawContainers(): Promise<RawContainer[]> {
    return this.api.call<RawContainer[]>('GET', '/containers/json', { query: { all: 1 } }).then((l) => l ?? []);
  }

  // ---- containers ----

  async list(): Promise<ContainerInfo[]> {
    const vm = this.needUp();
    const raw = await this.rawContainers();
    const imageIds = [...new Set(raw.map((c) => c.ImageID).filter((x): x is string => !!x))];
    const [arches, started] = await Promise.all([
      Promise.all(imageIds.map(async (id) => [id, (await this.inspectImage(id))?.Architecture] as const)),
      Promise.all(
        raw
          .filter((c) => c.State === 'running')
          .map(async (c) => {
            const i = await this.api.call<{ State?: { StartedAt?: string } }>('GET', `/containers/${seg(c.Id)}/json`).catch(() => null);
            return [c.Id, i?.State?.StartedAt] as const;
          }),
      ),
    ]);
    const archOf = new Map(arches);
    const startedOf = new Map(started);
    return raw
      .map((c) => {
        const startedAt = startedOf.get(c.Id);
        const arch = c.ImageID ? archOf.get(c.ImageID) : undefined;
        return mapContainer(c, { ...(startedAt ? { startedAt } : {}), ...(arch ? { arch } : {}) }, vm);
      })
      .sort((a, b) => (a.project ?? '').localeCompare(b.project ?? '') || a.name.localeCompare(b.name));
  }

  async stats(ids?: string[]): Promise<ContainerStats[]> {
    this.needUp();
    const which = ids ?? (await this.api.call<RawContainer[]>('GET', '/containers/json')).map((c) => c.Id);
    // stream=false waits for a second sample (about a second), so the CPU share is over that second
    const all = await Promise.all(
      which.map((id) =>
        this.api
          .call<RawStats>('GET', `/containers/${seg(id)}/stats`, { query: { stream: false }, timeoutMs: 20_000 })
          .then((s) => mapStats(id, s))
          .catch(() => null),
      ),
    );
    return all.filter((s): s is ContainerStats => s !== null);
  }

  // ---- logs ----

  private async readLogs(id: string, query: Record<string, string | number | boolean>, tty: boolean, onLines: (lines: string[]) => void): Promise<{ done: Promise<string | undefined>; abort: () => void }> {
    const { res, abort } = await this.api.stream('GET', `/containers/${seg(id)}/logs`, { query: { stdout: 1, stderr: 1, timestamps: 1, ...query } });
    const demux = new Demuxer();
    const split = new LineSplitter();
    const decoder = new TextDecoder();
    const done = new Promise<string | undefined>((resolve) => {
      res.on('data', (chunk: Buffer) => {
        const parts = tty ? [chunk] : demux.push(chunk);
        const lines = parts.flatMap((b) => split.push(decoder.decode(b, { stream: true })));
        if (lines.length) onLines(lines);
      });
      res.on('end', () => {
        const rest = split.flush();
        if (rest.length) onLines(rest);
        resolve(undefined);
      });
      res.on('error', (e) => resolve(e.message));
      res.on('close', () => resolve(undefined));
    });
    return { done, abort };
  }

  async logs(id: string, tail: number, follow: boolean): Promise<{ lines: string[]; stream?: string }> {
    this.needUp();
    const info = await this.api.call<{ Config?: { Tty?: boolean } }>('GET', `/containers/${seg(id)}/json`);
    const tty = info?.Config?.Tty === true;
    const got: Array<{ ts: string; text: string }> = [];
    const first = await this.readLogs(id, { tail }, tty, (lines) => got.push(...lines.map(splitTimestamp)));
    await first.done;
    const lines = got.map((l) => l.text);
    if (!follow) return { lines };
    if (this.streams.size >= MAX_LOG_STREAMS) throw new BerthFailure('E_BUSY', 'too many container logs are followed at once', 'Close a Logs view first.');
    // follow from the last line shown: lines at or before it came with the tail
    const last = got.length ? got[got.length - 1]!.ts : '';
    const since = last ? Math.floor(Date.parse(last) / 1000) : undefined;
    const stream = randomUUID();
    const f = await this.readLogs(id, { follow: 1, ...(since !== undefined ? { since } : { tail: 0 }) }, tty, (more) => {
      const fresh = more.map(splitTimestamp).filter((l) => !last || !l.ts || l.ts > last);
      if (fresh.length) this.ctx.emit('containerLogs', { stream, lines: fresh.map((l) => l.text) });
    });
    this.streams.set(stream, f.abort);
    void f.done.then((reason) => {
      if (!this.streams.delete(stream)) return;
      this.ctx.emit('containerLogs', { stream, end: true, ...(reason ? { reason } : {}) });
    });
    return { lines, stream };
  }

  closeLogs(stream: string): null {
    const abort = this.streams.get(stream);
    this.streams.delete(stream);
    abort?.();
    return null;
  }

  // ---- images and volumes ----

  async images(): Promise<ImageInfo[]> {
    const vm = this.needUp();
    const [raw, containers] = await Promise.all([this.api.call<RawImage[]>('GET', '/images/json'), this.rawContainers()]);
    const uses = new Map<string, number>();
    for (const c of containers) if (c.ImageID) uses.set(c.ImageID, (uses.get(c.ImageID) ?? 0) + 1);
    const inspected = await Promise.all((raw ?? []).map((i) => this.inspectImage(i.Id)));
    return (raw ?? [])
      .map((i, n) => mapImage(i, inspected[n], uses.get(i.Id) ?? 0, vm))
      .sort((a, b) => Number(a.dangling) - Number(b.dangling) || (a.tags[0] ?? '').localeCompare(b.tags[0] ?? '') || b.createdAt.localeCompare(a.createdAt));
  }

  async pruneImages(all: boolean): Promise<PruneResult> {
    this.needUp();
    const r = await this.api.call<{ ImagesDeleted?: Array<{ Deleted?: string }> | null; SpaceReclaimed?: number }>('POST', '/images/prune', {
      query: { filters: JSON.stringify({ dangling: [all ? 'false' : 'true'] }) },
      timeoutMs: 300_000,
    });
    return { deleted: (r?.ImagesDeleted ?? []).filter((d) => d.Deleted).length, reclaimedBytes: r?.SpaceReclaimed ?? 0 };
  }

  async volumes(): Promise<VolumeInfo[]> {
    this.needUp();
    const [list, containers, df] = await Promise.all([
      this.api.call<{ Volumes?: RawVolume[] | null }>('GET', '/volumes'),
      this.rawContainers(),
      // sizes come only from `system df` (it measures every volume); without it they show as unknown
      this.api.call<RawDf>('GET', '/system/df', { query: { type: 'volume' }, timeoutMs: 60_000 }).catch(() => null),
    ]);
    const sizes = new Map((df?.Volumes ?? []).map((v) => [v.Name, v.UsageData?.Size ?? -1] as const));
    const users = new Map<string, string[]>();
    for (const c of containers) {
      const name = (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
      for (const m of c.Mounts ?? []) if (m.Type === 'volume' && m.Name) users.set(m.Name, [...(users.get(m.Name) ?? []), name]);
    }
    return (list?.Volumes ?? []).map((v) => mapVolume(v, sizes, users.get(v.Name) ?? [])).sort((a, b) => a.name.localeCompare(b.name));
  }

  async pruneVolumes(): Promise<PruneResult> {
    this.needUp();
    // from API 1.42 a prune spares named volumes unless asked for all; "unused" means all of them here
    const all = (await this.version()) >= 1.42;
    const r = await this.api.call<{ VolumesDeleted?: string[] | null; SpaceReclaimed?: number }>('POST', '/volumes/prune', {
      ...(all ? { query: { filters: JSON.stringify({ all: ['true'] }) } } : {}),
      timeoutMs: 300_000,
    });
    return { deleted: (r?.VolumesDeleted ?? []).length, reclaimedBytes: r?.SpaceReclaimed ?? 0 };
  }

  // ---- disk ----

  private allocated(): number | undefined {
    try {
      return fs.statSync(this.ctx.diskFile).blocks * 512;
    } catch {
      return undefined;
    }
  }

  async diskUsage(): Promise<DiskUsage> {
    const s = this.ctx.status();
    const allocated = this.allocated();
    const out: DiskUsage = {
      vmDisk: allocated === undefined ? null : { path: this.ctx.diskFile, allocatedBytes: allocated, virtualBytes: s.diskUsage?.virtualBytes ?? s.diskGiB * 2 ** 30 },
      docker: null,
    };
    if (!isUpState(s.state)) {
      out.dockerError = { code: 'E_NOT_RUNNING', message: 'Docker is not running', hint: 'Start Docker to see what it stores.' };
      return out;
    }
    try {
      out.docker = mapDf(await this.api.call<RawDf>('GET', '/system/df', { timeoutMs: 60_000 }));
    } catch (e) {
      out.dockerError = toBerthError(e, 'E_DOCKER');
    }
    return out;
  }

  async reclaim(choice: Params<'disk.reclaim'>): Promise<ReclaimResult> {
    this.needUp();
    const before = this.allocated();
    const steps: ReclaimResult['steps'] = [];
    // containers first: what they held (images, volumes) is then unused too
    if (choice.containers) {
      const r = await this.api.call<{ ContainersDeleted?: string[] | null; SpaceReclaimed?: number }>('POST', '/containers/prune', { timeoutMs: 300_000 });
      steps.push({ what: 'containers', deleted: (r?.ContainersDeleted ?? []).length, reclaimedBytes: r?.SpaceReclaimed ?? 0 });
    }
    if (choice.images) steps.push({ what: 'images', ...(await this.pruneImages(choice.images === 'unused')) });
    if (choice.volumes) steps.push({ what: 'volumes', ...(await this.pruneVolumes()) });
    if (choice.buildCache) {
      const r = await this.api.call<{ CachesDeleted?: string[] | null; SpaceReclaimed?: number }>('POST', '/build/prune', { timeoutMs: 300_000 });
      steps.push({ what: 'buildCache', deleted: (r?.CachesDeleted ?? []).length, reclaimedBytes: r?.SpaceReclaimed ?? 0 });
    }
    const after = this.allocated();
    return {
      steps,
      reclaimedBytes: steps.reduce((n, s) => n + s.reclaimedBytes, 0),
      ...(before !== undefined ? { allocatedBefore: before } : {}),
      ...(after !== undefined ? { allocatedAfter: after } : {}),
    };
  }

  // ---- the /events stream ----

  private onStatus(s: Status): void {
    const up = isUpState(s.state);
    if (up && !this.watchWanted) {
      this.watchWanted = true;
      this.apiVersion = null;
      void this.watch(0);
    } else if (!up && this.watchWanted) {
      this.stopWatch();
      for (const abort of this.streams.values()) abort();
    }
    if (!up && this.wasUp) this.ctx.emit('containers', []);
    this.wasUp = up;
  }

  private stopWatch(): void {
    this.watchWanted = false;
    this.watching?.abort();
    this.watching = null;
    if (this.retry) clearTimeout(this.retry);
    if (this.debounce) clearTimeout(this.debounce);
    this.retry = this.debounce = null;
  }

  private changed(): void {
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      if (!this.watchWanted) return;
      this.list().then(
        (l) => this.watchWanted && this.ctx.emit('containers', l),
        () => undefined,
      );
    }, this.ctx.debounceMs ?? 150);
  }

  private async watch(failures: number): Promise<void> {
    if (!this.watchWanted) return;
    const again = (): void => {
      this.watching = null;
      if (!this.watchWanted) return;
      this.retry = setTimeout(() => void this.watch(failures + 1), Math.min(10_000, 500 * 2 ** Math.min(failures, 5)));
      this.retry.unref();
    };
    try {
      const filters = JSON.stringify({ type: ['container', 'image', 'volume'] });
      const s = await this.api.stream('GET', '/events', { query: { filters } });
      if (!this.watchWanted) return s.abort();
      this.watching = s;
      s.res.socket?.unref();
      failures = 0;
      const split = new LineSplitter();
      s.res.setEncoding('utf8');
      s.res.on('data', (d: string) => {
        for (const line of split.push(d)) {
          try {
            const ev = JSON.parse(line) as { Action?: string; status?: string };
            if (!QUIET.test(ev.Action ?? ev.status ?? '')) this.changed();
          } catch {
            // not an event line
          }
        }
      });
      s.res.on('close', again);
      // what happened before the stream opened
      this.changed();
    } catch {
      again();
    }
  }
}

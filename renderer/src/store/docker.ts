// What the Containers, Images, Volumes and Disk views show: Docker's own objects, from the
// `containers.*`, `images.*`, `volumes.*` and `disk.*` requests, kept current by the `containers`
// event (pushed from Docker's /events stream). Only this store talks to the api module for them.
import { create } from 'zustand';
import type { ContainerInfo, ContainerStats, DiskUsage, ImageInfo, ReclaimChoice, ReclaimResult, VolumeInfo } from '../../../electron/shared/docker.js';
import type { BerthError } from '../../../electron/shared/status.js';
import type { Envelope } from '../../../electron/shared/contract.js';
import { invoke, on } from '../api/berth.js';

export const MAX_CONTAINER_LOG_LINES = 5000;

export type ContainerAction = 'start' | 'stop' | 'restart' | 'remove';

/** a list and why it could not be had */
export interface Loaded<T> {
  items: T[] | null;
  error: BerthError | null;
  loading: boolean;
}

const empty = <T>(): Loaded<T> => ({ items: null, error: null, loading: false });

export interface LogView {
  containerId: string;
  name: string;
  lines: string[];
  stream: string | null;
  /** the followed stream ended (the container stopped, or Docker closed it) */
  ended: boolean;
  error: BerthError | null;
}

export interface DockerState {
  containers: Loaded<ContainerInfo>;
  stats: Record<string, ContainerStats>;
  images: Loaded<ImageInfo>;
  volumes: Loaded<VolumeInfo>;
  disk: { usage: DiskUsage | null; error: BerthError | null; loading: boolean };
  /** per container/image/volume id: the action in flight */
  busy: Record<string, string>;
  /** the last failed action, shown above the list until dismissed */
  actionError: (BerthError & { what: string }) | null;
  logs: LogView | null;
  reclaiming: boolean;
  lastReclaim: ReclaimResult | null;
  /** the last prune of images or volumes */
  lastPrune: { what: 'images' | 'volumes'; deleted: number; reclaimedBytes: number } | null;

  /** subscribes to the pushed events; returns the unsubscribe */
  init(): () => void;
  loadContainers(): Promise<void>;
  loadStats(): Promise<void>;
  containerAction(c: Pick<ContainerInfo, 'id' | 'name'>, action: ContainerAction): Promise<boolean>;
  openLogs(c: Pick<ContainerInfo, 'id' | 'name'>): Promise<void>;
  closeLogs(): Promise<void>;
  /** an interactive shell in the container, in the console window (docker exec through the API) */
  openShell(c: Pick<ContainerInfo, 'id' | 'name'>): Promise<boolean>;
  loadImages(): Promise<void>;
  removeImage(img: Pick<ImageInfo, 'id'>, force?: boolean): Promise<boolean>;
  pruneImages(): Promise<boolean>;
  loadVolumes(): Promise<void>;
  removeVolume(name: string): Promise<boolean>;
  pruneVolumes(): Promise<boolean>;
  loadDisk(): Promise<void>;
  reclaim(choice: ReclaimChoice): Promise<boolean>;
  /** the VM went down: nothing of Docker's is known any more */
  clear(): void;
  dismissError(): void;
}

export const initialDockerState = {
  containers: empty<ContainerInfo>(),
  stats: {},
  images: empty<ImageInfo>(),
  volumes: empty<VolumeInfo>(),
  disk: { usage: null, error: null, loading: false },
  busy: {},
  actionError: null,
  logs: null,
  reclaiming: false,
  lastReclaim: null,
  lastPrune: null,
} satisfies Partial<DockerState>;

const ACTION_METHOD = {
  start: 'containers.start',
  stop: 'containers.stop',
  restart: 'containers.restart',
  remove: 'containers.remove',
} as const;

export const useDocker = create<DockerState>()((set, get) => {
  /** log lines of a stream that arrived before containers.logs answered with its id */
  const early = new Map<string, string[]>();
  const endedEarly = new Set<string>();
  /** how many `containers` events have arrived: a list asked for before the latest one is older than it */
  let containersPushed = 0;

  async function load<T>(key: 'containers' | 'images' | 'volumes', call: () => Promise<Envelope<T[]>>): Promise<void> {
    set({ [key]: { ...get()[key], loading: true } } as Partial<DockerState>);
    const pushedBefore = containersPushed;
    const r = await call();
    // every change pushes a `containers` event, so one that came while we waited is at least as new
    if (key === 'containers' && pushedBefore !== containersPushed) {
      set({ containers: { ...get().containers, loading: false } });
      return;
    }
    set({ [key]: r.ok ? { items: r.value, error: null, loading: false } : { items: get()[key].items, error: r.error, loading: false } } as Partial<DockerState>);
  }

  async function act(id: string, what: string, call: () => Promise<Envelope<unknown>>): Promise<boolean> {
    if (get().busy[id]) return false;
    set({ busy: { ...get().busy, [id]: what }, actionError: null });
    const r = await call();
    const busy = { ...get().busy };
    delete busy[id];
    set({ busy, ...(r.ok ? {} : { actionError: { ...r.error, what } }) });
    return r.ok;
  }

  return {
    ...initialDockerState,

    init() {
      const offs = [
        on('containers', (list) => {
          containersPushed++;
          set({ containers: { items: list, error: null, loading: false } });
          // a container gone or stopped has no stats any more
          const running = new Set(list.filter((c) => c.state === 'running').map((c) => c.id));
          const stats = Object.fromEntries(Object.entries(get().stats).filter(([id]) => running.has(id)));
          set({ stats });
        }),
        on('containerLogs', (e) => {
          const view = get().logs;
          if (!view || view.stream !== e.stream) {
            // maybe the answer with this stream's id is still on its way
            if ('lines' in e) early.set(e.stream, [...(early.get(e.stream) ?? []), ...e.lines].slice(-MAX_CONTAINER_LOG_LINES));
            else endedEarly.add(e.stream);
            if (early.size > 8) early.delete(early.keys().next().value!);
            return;
          }
          if ('lines' in e) set({ logs: { ...view, lines: [...view.lines, ...e.lines].slice(-MAX_CONTAINER_LOG_LINES) } });
          else set({ logs: { ...view, ended: true, stream: null } });
        }),
      ];
      return () => offs.forEach((off) => off());
    },

    loadContainers: () => load('containers', () => invoke('containers.list', {})),

    async loadStats() {
      const r = await invoke('containers.stats', {});
      if (r.ok) set({ stats: Object.fromEntries(r.value.map((s) => [s.id, s])) });
    },

    async containerAction(c, action) {
      const ok = await act(c.id, action, () => invoke(ACTION_METHOD[action], action === 'remove' ? { id: c.id, force: true } : { id: c.id }));
      // the `containers` event brings the new state; ask anyway in case events are not flowing
      if (ok) void get().loadContainers();
      return ok;
    },

    async openLogs(c) {
      await get().closeLogs();
      set({ logs: { containerId: c.id, name: c.name, lines: [], stream: null, ended: false, error: null } });
      const r = await invoke('containers.logs', { id: c.id, tail: 500, follow: true });
      const view = get().logs;
      if (!view || view.containerId !== c.id) {
        if (r.ok && r.value.stream) void invoke('containers.logsClose', { stream: r.value.stream });
        return;
      }
      if (!r.ok) {
        set({ logs: { ...view, error: r.error } });
        return;
      }
      const stream = r.value.stream ?? null;
      const more = stream ? (early.get(stream) ?? []) : [];
      const ended = stream ? endedEarly.has(stream) : true;
      if (stream) {
        early.delete(stream);
        endedEarly.delete(stream);
      }
      set({ logs: { ...view, lines: [...r.value.lines, ...more].slice(-MAX_CONTAINER_LOG_LINES), stream: ended ? null : stream, ended } });
    },

    async closeLogs() {
      const view = get().logs;
      set({ logs: null });
      if (view?.stream) await invoke('containers.logsClose', { stream: view.stream });
    },

    openShell: (c) => act(c.id, 'open a shell', () => invoke('console.show', { container: c.id, name: c.name })),

    loadImages: () => load('images', () => invoke('images.list', {})),

    async removeImage(img, force = false) {
      const ok = await act(img.id, 'remove the image', () => invoke('images.remove', { id: img.id, force }));
      if (ok) void get().loadImages();
      return ok;
    },

    async pruneImages() {
      let result: { deleted: number; reclaimedBytes: number } | null = null;
      const ok = await act('images:prune', 'remove dangling images', async () => {
        const r = await invoke('images.prune', {});
        if (r.ok) result = r.value;
        return r;
      });
      if (result) set({ lastPrune: { what: 'images', ...(result as { deleted: number; reclaimedBytes: number }) } });
      void get().loadImages();
      return ok;
    },

    loadVolumes: () => load('volumes', () => invoke('volumes.list', {})),

    async removeVolume(name) {
      const ok = await act(`volume:${name}`, 'remove the volume', () => invoke('volumes.remove', { name }));
      if (ok) void get().loadVolumes();
      return ok;
    },

    async pruneVolumes() {
      let result: { deleted: number; reclaimedBytes: number } | null = null;
      const ok = await act('volumes:prune', 'remove unused volumes', async () => {
        const r = await invoke('volumes.prune', {});
        if (r.ok) result = r.value;
        return r;
      });
      if (result) set({ lastPrune: { what: 'volumes', ...(result as { deleted: number; reclaimedBytes: number }) } });
      void get().loadVolumes();
      return ok;
    },

    async loadDisk() {
      set({ disk: { ...get().disk, loading: true } });
      const r = await invoke('disk.usage', {});
      set({ disk: r.ok ? { usage: r.value, error: null, loading: false } : { usage: get().disk.usage, error: r.error, loading: false } });
    },

    async reclaim(choice) {
      if (get().reclaiming) return false;
      set({ reclaiming: true, actionError: null });
      const r = await invoke('disk.reclaim', choice);
      set({ reclaiming: false, ...(r.ok ? { lastReclaim: r.value } : { actionError: { ...r.error, what: 'reclaim space' } }) });
      void get().loadDisk();
      return r.ok;
    },

    clear() {
      early.clear();
      endedEarly.clear();
      set({ containers: empty(), images: empty(), volumes: empty(), stats: {}, busy: {}, logs: null });
    },

    dismissError: () => set({ actionError: null }),
  };
});

/** Containers grouped as the views show them: each compose project together, then the rest. */
export function groupContainers(list: ContainerInfo[]): Array<{ project: string | null; containers: ContainerInfo[] }> {
  const groups = new Map<string | null, ContainerInfo[]>();
  for (const c of list) {
    const k = c.project ?? null;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  const named = [...groups.keys()].filter((k): k is string => k !== null).sort((a, b) => a.localeCompare(b));
  return [...named.map((p) => ({ project: p as string | null, containers: groups.get(p)! })), ...(groups.has(null) ? [{ project: null, containers: groups.get(null)! }] : [])].map((g) => ({
    ...g,
    containers: [...g.containers].sort((a, b) => a.name.localeCompare(b.name)),
  }));
}

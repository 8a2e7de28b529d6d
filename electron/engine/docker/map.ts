// Docker's JSON (Engine API ≥ 1.41) → the app's shapes in shared/docker. Pure functions.
import type { ContainerInfo, ContainerPort, ContainerState, ContainerStats, DfCategory, DiskUsage, ImageInfo, VolumeInfo } from '../../shared/docker.js';
import { dockerArchOf } from '../../shared/docker.js';
import type { Arch, EmulationStatus } from '../../shared/status.js';

export interface RawContainer {
  Id: string;
  Names?: string[];
  Image?: string;
  ImageID?: string;
  State?: string;
  Status?: string;
  Created?: number;
  Ports?: Array<{ PrivatePort: number; PublicPort?: number; IP?: string; Type?: string }>;
  Labels?: Record<string, string> | null;
  Mounts?: Array<{ Type?: string; Name?: string; Source?: string }>;
  SizeRw?: number;
}

export interface RawImage {
  Id: string;
  RepoTags?: string[] | null;
  Size?: number;
  Created?: number;
  Containers?: number;
  SharedSize?: number;
}

export interface RawImageInspect {
  Id: string;
  Architecture?: string;
  Os?: string;
  Variant?: string;
}

export interface RawVolume {
  Name: string;
  Driver?: string;
  CreatedAt?: string;
  Labels?: Record<string, string> | null;
  UsageData?: { Size?: number; RefCount?: number } | null;
}

export interface RawDf {
  LayersSize?: number;
  Images?: RawImage[] | null;
  Containers?: RawContainer[] | null;
  Volumes?: RawVolume[] | null;
  BuildCache?: Array<{ Size?: number; InUse?: boolean; Shared?: boolean }> | null;
}

export interface RawStats {
  id?: string;
  cpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
}

const STATES: ContainerState[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];

export const COMPOSE_PROJECT = 'com.docker.compose.project';
export const COMPOSE_SERVICE = 'com.docker.compose.service';

const iso = (unixS: number | undefined): string => new Date((unixS ?? 0) * 1000).toISOString();

function portType(t: string | undefined): ContainerPort['type'] {
  return t === 'udp' || t === 'sctp' ? t : 'tcp';
}

/** Docker lists a port published on both IPv4 and IPv6 twice: once is enough. */
export function mapPorts(raw: RawContainer['Ports']): ContainerPort[] {
  const seen = new Set<string>();
  const out: ContainerPort[] = [];
  for (const p of raw ?? []) {
    const key = `${p.PrivatePort}/${p.Type}/${p.PublicPort ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ privatePort: p.PrivatePort, type: portType(p.Type), ...(p.PublicPort ? { publicPort: p.PublicPort } : {}), ...(p.IP ? { hostIp: p.IP } : {}) });
  }
  return out.sort((a, b) => (a.publicPort ?? 1e6) - (b.publicPort ?? 1e6) || a.privatePort - b.privatePort);
}

export interface VmView {
  arch: Arch;
  emulation: EmulationStatus;
}

export function mapContainer(c: RawContainer, extra: { startedAt?: string; arch?: string }, vm: VmView): ContainerInfo {
  const labels = c.Labels ?? {};
  const state = STATES.includes(c.State as ContainerState) ? (c.State as ContainerState) : 'dead';
  const info: ContainerInfo = {
    id: c.Id,
    name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
    image: c.Image ?? '',
    imageId: c.ImageID ?? '',
    state,
    status: c.Status ?? '',
    createdAt: iso(c.Created),
    ports: mapPorts(c.Ports),
    volumes: (c.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name).map((m) => m.Name!),
  };
  if (labels[COMPOSE_PROJECT]) info.project = labels[COMPOSE_PROJECT];
  if (labels[COMPOSE_SERVICE]) info.service = labels[COMPOSE_SERVICE];
  if (extra.startedAt && state === 'running') info.startedAt = extra.startedAt;
  if (extra.arch) {
    info.arch = extra.arch;
    info.emulated = extra.arch !== dockerArchOf(vm.arch);
  }
  return info;
}

export function runsAs(arch: string, vm: VmView): ImageInfo['runs'] {
  if (arch === dockerArchOf(vm.arch)) return 'native';
  return arch === dockerArchOf(vm.emulation.foreignArch) && vm.emulation.state === 'enabled' ? 'emulated' : 'needs-emulation';
}

export function mapImage(i: RawImage, inspect: RawImageInspect | undefined, containers: number, vm: VmView): ImageInfo {
  const tags = (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
  const arch = inspect?.Architecture ?? '';
  const img: ImageInfo = {
    id: i.Id,
    tags,
    sizeBytes: i.Size ?? 0,
    createdAt: iso(i.Created),
    arch,
    os: inspect?.Os ?? '',
    emulated: arch !== '' && arch !== dockerArchOf(vm.arch),
    runs: arch === '' ? 'native' : runsAs(arch, vm),
    dangling: tags.length === 0,
    containers,
  };
  if (inspect?.Variant) img.variant = inspect.Variant;
  return img;
}

export function mapVolume(v: RawVolume, sizes: Map<string, number>, usedBy: string[]): VolumeInfo {
  const vol: VolumeInfo = { name: v.Name, driver: v.Driver ?? 'local', sizeBytes: sizes.get(v.Name) ?? v.UsageData?.Size ?? -1, usedBy };
  if (v.CreatedAt) vol.createdAt = v.CreatedAt;
  const project = v.Labels?.[COMPOSE_PROJECT];
  if (project) vol.project = project;
  return vol;
}

/** CPU as a share of one core (Docker's own formula) and memory without the page cache. */
export function mapStats(id: string, s: RawStats): ContainerStats {
  const cpuDelta = (s.cpu_stats?.cpu_usage?.total_usage ?? 0) - (s.precpu_stats?.cpu_usage?.total_usage ?? 0);
  const sysDelta = (s.cpu_stats?.system_cpu_usage ?? 0) - (s.precpu_stats?.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats?.online_cpus || s.cpu_stats?.cpu_usage?.percpu_usage?.length || 1;
  // one-shot stats (or a container just started) come without a previous sample: no share to tell
  const hasPrev = (s.precpu_stats?.system_cpu_usage ?? 0) > 0;
  const cpuPercent = hasPrev && cpuDelta > 0 && sysDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const st = s.memory_stats?.stats ?? {};
  // cgroup v2 reports inactive_file, v1 total_inactive_file (or cache): Docker's CLI subtracts it
  const cache = st.inactive_file ?? st.total_inactive_file ?? st.cache ?? 0;
  const usage = s.memory_stats?.usage ?? 0;
  return { id, cpuPercent: Math.round(cpuPercent * 10) / 10, memoryBytes: Math.max(0, usage - (cache < usage ? cache : 0)), memoryLimitBytes: s.memory_stats?.limit ?? 0 };
}

const zero = (): DfCategory => ({ count: 0, active: 0, sizeBytes: 0, reclaimableBytes: 0 });

export function mapDf(df: RawDf): NonNullable<DiskUsage['docker']> {
  const images = zero();
  for (const i of df.Images ?? []) {
    images.count++;
    const used = (i.Containers ?? 0) > 0;
    if (used) images.active++;
    // an unused image frees what it does not share with others
    else images.reclaimableBytes += Math.max(0, (i.Size ?? 0) - Math.max(0, i.SharedSize ?? 0));
  }
  images.sizeBytes = df.LayersSize ?? (df.Images ?? []).reduce((n, i) => n + (i.Size ?? 0), 0);
  images.reclaimableBytes = Math.min(images.reclaimableBytes, images.sizeBytes);
  const containers = zero();
  for (const c of df.Containers ?? []) {
    containers.count++;
    const size = c.SizeRw ?? 0;
    containers.sizeBytes += size;
    if (c.State === 'running') containers.active++;
    else containers.reclaimableBytes += size;
  }
  const volumes = zero();
  for (const v of df.Volumes ?? []) {
    volumes.count++;
    const size = Math.max(0, v.UsageData?.Size ?? 0);
    volumes.sizeBytes += size;
    if ((v.UsageData?.RefCount ?? 0) > 0) volumes.active++;
    else volumes.reclaimableBytes += size;
  }
  const buildCache = zero();
  for (const b of df.BuildCache ?? []) {
    buildCache.count++;
    buildCache.sizeBytes += b.Size ?? 0;
    if (b.InUse) buildCache.active++;
    else if (!b.Shared) buildCache.reclaimableBytes += b.Size ?? 0;
  }
  return { images, containers, volumes, buildCache };
}

/** Docker's RFC 3339 timestamps with the fraction padded to nanoseconds, so strings compare in time order. */
export function normalTimestamp(ts: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(ts);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z` : ts;
}

/** Splits "2026-12-02T00:00:00.123456789Z the line" into its timestamp and text. */
export function splitTimestamp(line: string): { ts: string; text: string } {
  const i = line.indexOf(' ');
  const ts = i > 0 ? line.slice(0, i) : line;
  if (!/^\d{4}-\d\d-\d\dT/.test(ts)) return { ts: '', text: line };
  return { ts: normalTimestamp(ts), text: i > 0 ? line.slice(i + 1) : '' };
}

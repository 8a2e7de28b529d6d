// The one typed contract (served over IPC, the control socket and the test bridge): every request (name → params, result) and every event
// (name → payload). Served over Electron IPC, the control socket (JSON-RPC lines) and, in browser
// tests, a bridge. Nothing else may declare a channel name.
import type { Settings } from './settings.js';
import type { ContainerInfo, ContainerLogEvent, ContainerStats, DiskUsage, ImageInfo, PruneResult, ReclaimChoice, ReclaimResult, VolumeInfo } from './docker.js';
import type {
  BerthError,
  EmulationStatus,
  LogLine,
  MountInfo,
  PortForward,
  Progress,
  Status,
} from './status.js';

export interface Requests {
  'vm.start': { params: { arch?: 'x86_64' | 'aarch64'; cpus?: number; memoryGiB?: number }; result: Status };
  /**
   * Stop Docker. With `stopMode: suspend` the VM's memory is saved to the instance directory and
   * the next start resumes it; `shutdown: true` powers off instead and discards a saved state.
   */
  'vm.stop': { params: { force?: boolean; shutdown?: boolean }; result: Status };
  'vm.restart': { params: Record<string, never>; result: Status };
  'vm.status': { params: Record<string, never>; result: Status };
  /** The host woke from sleep (macOS powerMonitor 'resume'): correct the guest clock now. */
  'vm.wake': { params: Record<string, never>; result: Status };
  'emulation.set': { params: { enabled: boolean }; result: EmulationStatus };
  'emulation.status': { params: Record<string, never>; result: EmulationStatus };
  'ports.list': { params: Record<string, never>; result: PortForward[] };
  'mounts.list': { params: Record<string, never>; result: MountInfo[] };
  'settings.get': { params: Record<string, never>; result: Settings };
  'settings.set': { params: { patch: Partial<Settings> }; result: { settings: Settings; restartNeeded: boolean } };
  'logs.tail': { params: { source: LogLine['source']; lines?: number }; result: { lines: string[]; path: string } };
  /**
   * Opens an interactive shell in the VM (a pty on the host running ssh), or with `container` in
   * that container (a `docker exec` through the Engine API); output arrives as `console` events.
   */
  'console.open': { params: { cols: number; rows: number; container?: string }; result: { id: string } };
  'console.write': { params: { id: string; data: string }; result: null };
  'console.resize': { params: { id: string; cols: number; rows: number }; result: null };
  'console.close': { params: { id: string }; result: null };
  /** Shows the console window (served by the app); with `container`, it opens a shell tab in it. */
  'console.show': { params: { container?: string; name?: string }; result: null };
  /** What the last `console.show` asked the console window to open (once), for a window just opened. */
  'console.target': { params: Record<string, never>; result: ConsoleTarget | null };
  // ---- Docker itself (engine/docker: the Docker Engine API over the instance's docker.sock) ----
  'containers.list': { params: Record<string, never>; result: ContainerInfo[] };
  /** one-shot CPU and memory of the running containers (or of those named) */
  'containers.stats': { params: { ids?: string[] }; result: ContainerStats[] };
  'containers.start': { params: { id: string }; result: null };
  'containers.stop': { params: { id: string }; result: null };
  'containers.restart': { params: { id: string }; result: null };
  'containers.remove': { params: { id: string; force?: boolean }; result: null };
  /**
   * The last `tail` lines; with `follow`, later lines arrive as `containerLogs` events of the
   * returned stream until `containers.logsClose` (or the container's end).
   */
  'containers.logs': { params: { id: string; tail?: number; follow?: boolean }; result: { lines: string[]; stream?: string } };
  'containers.logsClose': { params: { stream: string }; result: null };
  'images.list': { params: Record<string, never>; result: ImageInfo[] };
  'images.remove': { params: { id: string; force?: boolean }; result: null };
  /** dangling images, or with `all` every image no container uses */
  'images.prune': { params: { all?: boolean }; result: PruneResult };
  'volumes.list': { params: Record<string, never>; result: VolumeInfo[] };
  'volumes.remove': { params: { name: string; force?: boolean }; result: null };
  'volumes.prune': { params: Record<string, never>; result: PruneResult };
  'disk.usage': { params: Record<string, never>; result: DiskUsage };
  'disk.reclaim': { params: ReclaimChoice; result: ReclaimResult };
}

export interface ConsoleTarget {
  container: string;
  name?: string;
}

/** output and exit of a session; `show` (no session, id '') asks an open console window for a new target */
export type ConsoleEvent = { id: string; data: string } | { id: string; exit: number } | { id: ''; show: ConsoleTarget };

export interface Events {
  status: Status;
  progress: Progress;
  ports: PortForward[];
  mounts: MountInfo[];
  log: LogLine;
  console: ConsoleEvent;
  /** every container, sent again whenever Docker reports a change (its /events stream) */
  containers: ContainerInfo[];
  containerLogs: ContainerLogEvent;
}

export type Method = keyof Requests;
export type EventName = keyof Events;
export type Params<M extends Method> = Requests[M]['params'];
export type Result<M extends Method> = Requests[M]['result'];

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: BerthError };

/** The API the renderer sees as `window.berth` (preload, browser bridge) — built from the maps above. */
export interface BerthApi {
  invoke<M extends Method>(method: M, params: Params<M>): Promise<Envelope<Result<M>>>;
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void;
}

// ---- validation of inputs where they arrive (IPC, control socket, bridge) ----

type Check = (v: unknown, path: string) => string | null;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const int = (min: number, max: number): Check => (v, p) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? null : `${p} must be an integer from ${min} to ${max}`;
const num = (min: number, max: number): Check => (v, p) =>
  typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? null : `${p} must be a number from ${min} to ${max}`;
const bool: Check = (v, p) => (typeof v === 'boolean' ? null : `${p} must be true or false`);
const str = (max: number): Check => (v, p) =>
  typeof v === 'string' && v.length <= max ? null : `${p} must be a string of at most ${max} characters`;
const oneOf = (...xs: string[]): Check => (v, p) => (typeof v === 'string' && xs.includes(v) ? null : `${p} must be one of ${xs.join(', ')}`);
const anyObject: Check = (v, p) => (isObj(v) ? null : `${p} must be an object`);
/** a container id or name, an image id or reference, a volume name: no path tricks, no query strings */
const dockerRef: Check = (v, p) =>
  typeof v === 'string' && v.length <= 255 && /^[A-Za-z0-9][A-Za-z0-9_.:@/+-]*$/.test(v) && !v.includes('..') && !v.includes('//')
    ? null
    : `${p} must be a Docker id or name`;
const dockerRefs: Check = (v, p) =>
  Array.isArray(v) && v.length <= 500 ? (v.map((x, i) => dockerRef(x, `${p}[${i}]`)).find((e) => e !== null) ?? null) : `${p} must be a list of at most 500 ids`;

interface Shape {
  required: Record<string, Check>;
  optional: Record<string, Check>;
}
const shape = (required: Record<string, Check> = {}, optional: Record<string, Check> = {}): Shape => ({ required, optional });

export const PARAM_SHAPES: { [M in Method]: Shape } = {
  'vm.start': shape({}, { arch: oneOf('x86_64', 'aarch64'), cpus: int(1, 64), memoryGiB: num(1, 256) }),
  'vm.stop': shape({}, { force: bool, shutdown: bool }),
  'vm.restart': shape(),
  'vm.status': shape(),
  'vm.wake': shape(),
  'emulation.set': shape({ enabled: bool }),
  'emulation.status': shape(),
  'ports.list': shape(),
  'mounts.list': shape(),
  'settings.get': shape(),
  'settings.set': shape({ patch: anyObject }),
  'logs.tail': shape({ source: oneOf('events', 'serial', 'agent', 'supervisor') }, { lines: int(1, 10000) }),
  'console.open': shape({ cols: int(1, 1000), rows: int(1, 1000) }, { container: dockerRef }),
  'console.write': shape({ id: str(64), data: str(65536) }),
  'console.resize': shape({ id: str(64), cols: int(1, 1000), rows: int(1, 1000) }),
  'console.close': shape({ id: str(64) }),
  'console.show': shape({}, { container: dockerRef, name: str(255) }),
  'console.target': shape(),
  'containers.list': shape(),
  'containers.stats': shape({}, { ids: dockerRefs }),
  'containers.start': shape({ id: dockerRef }),
  'containers.stop': shape({ id: dockerRef }),
  'containers.restart': shape({ id: dockerRef }),
  'containers.remove': shape({ id: dockerRef }, { force: bool }),
  'containers.logs': shape({ id: dockerRef }, { tail: int(0, 10000), follow: bool }),
  'containers.logsClose': shape({ stream: str(64) }),
  'images.list': shape(),
  'images.remove': shape({ id: dockerRef }, { force: bool }),
  'images.prune': shape({}, { all: bool }),
  'volumes.list': shape(),
  'volumes.remove': shape({ name: dockerRef }, { force: bool }),
  'volumes.prune': shape(),
  'disk.usage': shape(),
  'disk.reclaim': shape({}, { containers: bool, images: oneOf('dangling', 'unused'), volumes: bool, buildCache: bool }),
};

export const METHODS = Object.keys(PARAM_SHAPES) as Method[];
export const EVENT_NAMES: EventName[] = ['status', 'progress', 'ports', 'mounts', 'log', 'console', 'containers', 'containerLogs'];

export function isMethod(m: unknown): m is Method {
  return typeof m === 'string' && Object.prototype.hasOwnProperty.call(PARAM_SHAPES, m);
}

/** Returns null when `params` fit `method`, else a BerthError naming the bad field. */
export function validateRequest(method: unknown, params: unknown): BerthError | null {
  if (!isMethod(method)) {
    return {
      code: 'E_UNKNOWN_METHOD',
      message: `unknown method ${JSON.stringify(String(method).slice(0, 64))}`,
      hint: `known methods: ${METHODS.join(', ')}`,
    };
  }
  const p = params === undefined || params === null ? {} : params;
  if (!isObj(p)) return { code: 'E_INVALID_PARAMS', message: `${method}: params must be an object` };
  const s = PARAM_SHAPES[method];
  for (const [k, check] of Object.entries(s.required)) {
    if (!Object.prototype.hasOwnProperty.call(p, k)) return { code: 'E_INVALID_PARAMS', message: `${method}: missing ${k}` };
    const e = check(p[k], k);
    if (e) return { code: 'E_INVALID_PARAMS', message: `${method}: ${e}` };
  }
  const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
  for (const k of Object.keys(p)) {
    if (own(s.required, k)) continue;
    const check = own(s.optional, k) ? s.optional[k] : undefined;
    if (!check) return { code: 'E_INVALID_PARAMS', message: `${method}: unknown parameter ${JSON.stringify(k.slice(0, 64))}` };
    const e = check(p[k], k);
    if (e) return { code: 'E_INVALID_PARAMS', message: `${method}: ${e}` };
  }
  return null;
}

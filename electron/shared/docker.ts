// What the app shows of Docker itself: containers, images, volumes and the disk. Pure types,
// filled in by the engine's Docker Engine API client (engine/docker) and carried by the contract.

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerPort {
  /** the port inside the container */
  privatePort: number;
  /** the published port on the VM (and, through Berth's forwarding, on this Mac's localhost) */
  publicPort?: number;
  hostIp?: string;
  type: 'tcp' | 'udp' | 'sctp';
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  imageId: string;
  state: ContainerState;
  /** Docker's own words, e.g. "Up 5 minutes", "Exited (0) 2 hours ago" */
  status: string;
  createdAt: string;
  /** when a running container last started (ISO), for its uptime */
  startedAt?: string;
  ports: ContainerPort[];
  /** `com.docker.compose.project` / `.service` labels: containers of one project are shown together */
  project?: string;
  service?: string;
  /** the image's architecture in Docker's words (amd64, arm64…), when known */
  arch?: string;
  /** the image is of another architecture than the VM: it runs under qemu-user emulation */
  emulated?: boolean;
  /** names of the volumes it mounts */
  volumes: string[];
}

export interface ContainerStats {
  id: string;
  /** of one CPU: 100 = one core busy */
  cpuPercent: number;
  memoryBytes: number;
  memoryLimitBytes: number;
}

export interface ImageInfo {
  id: string;
  /** repo:tag names; empty for a dangling image */
  tags: string[];
  sizeBytes: number;
  createdAt: string;
  arch: string;
  os: string;
  variant?: string;
  /** another architecture than the VM's */
  emulated: boolean;
  /**
   * how a container of it runs here: natively, under emulation, or not at all because emulation
   * is off (or failed)
   */
  runs: 'native' | 'emulated' | 'needs-emulation';
  dangling: boolean;
  /** containers (running or not) made from it */
  containers: number;
}

export interface VolumeInfo {
  name: string;
  driver: string;
  createdAt?: string;
  /** -1 when Docker did not compute it */
  sizeBytes: number;
  /** names of the containers (running or not) that mount it */
  usedBy: string[];
  project?: string;
}

export interface DfCategory {
  count: number;
  /** in use by at least one container */
  active: number;
  sizeBytes: number;
  reclaimableBytes: number;
}

export interface DiskUsage {
  /** the VM's disk file on the host: what it takes now (allocated blocks) and the most it can grow to */
  vmDisk: { path: string; allocatedBytes: number; virtualBytes: number } | null;
  /** Docker's `system df` */
  docker: { images: DfCategory; containers: DfCategory; volumes: DfCategory; buildCache: DfCategory } | null;
  /** why Docker's part is missing (not running, not answering) */
  dockerError?: { code: string; message: string; hint?: string };
}

export interface ReclaimChoice {
  /** stopped containers */
  containers?: boolean;
  /** dangling images, or every image no container uses */
  images?: 'dangling' | 'unused';
  /** volumes no container uses */
  volumes?: boolean;
  buildCache?: boolean;
}

export interface PruneResult {
  deleted: number;
  reclaimedBytes: number;
}

export interface ReclaimResult {
  steps: Array<{ what: 'containers' | 'images' | 'volumes' | 'buildCache' } & PruneResult>;
  reclaimedBytes: number;
  /** the VM disk file's allocated size before and right after (freed blocks return within seconds) */
  allocatedBefore?: number;
  allocatedAfter?: number;
}

/** A followed log: its lines as they come, then its end. */
export type ContainerLogEvent = { stream: string; lines: string[] } | { stream: string; end: true; reason?: string };

/** Docker's architecture name for the VM's. */
export function dockerArchOf(arch: 'x86_64' | 'aarch64'): string {
  return arch === 'x86_64' ? 'amd64' : 'arm64';
}

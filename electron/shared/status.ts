// Pure types and constants describing an instance's state. Imports nothing: shared/ is read by the
// engine, the Electron shell and the renderer alike.

export const VM_STATES = ['stopped', 'starting', 'running', 'stopping', 'error', 'degraded'] as const;
export type VmState = (typeof VM_STATES)[number];

export const ARCHES = ['x86_64', 'aarch64'] as const;
export type Arch = (typeof ARCHES)[number];

export type Accel = 'hvf' | 'kvm' | 'tcg';

/** The readiness ladder, in order (docs/architecture.md). Each step is one `progress`/`status` event. */
export const STEPS = [
  { name: 'image', label: 'Guest image ready', hint: 'Rebuild the image with `npm run image` or check the image cache.' },
  { name: 'disk', label: 'Disk ready', hint: 'Check free space and the disk files in the instance directory.' },
  { name: 'qemu', label: 'QEMU started', hint: 'See qemu.log in the instance directory for QEMU’s own error.' },
  { name: 'kernel', label: 'Kernel booted', hint: 'See serial.log in the instance directory for the boot console.' },
  { name: 'ssh', label: 'SSH up', hint: 'See serial.log (sshd and berth-boot lines) and agent.log.' },
  { name: 'boot-marker', label: 'Guest configured', hint: 'See serial.log for berth-boot errors.' },
  { name: 'docker', label: 'Docker answers', hint: 'Run `berth shell -- journalctl -u docker` to see dockerd’s log.' },
  { name: 'socket', label: 'Docker socket forwarded', hint: 'See agent.log; another process may hold docker.sock.' },
  { name: 'apply', label: 'Ports, mounts and emulation applied', hint: 'See agent.log.' },
] as const;
export type StepName = (typeof STEPS)[number]['name'];
export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface StepRecord {
  name: StepName;
  label: string;
  state: StepState;
  /** ms since the start began */
  startedAtMs?: number;
  durationMs?: number;
  detail?: string;
}

export const ERROR_CODES = [
  'E_CONFIG',
  'E_USAGE',
  'E_INVALID_PARAMS',
  'E_UNKNOWN_METHOD',
  'E_IMAGE',
  'E_DISK',
  'E_DISK_BASE',
  'E_QEMU',
  'E_QEMU_EXITED',
  'E_BOOT_TIMEOUT',
  'E_SSH',
  'E_DOCKER',
  'E_SOCKET',
  'E_BUSY',
  'E_NOT_RUNNING',
  'E_ALREADY_RUNNING',
  'E_PATH_TOO_LONG',
  'E_LOCKED',
  'E_AGENT',
  'E_EMULATION',
  'E_PORT',
  'E_MOUNT',
  'E_TIMEOUT',
  'E_INTERNAL',
  'E_DISCONNECTED',
  'E_TOOL_MISSING',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface BerthError {
  code: ErrorCode;
  message: string;
  hint?: string;
}

export interface VmError extends BerthError {
  step?: StepName;
  serialLog?: string;
  at: string;
}

export interface PortForward {
  protocol: 'tcp' | 'udp';
  guestPort: number;
  hostPort: number;
  /** the guest address the listener is bound to, e.g. 0.0.0.0, ::, 127.0.0.1 */
  guestAddress: string;
  source: 'docker' | 'guest';
  state: 'forwarding' | 'failed';
  reason?: string;
  container?: string;
}

export interface MountInfo {
  location: string;
  guestPath: string;
  writable: boolean;
  state: 'mounted' | 'failed' | 'pending';
  reason?: string;
}

export interface SelfTest {
  ok: boolean;
  output: string;
  interpreter: string;
  at: string;
}

export interface EmulationStatus {
  /** what the user asked for (berth.yaml) */
  enabled: boolean;
  state: 'enabled' | 'disabled' | 'failed' | 'unknown';
  foreignArch: Arch;
  selfTest?: SelfTest;
  reason?: string;
}

/** Which transport carries the host agent's traffic to the guest (docs/guest-channel.md). */
export interface GuestLinkStatus {
  transport: 'channel' | 'ssh';
  /** why SSH carries it when the channel was asked for (the channel did not come up) */
  note?: string;
}

export interface Status {
  instance: string;
  state: VmState;
  arch: Arch;
  accel?: Accel;
  /** e.g. "KVM unusable here (no serial output in 4 s); using TCG" */
  accelNote?: string;
  /** remembered accelerator failures that send starts on this host to TCG (`berth start --retry-accel` forgets them) */
  accelMemo?: AccelMemoInfo[];
  cpus: number;
  memoryGiB: number;
  diskGiB: number;
  dockerSocket: string;
  dockerHost: string;
  steps: StepRecord[];
  error?: VmError;
  pids: { supervisor?: number; qemu?: number; agent?: number };
  ports: PortForward[];
  mounts: MountInfo[];
  emulation: EmulationStatus;
  /** settings changed that take effect only after a restart */
  restartNeeded: boolean;
  startedAt?: string;
  /** ms from start request to Docker answering */
  readyMs?: number;
  diskUsage?: { fileBytes: number; virtualBytes: number };
  serialLog: string;
  /** a saved VM state on disk: the next start resumes from it instead of booting */
  saved?: SavedInfo;
  /** how the last start went: resumed from a saved state, or booted cold (and why) */
  resume?: ResumeInfo;
  /**
   * what the last start did with a VM its previous supervisor left paused, saving or loading
   * (e.g. "the save was cancelled and the VM runs on"); absent when it found nothing like that
   */
  adoptNote?: string;
  /** how the last stop went, e.g. suspended, or shut down because suspend was impossible */
  lastStop?: StopInfo;
  /** the engine's version and the compose/buildx plugins the user's docker CLI gets */
  dockerTools?: DockerTools;
  /** where tools written for Docker Desktop find this instance's socket (absent while stopped) */
  sockets?: SocketsStatus;
  /** how the host agent reaches the guest: the virtio-serial channel, or SSH (and why) */
  guestLink?: GuestLinkStatus;
  /** how the VM and its containers resolve names: through the host's resolver, or QEMU's (and why) */
  dns?: DnsStatus;
  /** the proxies and extra CAs the running VM booted with (dockerd, containerd, shells) */
  proxy?: ProxyStatus;
}

export interface ProxyStatus {
  /** as the VM uses them, credentials masked (http://***@10.0.2.2:3128) */
  http?: string;
  https?: string;
  noProxy?: string;
  /** set in berth.yaml (`proxy`), taken from the engine's environment, or none at all */
  source: 'berth.yaml' | 'environment' | 'none';
  /** e.g. a proxy on the host's loopback is reached at 10.0.2.2 from the VM */
  note?: string;
  /** extra CA certificates trusted (berth.yaml caCertificates) */
  caCertificates: number;
}

export interface DnsStatus {
  /** 'host': the engine's server answers from the host's resolver; 'qemu': QEMU's own DNS (reads /etc/resolv.conf) */
  via: 'host' | 'qemu';
  /** the engine's DNS server on the host's 127.0.0.1 (UDP and TCP) */
  port?: number;
  /** why it is QEMU's */
  reason?: string;
}

export interface SocketsStatus {
  /** /var/run/docker.sock (berth.yaml docker.defaultSocket) */
  defaultSocket?: {
    /** linked: it points at this instance; action: the user must run `command`; taken: it belongs to another Docker, left alone */
    state: 'linked' | 'action' | 'taken' | 'failed';
    /** one line for `berth status` and the dashboard */
    note: string;
    /** the exact command that makes the link (Linux without root) */
    command?: string;
  };
  /** docker.host in ~/.testcontainers.properties, which Testcontainers (Node, Java, Go) reads */
  testcontainers?: {
    /** written: Berth's line is there; off: not written (another context is current); taken: a docker.host Berth did not write */
    state: 'written' | 'off' | 'taken' | 'failed';
    file: string;
    note: string;
  };
  /** this instance's host-side socket path inside the VM, so `-v <it>:/var/run/docker.sock` reaches dockerd */
  inContainers?: { ok: boolean; path: string; note?: string };
}

export interface CliPluginInfo {
  /** 'berth': provided from Berth's own plugin folder; 'user': the user's own, left alone */
  source: 'berth' | 'user';
  path: string;
  version?: string;
}

export interface DockerTools {
  /** dockerd's version in the VM, e.g. 26.1.5 */
  engine?: string;
  apiVersion?: string;
  compose?: CliPluginInfo;
  buildx?: CliPluginInfo;
  /** why the plugins could not be set up, when they could not */
  note?: string;
}

export interface SavedInfo {
  at: string;
  bytes: number;
  /** containers stopped for the save because they held a shared folder; started again on resume */
  containersToRestart: string[];
}

export interface AccelMemoInfo {
  accel: Accel;
  guest: Arch;
  /** the QEMU build it was seen with (first line of --version): another build probes again */
  qemuVersion: string;
  reason: string;
  at: string;
  /** after this the accelerator is probed again */
  expires: string;
}

export interface ResumeInfo {
  resumed: boolean;
  /** why a saved state was not used (settings changed, disk changed, QEMU failed to load it…) */
  reason?: string;
  /** QEMU spawn → guest running again */
  loadMs?: number;
}

export interface StopInfo {
  how: 'suspend' | 'shutdown';
  at: string;
  ms: number;
  /** one line for the user: why it shut down instead of suspending, or what the suspend did */
  note?: string;
  bytes?: number;
}

export interface Progress {
  task: 'image' | 'boot' | 'download' | 'stop';
  label: string;
  step?: StepName;
  done?: number;
  total?: number;
  fraction?: number;
  rateBps?: number;
  etaS?: number;
}

export interface LogLine {
  source: 'events' | 'serial' | 'agent' | 'supervisor';
  line: string;
}

/** The VM runs (maybe with problems): Docker is, or is about to be, usable. */
export function isUpState(s: VmState | null | undefined): boolean {
  return s === 'running' || s === 'degraded';
}

export function foreignArchOf(arch: Arch): Arch {
  return arch === 'x86_64' ? 'aarch64' : 'x86_64';
}

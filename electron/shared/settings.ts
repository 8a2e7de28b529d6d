// The settings kept in <instance>/berth.yaml. Pure types and defaults; loading lives in the engine.
import type { Arch } from './status.js';

export interface MountSetting {
  location: string;
  writable: boolean;
  /** defaults to the same absolute path as `location` */
  guestPath?: string;
}

export interface Settings {
  arch: Arch;
  cpus: number;
  memoryGiB: number;
  diskGiB: number;
  mounts: MountSetting[];
  emulation: { enabled: boolean };
  ports: { ignore: number[]; map: Record<string, number> };
  /** suspend: Stop saves the VM's memory and Start resumes it (about a second); shutdown: power off */
  stopMode: 'shutdown' | 'suspend';
  /** macOS: suspend the VM to disk before the Mac sleeps (otherwise it is paused with the Mac) */
  suspendOnSleep: boolean;
  keepRunningOnQuit: boolean;
  /**
   * context: a `berth` docker context (made current only when the current one is missing or broken);
   * defaultSocket: /var/run/docker.sock links to this instance's socket while it runs (opt-in; a
   * socket or link that belongs to another Docker is left alone)
   */
  docker: { context: boolean; defaultSocket: boolean };
  /**
   * Proxies for dockerd, containerd and shells in the VM. Absent: the engine's HTTP_PROXY,
   * HTTPS_PROXY and NO_PROXY (or their lowercase forms); present (even `{}`): only these.
   */
  proxy?: ProxySetting;
  /** PEM files of extra CA certificates the VM and its dockerd trust (a corporate or test CA) */
  caCertificates: string[];
  /**
   * How the host agent reaches the guest: `channel`, the virtio-serial guest channel
   * (docs/guest-channel.md; SSH is still used when it does not come up), or `ssh` only.
   */
  guestTransport: 'channel' | 'ssh';
}

export interface ProxySetting {
  /** e.g. http://proxy.example:3128; a proxy on the host's loopback is reached from the VM at 10.0.2.2 */
  http?: string;
  https?: string;
  /** comma-separated hosts, domains (.example.com) and CIDRs that are reached directly */
  noProxy?: string;
}

/** Keys whose change needs a VM restart (QEMU arguments and the guest's seed are fixed at spawn). */
export const RESTART_KEYS = ['arch', 'cpus', 'memoryGiB', 'diskGiB', 'mounts', 'proxy', 'caCertificates', 'guestTransport'] as const;

export const LIMITS = {
  cpus: { min: 1, max: 64 },
  memoryGiB: { min: 1, max: 256 },
  diskGiB: { min: 8, max: 4096 },
} as const;

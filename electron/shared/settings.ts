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
  docker: { context: boolean };
}

/** Keys whose change needs a VM restart (QEMU arguments are fixed at spawn). */
export const RESTART_KEYS = ['arch', 'cpus', 'memoryGiB', 'diskGiB', 'mounts'] as const;

export const LIMITS = {
  cpus: { min: 1, max: 64 },
  memoryGiB: { min: 1, max: 256 },
  diskGiB: { min: 8, max: 4096 },
} as const;

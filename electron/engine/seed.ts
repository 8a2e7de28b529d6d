// The per-boot seed handed to the guest through QEMU fw_cfg (read by berth-boot in the guest).
// Values are base64 so no quoting can break the guest's shell parsing.
import type { Arch } from '../shared/status.js';
import { writeFileAtomic } from './atomic.js';

export interface SeedInput {
  hostname: string;
  bootId: string;
  authorizedKey: string;
  hostKey: string;
  hostKeyPub: string;
  mounts: { tag: string; guestPath: string; writable: boolean }[];
  emulation: boolean;
  guestArch: Arch;
}

/** 9p mount options, chosen by measurement (README "Mounts"). */
export const NINEP_OPTS = 'msize=512000,cache=mmap';

export function seedText(s: SeedInput): string {
  const b64 = (v: string) => Buffer.from(v, 'utf8').toString('base64');
  const mounts = s.mounts.map((m) => [m.tag, m.guestPath, m.writable ? 'rw' : 'ro', NINEP_OPTS].join('\t')).join('\n');
  const kv: Record<string, string> = {
    HOSTNAME: s.hostname,
    BOOT_ID: s.bootId,
    AUTHORIZED_KEY: s.authorizedKey + '\n',
    HOST_KEY: s.hostKey,
    HOST_KEY_PUB: s.hostKeyPub + '\n',
    MOUNTS: mounts ? mounts + '\n' : '',
    EMULATION: s.emulation ? 'on' : 'off',
    TIME: String(Date.now()),
  };
  return Object.entries(kv)
    .map(([k, v]) => `${k}=${b64(v)}`)
    .join('\n') + '\n';
}

export function writeSeed(file: string, s: SeedInput): void {
  writeFileAtomic(file, seedText(s), 0o600);
}

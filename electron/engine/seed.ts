// The per-boot seed handed to the guest through QEMU fw_cfg (read by berth-boot in the guest).
// Values are base64 so no quoting can break the guest's shell parsing.
import fs from 'node:fs';
import type { Arch, ProxyStatus } from '../shared/status.js';
import { writeFileAtomic } from './atomic.js';
import type { GuestProxy } from './proxy.js';

export interface SeedInput {
  hostname: string;
  bootId: string;
  authorizedKey: string;
  hostKey: string;
  hostKeyPub: string;
  mounts: { tag: string; guestPath: string; writable: boolean }[];
  emulation: boolean;
  guestArch: Arch;
  /** as the guest must use them (a proxy on the host's loopback already rewritten); none when absent */
  proxy?: GuestProxy;
  /** where the proxies came from, kept so a later status can say it */
  proxySource?: ProxyStatus['source'];
  /** extra CA certificates, PEM, appended to the guest's system bundle */
  caCertificates?: string;
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
    HTTP_PROXY: s.proxy?.http ?? '',
    HTTPS_PROXY: s.proxy?.https ?? '',
    NO_PROXY: s.proxy?.noProxy ?? '',
    PROXY_SOURCE: s.proxySource ?? 'none',
    CA_CERTS: s.caCertificates ?? '',
  };
  return Object.entries(kv)
    .map(([k, v]) => `${k}=${b64(v)}`)
    .join('\n') + '\n';
}

export function writeSeed(file: string, s: SeedInput): void {
  writeFileAtomic(file, seedText(s), 0o600);
}

/** The values of a seed file (decoded), or undefined when there is none. */
export function readSeed(file: string): Record<string, string> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = Buffer.from(line.slice(i + 1), 'base64').toString('utf8');
  }
  return out;
}

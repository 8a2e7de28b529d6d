// The per-boot settings QEMU hands the guest through fw_cfg (seed.ts writes them; berth-boot in the
// guest applies them): this boot's id and keys, the shares, emulation, the proxies and CAs.
import type { Settings } from '../../shared/settings.js';
import type { InstancePaths } from '../instance.js';
import { writeSeed } from '../seed.js';
import type { SeedInput } from '../seed.js';
import type { SshMaterial } from '../ssh-keys.js';
import type { TaggedMount } from './ladder.js';

export function writeBootSeed(
  paths: InstancePaths,
  b: { settings: Settings; bootId: string; ssh: SshMaterial; mounts: TaggedMount[]; proxy: Pick<SeedInput, 'proxy' | 'proxySource' | 'caCertificates'> },
): void {
  const { settings, bootId, ssh, mounts } = b;
  writeSeed(paths.seed, {
    hostname: 'berth',
    bootId,
    authorizedKey: ssh.clientPub,
    hostKey: ssh.hostKey,
    hostKeyPub: ssh.hostPub,
    mounts: mounts.map((m) => ({ tag: m.tag, guestPath: m.guestPath, writable: m.writable })),
    emulation: settings.emulation.enabled,
    guestArch: settings.arch,
    ...b.proxy,
  });
}

// Every command line the engine sends to the guest, built here and nowhere else. The guest's own
// tools are in its image (berth-emulation, berth-boot, the self-test busyboxes); what the engine
// adds around them is in scripts.ts. Pure strings: the host agent (which holds the SSH link) and
// Guest (which speaks to the agent) both use them.
import type { Arch } from '../../shared/status.js';
import { PORT_WATCH_SCRIPT, dnsRedirectScript } from './scripts.js';

import { BIND_DOCKER_SOCKET, UNBIND_DOCKER_SOCKET } from './socket-scripts.js';

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export const GUEST_COMMANDS = {
  /** a round trip that does nothing: how long a command takes to reach the guest */
  ping: 'true',
  /** the guest's clock as seconds.nanoseconds since the epoch */
  readClock: 'date -u +%s.%N',
  /** hwclock waits for the RTC's next second boundary (up to 1 s): it finishes on its own */
  setClock: (epochMs: number) => `date -u -s @${(epochMs / 1000).toFixed(3)} >/dev/null && { hwclock --systohc >/dev/null 2>&1 & }; true`,
  /** what berth-boot wrote for this boot: the host compares it with the boot it launched */
  bootId: 'cat /run/berth/boot-id 2>/dev/null',
  /** one line per share: tag, path, ok|failed, reason (tab-separated) */
  mountsStatus: 'cat /run/berth/mounts.status 2>/dev/null',
  /** the shares of /run/berth/mounts.tsv: mounted again after a resume, unmounted before a save */
  mountsUp: 'berth-mounts up',
  /** the bind of the Docker socket first: a mount inside a share keeps the share busy */
  mountsDown: `sh -c ${shellQuote(UNBIND_DOCKER_SOCKET)}; berth-mounts down`,
  emulation: (on: boolean) => `berth-emulation ${on ? 'on' : 'off'}`,
  emulationStatus: 'berth-emulation status',
  /** a static busybox of the other architecture run through binfmt, then the interpreter's version */
  emulationSelfTest: (foreign: Arch) => `/usr/share/berth/selftest/busybox-${foreign} uname -m; qemu-${foreign}-static --version | head -n1`,
  sync: 'sync',
  /** the VM's /run/docker.sock bound at the host-side socket path `hostPath`; prints "bound" */
  bindDockerSocket: (hostPath: string) => `sh -c ${shellQuote(BIND_DOCKER_SOCKET)} berth-socket ${shellQuote(hostPath)}`,
  /** QEMU's resolver redirected to the engine's DNS server at the host's `port` (null: not any more); prints the rules */
  dnsRedirect: (port: number | null) => `sh -c ${shellQuote(dnsRedirectScript(port))}`,
  /** the image's event-driven watcher (berth-portwatch: the kernel's socket tracepoints), else the polling script an older image needs */
  portWatch: `if command -v berth-portwatch >/dev/null 2>&1; then exec berth-portwatch; fi; exec bash -c ${shellQuote(PORT_WATCH_SCRIPT)}`,
} as const;

/** The boot id in the marker's output: its last line (a login shell may print a banner first). */
export function parseBootId(stdout: string): string | undefined {
  return stdout.trim().split('\n').pop()?.trim();
}

export interface GuestMount {
  tag: string;
  path: string;
  ok: boolean;
  reason?: string;
}

/** The lines of /run/berth/mounts.status. */
export function parseMountsStatus(stdout: string): GuestMount[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'))
    .map(([tag = '', path = '', state = '', reason = '']) => ({ tag, path, ok: state === 'ok', ...(reason ? { reason } : {}) }));
}

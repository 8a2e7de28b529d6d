/**
 * A host batch as commands for the guest's /dev/berth-fsnotify (resources/guest/kmod,
 * docs/mount-events.md): `<mask-hex> <cookie> <absolute guest path>`, one per write(). The masks are
 * what a local change raises, so watchers cannot tell a host edit from a guest one: a modify is
 * IN_MODIFY then IN_CLOSE_WRITE, as an editor's write-and-close; a folder's create or move carries
 * IN_ISDIR. Pure; the caller sends the lines.
 */
import path from 'node:path';
import type { Batch, Change } from './batcher.js';

export const IN = {
  MODIFY: 0x2,
  CLOSE_WRITE: 0x8,
  MOVED_FROM: 0x40,
  MOVED_TO: 0x80,
  CREATE: 0x100,
  DELETE: 0x200,
  ISDIR: 0x40000000,
} as const;

export interface DeviceLines {
  lines: string[];
  /** changes that cannot be sent: the share's root itself, or a name with a newline (a line each) */
  skipped: Change[];
}

function masks(c: Change): number[] {
  const dir = c.dir ? IN.ISDIR : 0;
  switch (c.kind) {
    case 'create':
      return [IN.CREATE | dir];
    case 'modify':
      return c.dir ? [] : [IN.MODIFY, IN.CLOSE_WRITE];
    case 'delete':
      return [IN.DELETE | dir];
    case 'rename-from':
      return [IN.MOVED_FROM | dir];
    case 'rename-to':
      return [IN.MOVED_TO | dir];
  }
}

/** `guestRoot` is where the share is mounted in the guest (an absolute POSIX path). */
export function deviceLines(batch: Batch, guestRoot: string): DeviceLines {
  const out: DeviceLines = { lines: [], skipped: [] };
  for (const c of batch.changes) {
    if (c.path === '' || /[\n\0]/.test(c.path)) {
      out.skipped.push(c);
      continue;
    }
    const full = path.posix.join(guestRoot, c.path);
    const cookie = c.kind === 'rename-from' || c.kind === 'rename-to' ? (c.cookie ?? 0) >>> 0 : 0;
    for (const m of masks(c)) out.lines.push(`${m.toString(16)} ${cookie} ${full}`);
  }
  return out;
}

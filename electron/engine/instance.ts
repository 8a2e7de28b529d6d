// The instance directory's paths: every path the engine uses is derived here (instance/ owns the
// files themselves; docs/architecture.md lists them).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CACHE_DIR, DEFAULT_INSTANCE, FILES, MAX_SOCKET_PATH } from '../shared/files.js';
import { BerthFailure } from './errors.js';

export function berthHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.BERTH_HOME || path.join(os.homedir(), '.berth'));
}

export type InstancePaths = { name: string; home: string; dir: string; cache: string } & {
  [K in keyof typeof FILES]: string;
};

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export function instancePaths(name: string = DEFAULT_INSTANCE, home: string = berthHome()): InstancePaths {
  if (!NAME_RE.test(name)) {
    throw new BerthFailure('E_USAGE', `invalid instance name ${JSON.stringify(name)}`, 'Use 1–32 characters: a-z, 0-9, "-" and "_", starting with a letter or digit.');
  }
  const dir = path.join(home, name);
  const files = Object.fromEntries(Object.entries(FILES).map(([k, v]) => [k, path.join(dir, v)])) as { [K in keyof typeof FILES]: string };
  return { name, home, dir, cache: path.join(home, CACHE_DIR), ...files };
}

/** Unix-socket paths must fit sun_path (104 bytes on macOS): fail early with the fix. */
export function checkSocketPaths(p: InstancePaths): void {
  for (const sock of [p.control, p.docker, p.qmp, p.qmpDebug, p.serialSock, p.guestSock]) {
    const len = Buffer.byteLength(sock);
    if (len > MAX_SOCKET_PATH) {
      throw new BerthFailure(
        'E_PATH_TOO_LONG',
        `socket path is ${len} bytes, over the ${MAX_SOCKET_PATH}-byte limit: ${sock}`,
        'Set BERTH_HOME to a shorter directory (the default ~/.berth is short on purpose) or use a shorter instance name.',
      );
    }
  }
}

export function ensureInstanceDir(p: InstancePaths): void {
  fs.mkdirSync(p.home, { recursive: true, mode: 0o700 });
  fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(p.dir, 'ssh'), { recursive: true, mode: 0o700 });
  privateTree(p.dir);
}

/**
 * The instance directory holds the VM's memory image, its serial console, keys and sockets: the
 * user's alone. Files an older Berth (or a QEMU run with umask 022) left readable by others are
 * closed here; new ones are created 0600 (0700 for directories) in the first place.
 */
export function privateTree(dir: string): void {
  const close = (f: string) => {
    try {
      const st = fs.lstatSync(f);
      if (st.mode & 0o077 && !st.isSymbolicLink()) fs.chmodSync(f, st.mode & 0o700);
    } catch {
      // vanished, or not ours to change: the 0700 directory still guards it
    }
  };
  close(dir);
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const d of entries) {
    if (d.isDirectory()) privateTree(path.join(dir, d.name));
    else close(path.join(dir, d.name));
  }
}

export function listInstances(home: string = berthHome()): string[] {
  try {
    return fs
      .readdirSync(home, { withFileTypes: true })
      .filter((d) => d.isDirectory() && NAME_RE.test(d.name))
      .map((d) => d.name);
  } catch {
    return [];
  }
}

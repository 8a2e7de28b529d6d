/**
 * Watches each mount's host folder recursively (@parcel/watcher: FSEvents on macOS, inotify on
 * Linux) and delivers coalesced batches of changes per mount, for the guest to raise as real
 * inotify events. The library reports create/update/delete only, so a rename arrives as a delete
 * of the old path and a create of the new one unless both ends carry the same inode (FSEvents
 * can report one); see docs/mount-events.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import parcelWatcher from '@parcel/watcher';
import { ChangeSet, EchoFilter, type Batch, type GuestWrite, type RawEvent } from './batcher.js';

export type { Batch, Change, ChangeKind, GuestWrite } from './batcher.js';

export type MountWatchReason =
  | 'watch-limit' // inotify's max_user_watches reached: some folders are not watched
  | 'fd-limit'
  | 'permission-denied'
  | 'root-vanished' // the mount's host folder was removed or moved away: watching stopped
  | 'root-replaced' // removed and made again: watched afresh, the guest should rescan it
  | 'watcher-failed';

export interface MountWatchProblem {
  mount: string;
  reason: MountWatchReason;
  message: string;
  hint?: string;
}

export interface MountWatchOptions {
  mount: string;
  /** The host folder shared as this mount. */
  root: string;
  onBatch(batch: Batch): void;
  onProblem(problem: MountWatchProblem): void;
  /** Quiet time that ends a batch. The library already waits ~50 ms before it reports. */
  windowMs?: number;
  /** A batch is delivered at the latest this long after its first change, even mid-burst. */
  maxWaitMs?: number;
  /** A batch is delivered once it holds this many paths. */
  maxBatch?: number;
  /** How long a guest-reported write suppresses host events on that path. */
  echoWindowMs?: number;
  /** How often the root is checked for having vanished or been replaced. */
  rootCheckMs?: number;
  /** Entries listed per batch from folders that appeared whole (moved in, or made faster than watched). */
  scanLimit?: number;
  ignore?: string[];
}

export interface MountWatchStats {
  state: 'watching' | 'failed' | 'closed';
  batches: number;
  changes: number;
  echoesDropped: number;
  lastProblem?: MountWatchProblem;
}

export interface MountWatch {
  readonly mount: string;
  /** Paths the guest just wrote (relative to the mount root): their host events are not sent back. */
  noteGuestWrites(writes: GuestWrite[]): void;
  /** Delivers what is pending now (a caller about to hand the guest a full rescan, tests). */
  flush(): void;
  stats(): MountWatchStats;
  close(): Promise<void>;
}

export function classifyWatchError(message: string): { reason: MountWatchReason; hint?: string } {
  if (/ENOSPC|No space left on device/i.test(message)) {
    return {
      reason: 'watch-limit',
      hint:
        process.platform === 'linux'
          ? 'The inotify watch limit is reached. Raise it: sudo sysctl fs.inotify.max_user_watches=1048576 (and in /etc/sysctl.d to keep it), or exclude large folders.'
          : 'The file-watch limit is reached; exclude large folders from this mount.',
    };
  }
  if (/EMFILE|Too many open files/i.test(message)) return { reason: 'fd-limit', hint: 'Raise the open-files limit (ulimit -n) or watch fewer folders.' };
  if (/EACCES|EPERM|Permission denied|Operation not permitted/i.test(message)) {
    return {
      reason: 'permission-denied',
      hint: process.platform === 'darwin' ? 'Give Berth access to this folder (System Settings → Privacy & Security → Files and Folders).' : undefined,
    };
  }
  if (/ENOENT|No such file or directory/i.test(message)) return { reason: 'root-vanished', hint: 'The shared folder no longer exists; make it again and restart the mount.' };
  return { reason: 'watcher-failed' };
}

let cookieCounter = 0;
const nextCookie = (): number => (cookieCounter = (cookieCounter % 0x7fffffff) + 1);

export async function watchMount(o: MountWatchOptions): Promise<MountWatch> {
  const windowMs = o.windowMs ?? 30;
  const maxWaitMs = o.maxWaitMs ?? 250;
  const maxBatch = o.maxBatch ?? 1000;
  const scanLimit = o.scanLimit ?? 10_000;
  const echoes = new EchoFilter(o.echoWindowMs ?? 1000);
  const st: MountWatchStats = { state: 'watching', batches: 0, changes: 0, echoesDropped: 0 };
  const pending = new ChangeSet();
  let seq = 0;
  let firstAt = 0;
  let quiet: NodeJS.Timeout | undefined;
  let sub: parcelWatcher.AsyncSubscription | undefined;
  let rootId: string | undefined;
  let limitReported = false;

  const problem = (reason: MountWatchReason, message: string, hint?: string): void => {
    const p: MountWatchProblem = hint ? { mount: o.mount, reason, message, hint } : { mount: o.mount, reason, message };
    st.lastProblem = p;
    o.onProblem(p);
  };

  // FSEvents reports real paths (/private/var/… for /var/…), so both spellings are cut off.
  const roots = [path.resolve(o.root)];
  try {
    const real = fs.realpathSync(o.root);
    if (real !== roots[0]) roots.push(real);
  } catch {
    /* reported by subscribe below */
  }
  const rel = (abs: string): string | undefined => {
    for (const r of roots) {
      if (abs === r) return '';
      if (abs.startsWith(r + path.sep)) return abs.slice(r.length + 1).split(path.sep).join('/');
    }
    return undefined;
  };

  const flush = (): void => {
    if (quiet) clearTimeout(quiet);
    quiet = undefined;
    firstAt = 0;
    if (pending.size === 0) return;
    const now = Date.now();
    const changes = pending.take(nextCookie).filter((c) => {
      if (!echoes.isEcho(c, now)) return true;
      st.echoesDropped++;
      return false;
    });
    echoes.prune(now);
    if (changes.length === 0) return;
    st.batches++;
    st.changes += changes.length;
    o.onBatch({ mount: o.mount, seq: ++seq, changes });
  };

  const schedule = (): void => {
    const now = Date.now();
    if (!firstAt) firstAt = now;
    if (pending.size >= maxBatch || now - firstAt >= maxWaitMs) return flush();
    if (quiet) clearTimeout(quiet);
    quiet = setTimeout(flush, Math.min(windowMs, maxWaitMs - (now - firstAt)));
  };

  // A folder that appears whole (moved in, or filled before the library watched it) has entries
  // no event will name; listing them keeps a batch's net effect equal to the host's state.
  const scanNewDir = (relDir: string, budget: { left: number }): boolean => {
    let subdirs = false;
    const stack = [relDir];
    while (stack.length && budget.left > 0) {
      const d = stack.pop()!;
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(path.join(roots[0], d), { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        if (budget.left-- <= 0) break;
        const p = d ? `${d}/${e.name}` : e.name;
        if (!pending.has(p)) pending.add({ path: p, type: 'create' }, e.isDirectory() || undefined);
        if (e.isDirectory()) {
          subdirs = true;
          stack.push(p);
        }
      }
    }
    return subdirs;
  };

  // The library watches a new folder when it sees it created, so a folder made inside a new folder
  // before that one was watched (mkdir -p, git checkout, npm install) is never watched by it, and
  // nothing inside it would ever be reported. Such a tree gets a subscription of its own, which
  // watches all of it; what appeared before that one was ready is listed once more.
  const extras = new Map<string, Promise<parcelWatcher.AsyncSubscription | undefined>>();
  const covered = (p: string): boolean => {
    for (const k of extras.keys()) if (p === k || p.startsWith(k + '/')) return true;
    return false;
  };
  const watchTree = (relDir: string): void => {
    const s = parcelWatcher
      .subscribe(path.join(roots[0], relDir), onEvents, o.ignore ? { ignore: o.ignore } : undefined)
      .then(
        (sub) => {
          if (extras.get(relDir) !== s) {
            void sub.unsubscribe().catch(() => undefined);
            return undefined;
          }
          scanNewDir(relDir, { left: scanLimit });
          if (pending.size) schedule();
          return sub;
        },
        (e: unknown) => {
          if (extras.get(relDir) === s) extras.delete(relDir);
          const message = e instanceof Error ? e.message : String(e);
          const c = classifyWatchError(message);
          // Gone again before it could be watched: its delete event says so.
          if (c.reason !== 'root-vanished') problem(c.reason, message, c.hint);
          return undefined;
        },
      );
    extras.set(relDir, s);
  };
  const unwatchTrees = (under?: string): void => {
    for (const [k, s] of extras) {
      if (under !== undefined && k !== under && !k.startsWith(under + '/')) continue;
      extras.delete(k);
      void s.then((sub) => sub?.unsubscribe()).catch(() => undefined);
    }
  };

  // Linux: the library keeps going silently when inotify_add_watch fails for a new folder, so a
  // watch of our own (fs.watch is inotify too, under the same per-user limit) probes the limit.
  const probeLimit = (relDir: string): void => {
    if (process.platform !== 'linux' || limitReported) return;
    try {
      fs.watch(path.join(roots[0], relDir)).close();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (code === 'ENOSPC') {
        limitReported = true;
        const { hint } = classifyWatchError('ENOSPC');
        problem('watch-limit', `inotify watch limit reached while watching new folders under ${o.root}; changes in them are not seen`, hint);
      }
    }
  };

  const identify = (): string | undefined => {
    try {
      const s = fs.statSync(o.root);
      return s.isDirectory() ? `${s.dev}:${s.ino}` : undefined;
    } catch {
      return undefined;
    }
  };

  const onEvents = (err: Error | null, events: parcelWatcher.Event[]): void => {
    if (st.state !== 'watching') return;
    if (err) {
      const { reason, hint } = classifyWatchError(err.message);
      problem(reason, err.message, hint);
    }
    let rootGone = false;
    let firstNewDir: string | undefined;
    const budget = { left: scanLimit };
    for (const e of events ?? []) {
      const p = rel(e.path);
      if (p === undefined) continue;
      if (p === '') {
        if (e.type === 'delete') rootGone = true;
        continue;
      }
      const raw: RawEvent = { path: p, type: e.type };
      const ino = (e as { ino?: string; fileId?: string }).fileId ?? (e as { ino?: string }).ino;
      if (ino !== undefined) raw.ino = String(ino);
      let dir: boolean | undefined;
      if (e.type === 'create') {
        try {
          dir = fs.lstatSync(e.path).isDirectory();
        } catch {
          dir = undefined; // gone again already: a later delete event settles it
        }
      }
      pending.add(raw, dir);
      if (e.type === 'delete' && extras.size) unwatchTrees(p);
      if (dir) {
        firstNewDir ??= p;
        if (scanNewDir(p, budget) && !covered(p)) watchTree(p);
      }
    }
    if (firstNewDir !== undefined) probeLimit(firstNewDir);
    if (rootGone) checkRoot(true);
    if (pending.size) schedule();
  };

  const subscribe = async (): Promise<boolean> => {
    try {
      sub = await parcelWatcher.subscribe(o.root, onEvents, o.ignore ? { ignore: o.ignore } : undefined);
      return true;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const { reason, hint } = classifyWatchError(message);
      st.state = 'failed';
      problem(reason, message, hint);
      return false;
    }
  };

  let checking = false;
  /** @param deleted the library saw the root go: a folder there now is a new one even if its inode number was reused. */
  const checkRoot = (deleted = false): void => {
    if (checking || st.state !== 'watching') return;
    checking = true;
    const id = identify();
    const done = (): void => {
      checking = false;
    };
    if (id === undefined) {
      flush();
      st.state = 'failed';
      unwatchTrees();
      problem('root-vanished', `${o.root} no longer exists; watching it stopped`, 'Make the folder again and restart the mount.');
      void sub?.unsubscribe().catch(() => undefined).finally(done);
      sub = undefined;
      return;
    }
    if (id !== rootId || deleted) {
      // Removed and made again: the old watches point at the old folder.
      rootId = id;
      flush();
      problem('root-replaced', `${o.root} was replaced by a new folder; watching it afresh`);
      const old = sub;
      sub = undefined;
      unwatchTrees();
      void (old?.unsubscribe() ?? Promise.resolve())
        .catch(() => undefined)
        .then(subscribe)
        .then((ok) => {
          // What the new folder already holds was made before the new watch could see it.
          if (!ok) return;
          scanNewDir('', { left: scanLimit });
          if (pending.size) schedule();
        })
        .finally(done);
      return;
    }
    done();
  };

  rootId = identify();
  const timer = setInterval(() => checkRoot(), o.rootCheckMs ?? 1000);
  timer.unref();
  if (rootId === undefined) {
    st.state = 'failed';
    clearInterval(timer);
    const { hint } = classifyWatchError('ENOENT');
    problem('root-vanished', `${o.root} does not exist or is not a folder`, hint);
  } else if (!(await subscribe())) {
    clearInterval(timer);
  }

  return {
    mount: o.mount,
    noteGuestWrites: (writes) => echoes.note(writes, Date.now()),
    flush,
    stats: () => ({ ...st }),
    close: async () => {
      clearInterval(timer);
      if (quiet) clearTimeout(quiet);
      if (st.state === 'watching') st.state = 'closed';
      const s = sub;
      sub = undefined;
      const trees = [...extras.values()];
      extras.clear();
      await Promise.all([s?.unsubscribe(), ...trees.map((t) => t.then((x) => x?.unsubscribe()))]);
    },
  };
}

/** Watches every mount; each one's problems are its own (one failing folder stops no other). */
export async function watchMounts(
  mounts: { mount: string; root: string }[],
  handlers: Pick<MountWatchOptions, 'onBatch' | 'onProblem'> & Partial<MountWatchOptions>,
): Promise<MountWatch[]> {
  return Promise.all(mounts.map((m) => watchMount({ ...handlers, ...m })));
}

/**
 * Coalesces raw host file events of one mount into bounded batches that end in the final state,
 * and drops echoes of writes the guest itself made. Pure (timers come from the caller's clock),
 * so the rules are tested without a file system.
 */

export type ChangeKind = 'create' | 'modify' | 'delete' | 'rename-from' | 'rename-to';

export interface Change {
  /** Relative to the mount's root, '/'-separated; '' is the root itself. */
  path: string;
  kind: ChangeKind;
  /** Set on creates the watcher confirmed are directories (the guest raises IN_CREATE|IN_ISDIR). */
  dir?: boolean;
  /** Pairs a rename-from with its rename-to (the inotify cookie in the guest). */
  cookie?: number;
}

export interface Batch {
  mount: string;
  /** Increases by one per delivered batch of this mount. */
  seq: number;
  changes: Change[];
}

/** A raw event as the watcher library reports it (path already relative). */
export interface RawEvent {
  path: string;
  type: 'create' | 'update' | 'delete';
  /** Inode or file id, when the library reports one (FSEvents can); pairs renames. */
  ino?: string;
}

interface Pending {
  /** Existed before this batch began (as far as the events tell): decides create+delete = nothing. */
  existedBefore: boolean;
  existsNow: boolean;
  modified: boolean;
  dir?: boolean;
  ino?: string;
}

/**
 * Per path only the net effect survives: create→modify is a create, create→delete vanishes,
 * delete→create is a modify (an editor's atomic save), modify→delete is a delete.
 */
export class ChangeSet {
  private readonly byPath = new Map<string, Pending>();

  get size(): number {
    return this.byPath.size;
  }

  add(e: RawEvent, dir?: boolean): void {
    let p = this.byPath.get(e.path);
    if (!p) {
      p = { existedBefore: e.type !== 'create', existsNow: e.type !== 'delete', modified: e.type === 'update' };
      this.byPath.set(e.path, p);
    } else if (e.type === 'create') {
      p.existsNow = true;
    } else if (e.type === 'delete') {
      p.existsNow = false;
      p.modified = false;
    } else {
      p.existsNow = true;
      p.modified = true;
    }
    if (dir !== undefined) p.dir = dir;
    if (e.ino !== undefined) p.ino = e.ino;
  }

  has(path: string): boolean {
    return this.byPath.has(path);
  }

  /** The net changes in first-seen order; renames paired when both ends carry the same inode. */
  take(nextCookie: () => number): Change[] {
    const out: Change[] = [];
    const deletedByIno = new Map<string, number>();
    for (const [path, p] of this.byPath) {
      let kind: ChangeKind | undefined;
      if (p.existedBefore && !p.existsNow) kind = 'delete';
      else if (!p.existedBefore && p.existsNow) kind = 'create';
      else if (p.existedBefore && p.existsNow) kind = 'modify';
      if (!kind) continue;
      const c: Change = { path, kind };
      if (p.dir) c.dir = true;
      if (kind === 'delete' && p.ino) deletedByIno.set(p.ino, out.length);
      if (kind === 'create' && p.ino && deletedByIno.has(p.ino)) {
        const from = out[deletedByIno.get(p.ino)!];
        const cookie = nextCookie();
        from.kind = 'rename-from';
        from.cookie = cookie;
        c.kind = 'rename-to';
        c.cookie = cookie;
        deletedByIno.delete(p.ino);
      }
      out.push(c);
    }
    this.byPath.clear();
    return out;
  }
}

export interface GuestWrite {
  path: string;
  /** Omitted: any kind of event on the path within the window is the guest's echo. */
  kind?: 'write' | 'delete';
}

/**
 * Paths the guest reported writing. The host watcher sees the guest's own writes (they land on
 * the host through 9p) and must not send them back, or the guest would see every write twice.
 * A host edit of the same path within the window is merged with the echo: the cost of not
 * comparing contents, kept small by a short window.
 */
export class EchoFilter {
  private readonly until = new Map<string, { until: number; kind?: GuestWrite['kind'] }>();

  constructor(private readonly windowMs: number) {}

  note(writes: GuestWrite[], now: number): void {
    for (const w of writes) this.until.set(w.path, { until: now + this.windowMs, kind: w.kind });
  }

  isEcho(c: Change, now: number): boolean {
    const e = this.until.get(c.path);
    if (!e) return false;
    if (e.until < now) {
      this.until.delete(c.path);
      return false;
    }
    if (!e.kind) return true;
    const isDelete = c.kind === 'delete' || c.kind === 'rename-from';
    return e.kind === 'delete' ? isDelete : !isDelete;
  }

  prune(now: number): void {
    for (const [p, e] of this.until) if (e.until < now) this.until.delete(p);
  }
}

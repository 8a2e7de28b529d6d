// The coalescing rules of a mount's change batches and the guest-echo filter, without a file system.
import { describe, expect, it } from 'vitest';
import { ChangeSet, EchoFilter } from '../../../electron/engine/mounts/batcher.js';

let cookie = 0;
const next = () => ++cookie;

describe('mount change batches', () => {
  it('keep only the net effect per path, in first-seen order', () => {
    const s = new ChangeSet();
    s.add({ path: 'new', type: 'create' });
    s.add({ path: 'new', type: 'update' }); // create→modify = create
    s.add({ path: 'tmp', type: 'create' });
    s.add({ path: 'tmp', type: 'delete' }); // create→delete = nothing
    s.add({ path: 'saved', type: 'delete' });
    s.add({ path: 'saved', type: 'create' }); // delete→create = modify (an atomic save)
    s.add({ path: 'old', type: 'update' });
    s.add({ path: 'old', type: 'delete' }); // modify→delete = delete
    s.add({ path: 'dir', type: 'create' }, true);
    expect(s.take(next)).toEqual([
      { path: 'new', kind: 'create' },
      { path: 'saved', kind: 'modify' },
      { path: 'old', kind: 'delete' },
      { path: 'dir', kind: 'create', dir: true },
    ]);
    expect(s.size).toBe(0);
  });

  it('pair a delete and a create of the same inode as a rename with one cookie', () => {
    const s = new ChangeSet();
    s.add({ path: 'a.txt', type: 'delete', ino: '42' });
    s.add({ path: 'other', type: 'create', ino: '7' });
    s.add({ path: 'b.txt', type: 'create', ino: '42' });
    const [from, other, to] = s.take(next);
    expect(from).toMatchObject({ path: 'a.txt', kind: 'rename-from' });
    expect(to).toMatchObject({ path: 'b.txt', kind: 'rename-to', cookie: from.cookie });
    expect(other).toEqual({ path: 'other', kind: 'create' });
  });

  it('leave a rename as delete+create when the library gives no inode', () => {
    const s = new ChangeSet();
    s.add({ path: 'a', type: 'delete' });
    s.add({ path: 'b', type: 'create' });
    expect(s.take(next)).toEqual([
      { path: 'a', kind: 'delete' },
      { path: 'b', kind: 'create' },
    ]);
  });
});

describe('guest echo filter', () => {
  it('drops host events for paths the guest just wrote, and only within its window', () => {
    const f = new EchoFilter(100);
    f.note([{ path: 'w' }, { path: 'gone', kind: 'delete' }, { path: 'x', kind: 'write' }], 1000);
    expect(f.isEcho({ path: 'w', kind: 'modify' }, 1050)).toBe(true);
    expect(f.isEcho({ path: 'gone', kind: 'delete' }, 1050)).toBe(true);
    // The guest wrote x; a delete of x is not its echo.
    expect(f.isEcho({ path: 'x', kind: 'delete' }, 1050)).toBe(false);
    expect(f.isEcho({ path: 'other', kind: 'modify' }, 1050)).toBe(false);
    expect(f.isEcho({ path: 'w', kind: 'modify' }, 1200)).toBe(false);
  });
});

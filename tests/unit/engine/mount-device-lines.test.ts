// A host batch as /dev/berth-fsnotify commands: the masks the module was checked with in a real
// guest (docs/mount-events.md, "Verified in a VM"), the guest path, what cannot be sent.
import { describe, expect, it } from 'vitest';
import { deviceLines } from '../../../electron/engine/mounts/device-lines.js';

const root = '/Users/ana/src';

describe('mount device lines', () => {
  it('give each change the masks a local change raises, at the same path in the guest', () => {
    const r = deviceLines(
      {
        mount: root,
        seq: 1,
        changes: [
          { path: 'app/index.js', kind: 'modify' },
          { path: 'app/new.js', kind: 'create' },
          { path: 'app/lib', kind: 'create', dir: true },
          { path: 'app/old.js', kind: 'delete' },
          { path: 'a.txt', kind: 'rename-from', cookie: 7 },
          { path: 'b.txt', kind: 'rename-to', cookie: 7 },
        ],
      },
      root,
    );
    expect(r.lines).toEqual([
      '2 0 /Users/ana/src/app/index.js',
      '8 0 /Users/ana/src/app/index.js',
      '100 0 /Users/ana/src/app/new.js',
      '40000100 0 /Users/ana/src/app/lib',
      '200 0 /Users/ana/src/app/old.js',
      '40 7 /Users/ana/src/a.txt',
      '80 7 /Users/ana/src/b.txt',
    ]);
    expect(r.skipped).toEqual([]);
  });

  it('keep names with spaces and non-ASCII characters whole, and skip what a line cannot carry', () => {
    const r = deviceLines(
      {
        mount: root,
        seq: 2,
        changes: [
          { path: 'dossier été/naïve file.txt', kind: 'create' },
          { path: 'bad\nname', kind: 'create' },
          { path: '', kind: 'modify' },
          { path: 'lib', kind: 'modify', dir: true },
        ],
      },
      root,
    );
    expect(r.lines).toEqual(['100 0 /Users/ana/src/dossier été/naïve file.txt']);
    expect(r.skipped.map((c) => c.path)).toEqual(['bad\nname', '']);
  });
});

// The host side of mount events: real folders watched by the real library, batches as delivered.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { watchMount, type Batch, type Change, type MountWatch, type MountWatchProblem } from '../../../electron/engine/mounts/watch.js';
import { removeScratch, scratch } from './helpers/stand-ins.js';

afterAll(removeScratch);

const open: MountWatch[] = [];
afterEach(async () => {
  for (const w of open.splice(0)) await w.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function watched(opts: { rootCheckMs?: number } = {}) {
  const root = scratch('berth-mw-');
  const batches: Batch[] = [];
  const problems: MountWatchProblem[] = [];
  const w = await watchMount({ mount: 'm', root, onBatch: (b) => batches.push(b), onProblem: (p) => problems.push(p), ...opts });
  open.push(w);
  const changes = (): Change[] => batches.flatMap((b) => b.changes);
  const has = (p: string, kinds: string[]) => changes().some((c) => c.path === p && kinds.includes(c.kind));
  return { root, w, batches, problems, changes, has };
}

/** Every file and folder under root, '/'-separated. */
function listing(root: string, rel = ''): Set<string> {
  const out = new Set<string>();
  for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    out.add(p);
    if (e.isDirectory()) for (const q of listing(root, p)) out.add(q);
  }
  return out;
}

/** What a consumer that applies the batches in order believes is there. */
function apply(model: Set<string>, batches: Batch[]): Set<string> {
  for (const b of batches) {
    for (const c of b.changes) {
      if (c.kind === 'delete' || c.kind === 'rename-from') {
        model.delete(c.path);
        for (const p of [...model]) if (p.startsWith(c.path + '/')) model.delete(p);
      } else {
        model.add(c.path);
      }
    }
  }
  return model;
}

describe('mount watcher', () => {
  it('reports a create, a modify and a delete, each as its own kind', async () => {
    const { root, has, problems } = await watched();
    const f = path.join(root, 'app.js');
    fs.writeFileSync(f, 'one');
    await until('create', () => has('app.js', ['create']));
    fs.appendFileSync(f, 'two');
    await until('modify', () => has('app.js', ['modify']));
    fs.unlinkSync(f);
    await until('delete', () => has('app.js', ['delete']));
    fs.mkdirSync(path.join(root, 'src'));
    await until('folder create', () => has('src', ['create']));
    expect(problems).toEqual([]);
  });

  it('reports a rename as the old path gone and the new one there', async () => {
    const { root, has, changes } = await watched();
    fs.writeFileSync(path.join(root, 'a.txt'), 'x');
    await until('create', () => has('a.txt', ['create']));
    fs.renameSync(path.join(root, 'a.txt'), path.join(root, 'b.txt'));
    await until('rename', () => has('a.txt', ['delete', 'rename-from']) && has('b.txt', ['create', 'rename-to']));
    const to = changes().find((c) => c.path === 'b.txt' && c.kind !== 'create');
    if (to) expect(changes().find((c) => c.path === 'a.txt' && c.kind === 'rename-from')?.cookie).toBe(to.cookie);
  });

  it('lists the files of a folder that was filled before it could be watched', async () => {
    const { root, has } = await watched();
    const outside = scratch('berth-mw-src-');
    fs.mkdirSync(path.join(outside, 'pkg', 'lib'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'pkg', 'lib', 'index.js'), 'x');
    fs.renameSync(path.join(outside, 'pkg'), path.join(root, 'pkg'));
    await until('moved-in folder contents', () => has('pkg', ['create', 'rename-to']) && has('pkg/lib/index.js', ['create']));
  });

  it('keeps seeing changes in folders made inside a new folder faster than it could be watched', async () => {
    const { root, has } = await watched();
    for (let i = 0; i < 20; i++) fs.mkdirSync(path.join(root, `new${i}`, 'deep', 'er'), { recursive: true });
    await until('the folders', () => has('new19/deep/er', ['create']));
    await sleep(300);
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(root, `new${i}`, 'deep', 'er', 'late.txt'), 'x');
    await until('the files written later in each', () => Array.from({ length: 20 }, (_, i) => `new${i}/deep/er/late.txt`).every((p) => has(p, ['create'])));
  });

  it('delivers a 5,000-file burst in a bounded number of batches that end in the final state', async () => {
    const { root, batches, problems } = await watched();
    for (let d = 0; d < 50; d++) {
      fs.mkdirSync(path.join(root, `d${d}`));
      for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(root, `d${d}`, `f${i}.ts`), `export const v = ${i};\n`);
    }
    for (let d = 0; d < 10; d++) for (let i = 0; i < 50; i++) fs.appendFileSync(path.join(root, `d${d}`, `f${i}.ts`), '// edited\n');
    for (let d = 10; d < 15; d++) for (let i = 0; i < 100; i++) fs.unlinkSync(path.join(root, `d${d}`, `f${i}.ts`));
    for (let i = 0; i < 100; i++) fs.renameSync(path.join(root, 'd20', `f${i}.ts`), path.join(root, 'd21', `moved${i}.ts`));
    fs.rmdirSync(path.join(root, 'd10'));
    const want = listing(root);
    let seen = -1;
    await until(
      'the batches to settle on the final state',
      () => {
        const n = batches.length;
        const settled = n === seen;
        seen = n;
        if (!settled) return false;
        const got = apply(new Set(), batches);
        return got.size === want.size && [...want].every((p) => got.has(p));
      },
      30_000,
    );
    expect(batches.length).toBeLessThan(100);
    expect(batches.map((b) => b.seq)).toEqual(batches.map((_, i) => i + 1));
    expect(problems).toEqual([]);
  }, 40_000);

  it('does not send back the paths the guest reported writing', async () => {
    const { root, w, has } = await watched();
    w.noteGuestWrites([{ path: 'from-guest.txt', kind: 'write' }]);
    fs.writeFileSync(path.join(root, 'from-guest.txt'), 'guest');
    fs.writeFileSync(path.join(root, 'from-host.txt'), 'host');
    await until('the host write', () => has('from-host.txt', ['create']));
    await sleep(300);
    expect(has('from-guest.txt', ['create', 'modify'])).toBe(false);
    expect(w.stats().echoesDropped).toBeGreaterThanOrEqual(1);
  });

  it('reports a removed root as root-vanished and stops', async () => {
    const { root, w, problems } = await watched({ rootCheckMs: 200 });
    fs.rmSync(root, { recursive: true });
    await until('the problem', () => problems.length > 0);
    expect(problems[0]).toMatchObject({ mount: 'm', reason: 'root-vanished' });
    expect(w.stats().state).toBe('failed');
  });

  it('watches a root that was removed and made again afresh, and says so', async () => {
    const { root, problems, has } = await watched({ rootCheckMs: 200 });
    fs.writeFileSync(path.join(root, 'before.txt'), 'x');
    await until('the first file', () => has('before.txt', ['create']));
    fs.rmSync(root, { recursive: true });
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'early.txt'), 'x');
    await until('the problem', () => problems.length > 0);
    expect(problems[0]).toMatchObject({ reason: 'root-replaced' });
    await until('the old contents gone and what the new folder held at once', () => has('before.txt', ['delete']) && has('early.txt', ['create']));
    await sleep(200);
    fs.writeFileSync(path.join(root, 'after.txt'), 'x');
    await until('a change in the new folder', () => has('after.txt', ['create']));
  });

  it('reports a root that does not exist', async () => {
    const problems: MountWatchProblem[] = [];
    const w = await watchMount({ mount: 'm', root: path.join(scratch('berth-mw-'), 'missing'), onBatch: () => undefined, onProblem: (p) => problems.push(p) });
    open.push(w);
    expect(problems).toMatchObject([{ reason: 'root-vanished' }]);
    expect(w.stats().state).toBe('failed');
  });
});

// The watch limit is per user namespace (/proc/sys/user/max_inotify_watches): a child in its own
// namespace gets a tiny one without touching this machine's.
const userns = process.platform === 'linux' && spawnSync('unshare', ['-Ur', 'true']).status === 0;

describe.runIf(userns)('mount watcher at the inotify watch limit', () => {
  const ENGINE = path.resolve(import.meta.dirname, '../../../electron/engine/mounts');

  function runLimited(limit: number, script: string): MountWatchProblem[] {
    const dir = scratch('berth-mw-limit-');
    for (const f of ['watch.ts', 'batcher.ts']) {
      const js = ts.transpileModule(fs.readFileSync(path.join(ENGINE, f), 'utf8'), { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
      fs.writeFileSync(path.join(dir, f.replace(/\.ts$/, '.js')), js);
    }
    fs.symlinkSync(path.resolve(import.meta.dirname, '../../../node_modules'), path.join(dir, 'node_modules'));
    fs.writeFileSync(path.join(dir, 'child.mjs'), script);
    const r = spawnSync('unshare', ['-Ur', 'sh', '-c', `echo ${limit} > /proc/sys/user/max_inotify_watches && exec node child.mjs`], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as MountWatchProblem[];
  }

  const prelude = `
    import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
    import { watchMount } from './watch.js';
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-mw-'));
    const problems = [];
    const start = () => watchMount({ mount: 'm', root, onBatch: () => {}, onProblem: (p) => problems.push(p) });
    const done = async (w) => { await w.close(); fs.rmSync(root, { recursive: true }); console.log(JSON.stringify(problems)); };
  `;

  it('reports watch-limit when the tree needs more watches than allowed', () => {
    const problems = runLimited(8, `${prelude}
      for (let i = 0; i < 20; i++) fs.mkdirSync(path.join(root, 'd' + i));
      const w = await start();
      await done(w);`);
    expect(problems).toMatchObject([{ reason: 'watch-limit' }]);
    expect(problems[0].hint).toMatch(/max_user_watches/);
  });

  it('reports watch-limit when new folders run past the limit while watching', () => {
    const problems = runLimited(6, `${prelude}
      const w = await start();
      for (let i = 0; i < 10; i++) { fs.mkdirSync(path.join(root, 'n' + i)); await new Promise((r) => setTimeout(r, 100)); }
      await new Promise((r) => setTimeout(r, 300));
      await done(w);`);
    expect(problems).toMatchObject([{ reason: 'watch-limit' }]);
  });
});

// The supervisor lock: one supervisor per instance, even when several processes find a lock left
// by a dead one at the same moment (the app and `berth start` racing after a crash).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquirePidLock, clearStaleLock, releasePidLock } from '../../../electron/engine/pid-lock.js';
import { removeScratch, scratch } from './helpers/stand-ins.js';

afterAll(removeScratch);

const ENGINE = path.resolve(import.meta.dirname, '../../../electron/engine');

/** A pid that no process has any more. */
function deadPid(): number {
  return spawnSync('true').pid!;
}

function tmpDir(): string {
  return scratch('berth-lock-');
}

describe('supervisor lock', () => {
  it('is refused while a live process holds it, and taken from a dead one', () => {
    const dir = tmpDir();
    const lock = path.join(dir, 'supervisor.pid');
    fs.writeFileSync(lock, String(process.ppid));
    expect(acquirePidLock(lock)).toBe(false);
    expect(fs.readFileSync(lock, 'utf8')).toBe(String(process.ppid));
    fs.writeFileSync(lock, String(deadPid()));
    expect(acquirePidLock(lock)).toBe(true);
    expect(fs.readFileSync(lock, 'utf8')).toBe(String(process.pid));
    expect(acquirePidLock(lock)).toBe(true); // ours already
    releasePidLock(lock, process.pid + 1); // not that one's to release
    expect(fs.existsSync(lock)).toBe(true);
    releasePidLock(lock);
    expect(fs.existsSync(lock)).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a taker that died mid-takeover does not block the next one', () => {
    const dir = tmpDir();
    const lock = path.join(dir, 'supervisor.pid');
    fs.writeFileSync(lock, String(deadPid()));
    const gone = deadPid();
    fs.mkdirSync(`${lock}.takeover`);
    const long = new Date(Date.now() - 60_000);
    fs.utimesSync(`${lock}.takeover`, long, long);
    fs.writeFileSync(`${lock}.${gone}.new`, String(gone));
    expect(acquirePidLock(lock)).toBe(true);
    releasePidLock(lock);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a status check clears a dead holder\'s lock and never a live one', () => {
    const dir = tmpDir();
    const lock = path.join(dir, 'supervisor.pid');
    fs.writeFileSync(lock, String(process.ppid));
    clearStaleLock(lock);
    expect(fs.existsSync(lock)).toBe(true);
    fs.writeFileSync(lock, String(deadPid()));
    clearStaleLock(lock);
    expect(fs.existsSync(lock)).toBe(false);
  });

  describe('three processes racing for a stale lock', () => {
    const racers: { child: ChildProcess; lines: AsyncIterator<string> }[] = [];

    beforeAll(async () => {
      // The lock module and its one import, compiled as they are, run in separate Node processes.
      const out = tmpDir();
      for (const f of ['pid.ts', 'pid-lock.ts']) {
        const js = ts.transpileModule(fs.readFileSync(path.join(ENGINE, f), 'utf8'), { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
        fs.writeFileSync(path.join(out, f.replace(/\.ts$/, '.js')), js);
      }
      fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
      fs.writeFileSync(
        path.join(out, 'racer.js'),
        `import readline from 'node:readline';
import { acquirePidLock } from './pid-lock.js';
console.log('ready');
for await (const lock of readline.createInterface({ input: process.stdin })) console.log(acquirePidLock(lock) ? 'won' : 'lost');
`,
      );
      for (let i = 0; i < 3; i++) {
        const child = spawn(process.execPath, [path.join(out, 'racer.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
        const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
        racers.push({ child, lines });
      }
      for (const r of racers) expect((await r.lines.next()).value).toBe('ready');
    });

    afterAll(() => {
      for (const r of racers) r.child.kill('SIGKILL');
    });

    it('exactly one wins, every time', async () => {
      const root = tmpDir();
      const dead = deadPid();
      for (let round = 0; round < 150; round++) {
        const lock = path.join(root, `r${round}`, 'supervisor.pid');
        fs.mkdirSync(path.dirname(lock));
        fs.writeFileSync(lock, String(dead));
        for (const r of racers) r.child.stdin!.write(lock + '\n');
        const results = await Promise.all(racers.map(async (r) => (await r.lines.next()).value as string));
        const winners = racers.filter((_, i) => results[i] === 'won');
        expect(winners.length, `round ${round}: ${results.join(' ')}`).toBe(1);
        expect(fs.readFileSync(lock, 'utf8')).toBe(String(winners[0]!.child.pid));
        expect(fs.readdirSync(path.dirname(lock))).toEqual(['supervisor.pid']);
      }
    });
  });
});

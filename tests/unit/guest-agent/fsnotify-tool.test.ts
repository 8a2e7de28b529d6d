// The guest's berth-fsnotify tool (resources/guest/kmod/tool), built natively: it hands each stdin
// line to the device in one write and counts what the device answered. The module's own answers
// (EEXIST for an echo, ENOENT for a gone folder) need the guest kernel (docs/mount-events.md);
// here a plain file takes every write and /dev/full refuses every one.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const src = path.resolve(__dirname, '../../../resources/guest/kmod/tool/berth-fsnotify.c');
let dir = '';
let bin = '';
const run = (args: string[], input = '') => spawnSync(bin, args, { input, encoding: 'utf8' });

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fsnotify-'));
  bin = path.join(dir, 'berth-fsnotify');
  execFileSync('gcc', ['-std=c11', '-Os', '-Wall', '-Wextra', '-Werror', '-o', bin, src], { stdio: 'pipe' });
});

describe('berth-fsnotify (guest tool)', () => {
  it('writes every line to the device, blank lines skipped, and counts them delivered', () => {
    const dev = path.join(dir, 'dev-ok');
    fs.writeFileSync(dev, '');
    const r = run(['--device', dev], '100 0 /Users/ana/src/a.js\n\n2 0 /Users/ana/src/b.js\r\n8 0 /Users/ana/src/b.js');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('delivered 3 echoes 0 missing 0 failed 0\n');
    // one command per write, without the newline (the module takes a write as one command)
    expect(fs.readFileSync(dev, 'utf8')).toBe('100 0 /Users/ana/src/a.js2 0 /Users/ana/src/b.js8 0 /Users/ana/src/b.js');
  });

  it('counts refused lines as failed and names the first ones with their errno', () => {
    const lines = Array.from({ length: 7 }, (_, i) => `100 0 /s/f${i}`).join('\n');
    const r = run(['--device', '/dev/full', '--watch', '/s'], lines);
    expect(r.status).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out[0]).toBe('delivered 0 echoes 0 missing 0 failed 8');
    expect(out.slice(1)).toEqual(['error ENOSPC W /s', 'error ENOSPC 100 0 /s/f0', 'error ENOSPC 100 0 /s/f1', 'error ENOSPC 100 0 /s/f2', 'error ENOSPC 100 0 /s/f3']);
  });

  it('exits 3 with a hint when the device is missing (the module is not loaded), 2 on bad usage', () => {
    const r = run(['--device', path.join(dir, 'no-such-device')]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/cannot open .*no-such-device: No such file or directory \(is the berth_fsnotify module loaded\?\)/);
    expect(run(['--nope']).status).toBe(2);
  });
});

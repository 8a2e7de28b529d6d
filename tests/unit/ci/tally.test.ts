// How tests/run-all.sh counts: the tally reporters run against small real test files by the real
// vitest and Playwright. A test that did not run because its beforeAll failed is a failure, not a
// skip; a failing afterAll or a file that cannot load fails too; with CI set a stray `.only` fails.
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Tally } from '../../tally-reporter.mjs';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const BIN = path.join(ROOT, 'node_modules', '.bin');
// Each case starts a test runner in a child process (1–2 s idle, far more on a loaded machine).
const SPAWN_BUDGET = 60_000;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A throwaway project: the given files plus node_modules (a link to ours). */
function project(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tally-'));
  dirs.push(dir);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

async function run(tool: 'vitest' | 'playwright', dir: string, env: Record<string, string> = {}): Promise<{ code: number | undefined; tally: Tally }> {
  const out = path.join(dir, 'tally.json');
  const args =
    tool === 'vitest'
      ? ['run', '--root', dir, '--reporter', path.join(ROOT, 'tests/tally-reporter.mts')]
      : ['test', '-c', path.join(dir, 'pw.config.mts'), '--reporter', path.join(ROOT, 'tests/tally-playwright.mts')];
  const { CI: _ci, ...base } = process.env;
  const r = await execa(path.join(BIN, tool), args, { cwd: dir, env: { ...base, ...env, BERTH_TALLY_FILE: out }, extendEnv: false, reject: false, timeout: SPAWN_BUDGET - 5000 });
  expect(fs.existsSync(out), `${tool} wrote no tally:\n${r.stdout}\n${r.stderr}`).toBe(true);
  return { code: r.exitCode, tally: JSON.parse(fs.readFileSync(out, 'utf8')) as Tally };
}

const V = "import { afterAll, beforeAll, describe, expect, it } from 'vitest';\n";

describe('the vitest tally', () => {
  it(
    'counts tests behind a failed beforeAll as failed, a failing afterAll and an unloadable file once each, and skips apart',
    async () => {
      const dir = project({
        'hook.test.ts': `${V}beforeAll(() => { throw new Error('boot failed'); });\nit('one', () => expect(1).toBe(1));\nit('two', () => expect(1).toBe(1));\n`,
        'inner.test.ts': `${V}describe('inner', () => { beforeAll(() => { throw new Error('inner hook'); }); it('x', () => {}); });\nit('outside', () => {});\n`,
        'mixed.test.ts': `${V}it('ok', () => {});\nit.skip('skipped', () => {});\nit.todo('todo');\nit('dynamic', (ctx) => ctx.skip());\nit('fails', () => expect(1).toBe(2));\n`,
        'cleanup.test.ts': `${V}afterAll(() => { throw new Error('cleanup failed'); });\nit('fine', () => {});\n`,
        'load.test.ts': `${V}import './missing-module.js';\nit('never', () => {});\n`,
      });
      const { code, tally } = await run('vitest', dir);
      expect(code).toBe(1);
      // passed: outside, ok, fine; failed: one, two, x, fails, cleanup, load; skipped: skipped, todo, dynamic
      expect(tally).toMatchObject({ passed: 3, failed: 6, skipped: 3 });
      expect(tally.problems.sort()).toEqual([
        'cleanup.test.ts: cleanup failed',
        'hook.test.ts: boot failed (2 tests did not run)',
        'inner.test.ts > inner: inner hook (1 tests did not run)',
        expect.stringMatching(/^load\.test\.ts: .*missing-module/),
      ]);
      expect(tally.files.map((f) => f.file).sort()).toEqual(['cleanup.test.ts', 'hook.test.ts', 'inner.test.ts', 'load.test.ts', 'mixed.test.ts']);
    },
    SPAWN_BUDGET,
  );

  it(
    'with CI set, a stray .only fails the run',
    async () => {
      const dir = project({ 'focus.test.ts': `${V}it.only('focused', () => {});\nit('other', () => {});\n` });
      const { code, tally } = await run('vitest', dir, { CI: '1' });
      expect(code).toBe(1);
      expect(tally).toMatchObject({ passed: 0, failed: 1 });
    },
    SPAWN_BUDGET,
  );

  it('no suite config turns allowOnly back on (vitest disables it when CI is set)', async () => {
    for (const f of fs.readdirSync(path.join(ROOT, 'tests')).filter((n) => /^vitest\..*\.mts$/.test(n))) {
      const config = ((await import(path.join(ROOT, 'tests', f))) as { default: { test?: { allowOnly?: boolean } } }).default;
      expect(config.test?.allowOnly, f).toBeUndefined();
    }
    expect(fs.readFileSync(path.join(ROOT, '.ci/run'), 'utf8')).toMatch(/^export CI=1$/m);
  });
});

const P = "import { expect, test } from '@playwright/test';\n";
const PW_CONFIG = "import { defineConfig } from '@playwright/test';\nexport default defineConfig({ testDir: '.', workers: 1, retries: 0, forbidOnly: !!process.env.CI });\n";

describe('the Playwright tally', () => {
  it(
    'counts tests that did not run after a failed beforeAll as failed, and test.skip as skipped',
    async () => {
      const dir = project({
        'pw.config.mts': PW_CONFIG,
        'a.spec.ts': `${P}test.describe('group', () => {\n  test.beforeAll(() => { throw new Error('boot failed'); });\n  test('one', () => {});\n  test('two', () => {});\n});\ntest('fine', () => expect(1).toBe(1));\ntest('no binary', () => { test.skip(true, 'no binary here'); });\n`,
      });
      const { code, tally } = await run('playwright', dir);
      expect(code).toBe(1);
      expect(tally).toMatchObject({ passed: 1, failed: 2, skipped: 1 });
      expect(tally.problems).toEqual(['a.spec.ts > group > two: did not run']);
    },
    SPAWN_BUDGET,
  );

  it(
    'with CI set, a stray test.only fails the run (the e2e config sets forbidOnly from CI)',
    async () => {
      const dir = project({ 'pw.config.mts': PW_CONFIG, 'b.spec.ts': `${P}test.only('focused', () => {});\ntest('other', () => {});\n` });
      const { code, tally } = await run('playwright', dir, { CI: '1' });
      expect(code).toBe(1);
      expect(tally.failed).toBe(1);
      expect(tally.problems[0]).toMatch(/forbidOnly/);
      expect(fs.readFileSync(path.join(ROOT, 'tests/e2e/playwright.config.mts'), 'utf8')).toMatch(/forbidOnly: !!process\.env\.CI/);
    },
    SPAWN_BUDGET,
  );
});

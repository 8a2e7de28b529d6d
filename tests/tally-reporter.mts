// A vitest reporter for tests/run-all.sh: writes {passed, failed, skipped, problems} to the file
// named by BERTH_TALLY_FILE. Vitest's own counts call a test "skipped" when its beforeAll failed
// and do not count a failing afterAll or a file that could not load; here each of those fails.
import fs from 'node:fs';
import type { Reporter, SerializedError, TestCase, TestModule, TestRunEndReason, TestSuite } from 'vitest/node';

export interface Tally {
  passed: number;
  failed: number;
  skipped: number;
  /** One line per failure that is not a failed assertion in a test (a hook, a load error, a crash). */
  problems: string[];
  /** Each file's wall time (its hooks and tests), for the time budget in run-all.sh's summary. */
  files: { file: string; seconds: number }[];
}

/** The suites and the module a test sits in, nearest first. */
function ancestors(t: TestCase): (TestSuite | TestModule)[] {
  const out: (TestSuite | TestModule)[] = [];
  for (let p: TestSuite | TestModule = t.parent; ; p = p.parent) {
    out.push(p);
    if (p.type === 'module') return out;
  }
}

const nameOf = (s: TestSuite | TestModule) => (s.type === 'module' ? s.relativeModuleId : `${s.module.relativeModuleId} > ${s.fullName}`);

export function tally(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>, reason: TestRunEndReason): Tally {
  const t: Tally = { passed: 0, failed: 0, skipped: 0, problems: [], files: [] };
  // A suite or module with errors of its own: a hook, or the file failed to load.
  const broken = new Map<TestSuite | TestModule, number>();
  for (const m of modules) {
    t.files.push({ file: m.relativeModuleId, seconds: Math.round(m.diagnostic().duration / 100) / 10 });
    for (const s of [m, ...m.children.allSuites()]) if (s.errors().length) broken.set(s, 0);
    for (const test of m.children.allTests()) {
      const r = test.result();
      if (r.state === 'passed') t.passed++;
      else if (r.state === 'failed') t.failed++;
      else if (r.state === 'pending') {
        t.failed++;
        t.problems.push(`${test.fullName}: did not finish`);
      } else {
        // Skipped on purpose (.skip, .todo, ctx.skip()) — or skipped because a hook above it failed.
        const cause = test.options.mode === 'run' || test.options.mode === 'only' ? ancestors(test).find((a) => broken.has(a)) : undefined;
        if (cause) {
          t.failed++;
          broken.set(cause, broken.get(cause)! + 1);
        } else t.skipped++;
      }
    }
  }
  for (const [s, tests] of broken) {
    const msg = s.errors()[0]?.message ?? 'error';
    t.problems.push(`${nameOf(s)}: ${msg.split('\n')[0]}${tests ? ` (${tests} tests did not run)` : ''}`);
    // A failing afterAll, or a file that loads no tests: one failure, so it cannot pass unseen.
    if (!tests) t.failed++;
  }
  for (const e of unhandled) {
    t.failed++;
    t.problems.push(`unhandled error: ${e.message.split('\n')[0]}`);
  }
  if (reason === 'interrupted') {
    t.failed++;
    t.problems.push('the run was interrupted');
  }
  return t;
}

export default class TallyReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandled: ReadonlyArray<SerializedError>, reason: TestRunEndReason): void {
    const file = process.env.BERTH_TALLY_FILE;
    if (file) fs.writeFileSync(file, JSON.stringify(tally(modules, unhandled, reason)) + '\n');
  }
}

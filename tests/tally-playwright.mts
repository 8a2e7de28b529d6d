// The Playwright twin of tests/tally-reporter.mts: writes {passed, failed, skipped, problems, files}
// to BERTH_TALLY_FILE. A test that "did not run" because a hook or an earlier test in its serial
// group failed is a failure; only a test skipped on purpose (test.skip) counts as skipped.
import fs from 'node:fs';
import path from 'node:path';
import type { FullConfig, FullResult, Reporter, TestCase, TestError, TestResult } from '@playwright/test/reporter';
import type { Tally } from './tally-reporter.mjs';

export default class TallyPlaywright implements Reporter {
  private root = '';
  private readonly tests = new Map<TestCase, TestResult>();
  private readonly errors: TestError[] = [];
  private readonly started = Date.now();

  onBegin(config: FullConfig): void {
    this.root = config.rootDir;
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    this.tests.set(test, result);
  }

  onError(error: TestError): void {
    this.errors.push(error);
  }

  onEnd(result: FullResult): void {
    const t: Tally = { passed: 0, failed: 0, skipped: 0, problems: [], files: [] };
    const perFile = new Map<string, number>();
    for (const [test, r] of this.tests) {
      const file = path.relative(this.root, test.location.file);
      perFile.set(file, (perFile.get(file) ?? 0) + r.duration);
      const outcome = test.outcome();
      if (outcome === 'expected' && test.expectedStatus !== 'skipped') t.passed++;
      else if (outcome === 'skipped' && test.expectedStatus === 'skipped') t.skipped++;
      else {
        t.failed++;
        if (outcome === 'skipped') t.problems.push(`${test.titlePath().filter(Boolean).join(' > ')}: did not run`);
      }
    }
    for (const e of this.errors) {
      t.failed++;
      t.problems.push(`${(e.message ?? String(e.value)).split('\n')[0]}`);
    }
    if (result.status === 'interrupted' || result.status === 'timedout') {
      t.failed++;
      t.problems.push(`the run ${result.status === 'timedout' ? 'timed out' : 'was interrupted'}`);
    }
    // A run that failed with nothing counted (a crash in the runner) still fails.
    if (result.status === 'failed' && t.failed === 0) {
      t.failed++;
      t.problems.push('playwright reported a failed run with no failed test');
    }
    t.files = [...perFile].map(([file, ms]) => ({ file, seconds: Math.round(ms / 100) / 10 }));
    if (!t.files.length) t.files.push({ file: '(all)', seconds: Math.round((Date.now() - this.started) / 100) / 10 });
    const out = process.env.BERTH_TALLY_FILE;
    if (out) fs.writeFileSync(out, JSON.stringify(t) + '\n');
  }

  printsToStdio(): boolean {
    return false;
  }
}

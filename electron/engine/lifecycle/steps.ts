// The readiness steps of one start (STEPS in shared/status.ts), with their timings: each change is
// journaled as a `step` event, reported as boot progress, and seen in the next status.
import type { Events } from '../../shared/contract.js';
import type { JournalEvents } from '../../shared/journal.js';
import { stepProgress } from '../../shared/progress.js';
import { STEPS } from '../../shared/status.js';
import type { StepName, StepRecord, StepState } from '../../shared/status.js';

export interface StepOutputs {
  journal(kind: 'step', data: JournalEvents['step']): void;
  progress(p: Events['progress']): void;
  changed(): void;
}

function pending(): StepRecord[] {
  return STEPS.map((s) => ({ name: s.name, label: s.label, state: 'pending' }));
}

export class StepTracker {
  private records: StepRecord[] = pending();
  private t0 = 0;

  constructor(private readonly out: StepOutputs) {}

  /** A new start: every step pending, times counted from now. */
  begin(): void {
    this.t0 = Date.now();
    this.records = pending();
  }

  /** Every step pending again (a way up given up, a stop); the start's clock runs on. */
  reset(): void {
    this.records = pending();
  }

  /** Since the start began. */
  elapsedMs(): number {
    return Date.now() - this.t0;
  }

  stateOf(name: StepName): StepState | undefined {
    return this.records.find((s) => s.name === name)?.state;
  }

  snapshot(): StepRecord[] {
    return this.records.map((x) => ({ ...x }));
  }

  update(name: StepName, state: StepState, detail?: string): void {
    const st = this.records.find((s) => s.name === name);
    if (!st) return;
    const now = Date.now() - this.t0;
    if (state === 'running') st.startedAtMs = now;
    if ((state === 'done' || state === 'failed') && st.startedAtMs !== undefined) st.durationMs = now - st.startedAtMs;
    if ((state === 'done' || state === 'failed') && st.startedAtMs === undefined) {
      st.startedAtMs = now;
      st.durationMs = 0;
    }
    st.state = state;
    if (detail !== undefined) st.detail = detail;
    this.out.journal('step', { step: name, state, ...(st.durationMs !== undefined && state !== 'running' ? { ms: st.durationMs } : {}), ...(detail ? { detail } : {}) });
    this.out.progress(stepProgress(name, state));
    this.out.changed();
  }
}

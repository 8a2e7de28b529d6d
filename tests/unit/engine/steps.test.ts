// The readiness steps of a start: what the journal, the progress bar and the status see.
import { describe, expect, it } from 'vitest';
import { StepTracker } from '../../../electron/engine/lifecycle/steps.js';
import type { Events } from '../../../electron/shared/contract.js';
import type { JournalEvents } from '../../../electron/shared/journal.js';
import { STEPS } from '../../../electron/shared/status.js';

describe('readiness steps', () => {
  it('each change is journaled with its time, shown as progress, and in the snapshot; reset makes every step pending', () => {
    const journal: JournalEvents['step'][] = [];
    const progress: Events['progress'][] = [];
    let changes = 0;
    const t = new StepTracker({ journal: (_k, d) => void journal.push(d), progress: (p) => void progress.push(p), changed: () => void changes++ });
    t.begin();
    t.update('image', 'running');
    t.update('image', 'done', 'x86_64 abc');
    t.update('disk', 'done', 'reused');
    expect(journal.map((e) => [e.step, e.state, e.detail])).toEqual([
      ['image', 'running', undefined],
      ['image', 'done', 'x86_64 abc'],
      ['disk', 'done', 'reused'],
    ]);
    expect(journal[1]!.ms).toBeGreaterThanOrEqual(0);
    expect(journal[2]).toMatchObject({ ms: 0 });
    expect(progress.at(-1)).toMatchObject({ task: 'boot', step: 'disk', done: 2, total: STEPS.length });
    expect(changes).toBe(3);
    expect(t.snapshot().slice(0, 3).map((s) => s.state)).toEqual(['done', 'done', 'pending']);
    expect(t.stateOf('disk')).toBe('done');
    t.reset();
    expect(t.snapshot().every((s) => s.state === 'pending')).toBe(true);
  });
});

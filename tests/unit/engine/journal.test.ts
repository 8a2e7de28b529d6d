// The journal (events.jsonl) read back by kind, by the engine and by the bench's plain-Node reader:
// what the engine appended is what both read, a torn or foreign line is no event.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../../electron/engine/event-log.js';
import { JOURNAL_KINDS, ofKind, parseJournal } from '../../../electron/shared/journal.js';
// @ts-expect-error: the bench is plain JavaScript without declarations
import { lastStop, readJournal, stepTimes } from '../../../bench/lib/journal.mjs';
import { removeScratch, scratch } from './helpers/stand-ins.js';

afterAll(removeScratch);

function journal(): { file: string; log: EventLog } {
  const file = path.join(scratch('berth-journal-'), 'events.jsonl');
  return { file, log: new EventLog(file) };
}

describe('journal', () => {
  it('reads back what was appended, by kind, skipping a torn last line and lines of no known kind', () => {
    const { file, log } = journal();
    log.append('state', { state: 'starting', arch: 'x86_64' });
    log.append('step', { step: 'qemu', state: 'done', ms: 12, detail: 'tcg pid 7' });
    fs.appendFileSync(file, JSON.stringify({ ts: '2026-01-01T00:00:00.000Z', kind: 'made-up', x: 1 }) + '\n');
    fs.appendFileSync(file, JSON.stringify({ kind: 'state', state: 'running' }) + '\n');
    log.append('state', { state: 'stopped', how: 'suspend', ms: 900, bytes: 4096 });
    fs.appendFileSync(file, '{"ts":"2026-01-01T00:00:01.000Z","kind":"st');
    const events = EventLog.readLast(file);
    expect(events.map((e) => e.kind)).toEqual(['state', 'step', 'state']);
    const steps = events.filter(ofKind('step'));
    expect(steps[0]).toMatchObject({ step: 'qemu', state: 'done', ms: 12, detail: 'tcg pid 7' });
    expect(parseJournal(fs.readFileSync(file, 'utf8'))).toEqual(events);
  });

  it('the bench reads the same events: step times from spawn and how the last stop went', () => {
    const { file, log } = journal();
    const wall0 = Date.now() - 1;
    log.append('state', { state: 'starting' });
    log.append('step', { step: 'image', state: 'running' });
    log.append('step', { step: 'image', state: 'done', ms: 3 });
    log.append('state', { state: 'stopped', how: 'suspend', ms: 50, bytes: 123 });
    fs.appendFileSync(file, '{"ts":');
    expect((readJournal(file) as { kind: string }[]).map((e) => e.kind)).toEqual(['state', 'step', 'step', 'state']);
    const at = stepTimes(file, wall0) as { running: Record<string, number>; done: Record<string, number> };
    expect(Object.keys(at.running)).toEqual(['image']);
    expect(Object.keys(at.done)).toEqual(['image']);
    expect(lastStop(file)).toEqual({ how: 'suspend', bytes: 123 });
    expect(JOURNAL_KINDS).toEqual(expect.arrayContaining(['state', 'step']));
  });
});

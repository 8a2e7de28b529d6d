// An instance's events.jsonl read back by kind. The kinds and their fields are the journal
// (electron/shared/journal.ts); the bench runs as plain Node, so it reads the lines here the way
// parseJournal does: whole JSON lines with a timestamp and a kind, torn lines skipped.
import fs from 'node:fs';

/** @returns {{ ts: string, kind: string, [k: string]: unknown }[]} oldest first */
export function readJournal(file) {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line);
      if (e && typeof e.ts === 'string' && typeof e.kind === 'string') out.push(e);
    } catch {
      // a torn last line
    }
  }
  return out;
}

/** When each readiness step began and finished, in ms since `wall0`, from its `step` events. */
export function stepTimes(file, wall0) {
  const out = { running: {}, done: {} };
  for (const e of readJournal(file)) {
    if (e.kind !== 'step' || (e.state !== 'done' && e.state !== 'running')) continue;
    const t = Date.parse(e.ts);
    if (t >= wall0 - 5) out[e.state][e.step] ??= t - wall0;
  }
  return out;
}

/** How the last stop went (powerdown, suspend, …) and, for a suspend, the state's size: the last `state: stopped`. */
export function lastStop(file) {
  const e = readJournal(file)
    .reverse()
    .find((x) => x.kind === 'state' && x.state === 'stopped');
  return { how: e?.how ?? null, bytes: e?.bytes ?? null };
}

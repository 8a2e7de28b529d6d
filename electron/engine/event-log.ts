// events.jsonl: an append-only JSON-lines log of everything the supervisor does, which the UI and
// `berth logs` can tail and from which `berth status` derives the last known state offline.
// Its kinds and their fields are the journal (shared/journal.ts).
import fs from 'node:fs';
import { parseJournal } from '../shared/journal.js';
import type { JournalEvent, JournalEventOf, JournalEvents, JournalKind } from '../shared/journal.js';

export type LoggedEvent = JournalEvent;

export class EventLog {
  constructor(private readonly file: string) {}

  append<K extends JournalKind>(kind: K, data: JournalEvents[K]): JournalEventOf<K> {
    const ev = { ts: new Date().toISOString(), kind, ...data } as unknown as JournalEventOf<K>;
    try {
      fs.appendFileSync(this.file, JSON.stringify(ev) + '\n', { mode: 0o600 });
    } catch {
      // The instance dir may have been deleted under us (berth delete); events are best-effort.
    }
    return ev;
  }

  static readLast(file: string, maxBytes = 256 * 1024): JournalEvent[] {
    const tail = readTail(file, maxBytes);
    if (tail === null) return [];
    // A cut-off first line is dropped by JSON.parse below, like a torn last line after a crash.
    // So is a torn last line after a crash.
    return parseJournal(tail.text);
  }
}

/** The last `maxBytes` of a file as text (null when it cannot be read). */
function readTail(file: string, maxBytes: number): { text: string; cut: boolean } | null {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const start = Math.max(0, size - maxBytes);
      const buf = Buffer.alloc(size - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      return { text: buf.toString('utf8'), cut: start > 0 };
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return null;
  }
}

/** Last `n` lines of a text file, read from the end (logs can be large). */
export function tailFile(file: string, n: number, maxBytes = 1024 * 1024): string[] {
  const tail = readTail(file, maxBytes);
  if (tail === null) return [];
  const lines = tail.text.split(/\r?\n/);
  if (tail.cut) lines.shift();
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n);
}

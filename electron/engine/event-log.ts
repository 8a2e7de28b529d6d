// events.jsonl: an append-only JSON-lines log of everything the supervisor does, which the UI and
// `berth logs` can tail and from which `berth status` derives the last known state offline.
import fs from 'node:fs';

export interface LoggedEvent {
  ts: string;
  kind: string;
  [k: string]: unknown;
}

export class EventLog {
  constructor(private readonly file: string) {}

  append(kind: string, data: Record<string, unknown> = {}): LoggedEvent {
    const ev: LoggedEvent = { ts: new Date().toISOString(), kind, ...data };
    try {
      fs.appendFileSync(this.file, JSON.stringify(ev) + '\n', { mode: 0o600 });
    } catch {
      // The instance dir may have been deleted under us (berth delete); events are best-effort.
    }
    return ev;
  }

  static readLast(file: string, maxBytes = 256 * 1024): LoggedEvent[] {
    let text = '';
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const start = Math.max(0, size - maxBytes);
        const buf = Buffer.alloc(size - start);
        fs.readSync(fd, buf, 0, buf.length, start);
        text = buf.toString('utf8');
        if (start > 0) text = text.slice(text.indexOf('\n') + 1);
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      return [];
    }
    const out: LoggedEvent[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as LoggedEvent);
      } catch {
        // a torn last line after a crash: skip it
      }
    }
    return out;
  }
}

/** Last `n` lines of a text file, read from the end (logs can be large). */
export function tailFile(file: string, n: number, maxBytes = 1024 * 1024): string[] {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const start = Math.max(0, size - maxBytes);
      const buf = Buffer.alloc(size - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      const lines = buf.toString('utf8').split(/\r?\n/);
      if (lines[lines.length - 1] === '') lines.pop();
      return lines.slice(-n);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
}

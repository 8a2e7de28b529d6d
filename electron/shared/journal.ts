// The journal: every kind of line in an instance's events.jsonl, with its fields. The engine
// writes them (EventLog.append is typed per kind), and the CLI, the offline status, the bench and
// the tests read them back through parseJournal — by kind name, never by matching text.
import type { Accel, Arch, StepName, StepState, VmError, VmState } from './status.js';

/** Fields of each kind of event (besides `ts` and `kind`). */
export interface JournalEvents {
  /** the state machine moved; the extras say why or how */
  state: {
    state: VmState;
    arch?: Arch;
    readyMs?: number;
    accel?: Accel;
    adopted?: boolean;
    resumed?: boolean;
    loadMs?: number;
    cancelled?: boolean;
    error?: VmError;
    force?: boolean;
    mode?: 'shutdown' | 'suspend';
    /** how the VM went: powerdown, SIGTERM, SIGKILL, suspend, not running */
    how?: string;
    ms?: number;
    note?: string;
    bytes?: number;
    agent?: 'restarted';
    /** a VM whose supervisor had died, stopped by the CLI */
    orphan?: boolean;
  };
  /** a readiness step began, finished or failed */
  step: { step: StepName; state: StepState; ms?: number; detail?: string };
  'start-cancelled': { step: StepName };
  'qemu-binary': { path: string; source: string; version: string; notes: string[] };
  'qemu-exit': { code: number | null; signal: string | null };
  'qmp-event': { event: string };
  'accel-fallback': { from: Accel; reason: string; remembered: boolean };
  'accel-remembered': { accel: Accel; reason: string };
  adopt: { pid: number };
  'adopt-settled': { outcome: 'continued' | 'suspend-finished' | 'suspend-cancelled' | 'discarded'; note: string };
  resumed: { loadMs: number; savedAt: string; bytes: number };
  'resume-skipped': { reason: string };
  'remount-failed': { stderr: string };
  /** the VM's Docker socket could not be bound at the host-side socket path */
  'socket-bind-failed': { path: string; reason: string };
  'containers-stopped-for-suspend': { names: string[] };
  'containers-restarted': { names: string[]; failed: string[] };
  suspended: { ms: number; bytes: number; containersStopped: string[] };
  'suspend-failed': { reason: string };
  'saved-discarded': { why: string };
  'clock-sync': { why: string; ok: boolean; skewMs: number | null; oneWayMs: number };
  /** host:guest:state of every forward */
  ports: { ports: string[] };
  ssh: { up: boolean; reason?: string };
  /** the transport the host agent chose: the guest channel, or SSH and why */
  link: { transport: 'channel' | 'ssh'; note?: string };
  'agent-exit': { why: string };
  'docker-context': { created: boolean; switched: boolean; note?: string };
  /** where the VM's DNS queries go: the engine's server on `port`, or QEMU's resolver and why */
  dns: { via: 'host' | 'qemu'; port?: number; reason?: string };
  emulation: { enabled: boolean };
  settings: { keys: string[] };
}

export type JournalKind = keyof JournalEvents;

/** One line of events.jsonl. Narrow it by `kind`. */
export type JournalEvent = { [K in JournalKind]: { ts: string; kind: K } & JournalEvents[K] }[JournalKind];

/** The event of one kind. */
export type JournalEventOf<K extends JournalKind> = Extract<JournalEvent, { kind: K }>;

const KINDS: Record<JournalKind, true> = {
  state: true,
  step: true,
  'start-cancelled': true,
  'qemu-binary': true,
  'qemu-exit': true,
  'qmp-event': true,
  'accel-fallback': true,
  'accel-remembered': true,
  adopt: true,
  'adopt-settled': true,
  resumed: true,
  'resume-skipped': true,
  'remount-failed': true,
  'socket-bind-failed': true,
  'containers-stopped-for-suspend': true,
  'containers-restarted': true,
  suspended: true,
  'suspend-failed': true,
  'saved-discarded': true,
  'clock-sync': true,
  ports: true,
  ssh: true,
  link: true,
  'agent-exit': true,
  'docker-context': true,
  dns: true,
  emulation: true,
  settings: true,
};

export const JOURNAL_KINDS = Object.keys(KINDS) as JournalKind[];

export function isJournalKind(kind: unknown): kind is JournalKind {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(KINDS, kind);
}

/** One line of the journal, or null for a torn line (a crash mid-write), a foreign or unknown kind. */
export function parseJournalLine(line: string): JournalEvent | null {
  if (!line.trim()) return null;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as { ts?: unknown; kind?: unknown };
  if (typeof o.ts !== 'string' || !isJournalKind(o.kind)) return null;
  return v as JournalEvent;
}

/** Every readable event of a journal's text, oldest first. */
export function parseJournal(text: string): JournalEvent[] {
  const out: JournalEvent[] = [];
  for (const line of text.split('\n')) {
    const e = parseJournalLine(line);
    if (e) out.push(e);
  }
  return out;
}

/** Narrow an event to one kind: `events.filter(ofKind('step'))`. */
export function ofKind<K extends JournalKind>(kind: K): (e: JournalEvent) => e is JournalEventOf<K> {
  return (e): e is JournalEventOf<K> => e.kind === kind;
}

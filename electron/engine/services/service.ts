// A service is one job the engine does for a running VM (the guest's clock, emulation, mounts, the
// Docker context…), with the same hooks for each: the supervisor calls them at the same points of
// every start, suspend, resume and stop, in the order the services were registered. A service sees
// the engine only through the small context below: it never imports the supervisor.
import type { EventName, Events } from '../../shared/contract.js';
import type { JournalEvents, JournalKind } from '../../shared/journal.js';
import type { Settings } from '../../shared/settings.js';
import type { Status, VmState } from '../../shared/status.js';
import type { Guest } from '../guest/index.js';
import type { InstancePaths } from '../instance.js';

export interface ServiceContext {
  readonly paths: InstancePaths;
  /** the guest's typed operations */
  readonly guest: Guest;
  readonly env: NodeJS.ProcessEnv;
  /** Electron's resources folder in the app (bundled QEMU, CLI plugins), undefined elsewhere */
  readonly resourcesPath: string | undefined;
  /** the VM's state now */
  vmState(): VmState;
  /** whether the guest can be reached now (the host agent runs) */
  guestReachable(): boolean;
  /** append to the journal (events.jsonl) */
  journal<K extends JournalKind>(kind: K, data: JournalEvents[K]): void;
  /** a contract event to every client */
  emit<E extends EventName>(event: E, payload: Events[E]): void;
  /** this service's slice of the status changed: clients get a fresh status */
  statusChanged(): void;
}

export interface Service {
  readonly name: string;
  /** a start begins, before anything runs: forget the last run */
  onStart?(settings: Settings): void;
  /** the guest answers and Docker is up: the readiness step "apply" */
  onReady?(settings: Settings): Promise<void>;
  /**
   * before the VM is saved (a stop in suspend mode), in registration order: undo what would block
   * the save or not survive it. A reason means it cannot be saved now (the stop shuts down instead).
   */
  beforeSuspend?(): Promise<string | null>;
  /** the VM continues from a saved or paused state, before onReady */
  afterResume?(): Promise<void>;
  /** the VM is stopping or gone */
  onStop?(): void;
  /** write this service's slice into a status being built */
  status?(st: Status): void;
}

/** The VM is up and the guest may be asked. */
export function isUp(state: VmState): boolean {
  return state === 'running' || state === 'degraded';
}

// A way up (cold boot, adopt, resume) is a list of rungs over the readiness steps; one runner
// climbs any of them. A rung reports under its step: a failure in it names that step. A rung may
// send the climb back to an earlier step (a boot retried under TCG) or give up this way, and the
// start goes on to the next.
import type { JournalEvents } from '../../shared/journal.js';
import type { Settings } from '../../shared/settings.js';
import type { ResumeInfo, StepName } from '../../shared/status.js';
import type { AgentHost } from '../agent-host.js';
import type { ServiceContext } from '../services/service.js';
import type { InstancePaths } from '../instance.js';
import type { GuestImage } from '../image/local.js';
import type { QemuCommand } from '../qemu-args.js';
import type { MountsService } from '../services/mounts.js';
import type { SshMaterial } from '../ssh-keys.js';
import type { HeldContainer, SaveContext } from '../suspend/save.js';
import type { ChoiceEnv, QemuChoice } from '../vm/choice.js';
import type { Run } from '../vm/run.js';
import type { Vm } from '../vm/vm.js';
import type { StepTracker } from './steps.js';

/** A stop arrived during the start: the ladder stops at its next check. */
export class Aborted extends Error {}

/** What the last start found and did, for the status; a stop forgets the resume and adopt notes. */
export interface StartNotes {
  accel?: string;
  resume?: ResumeInfo;
  adopt?: string;
  /** containers a suspend stopped (they held a shared folder), started again once the VM is up */
  restartAfterResume: HeldContainer[];
}

export type Mount = Required<Settings['mounts'][number]>;
export type TaggedMount = Mount & { tag: string };

/** What the ladders need of the engine: the supervisor's side of a start. */
export interface StartHost {
  readonly paths: InstancePaths;
  readonly startTimeoutMs: number;
  readonly steps: StepTracker;
  readonly mounts: MountsService;
  readonly agent: AgentHost;
  notes(): StartNotes;
  journal: ServiceContext['journal'];
  emitStatus(): void;
  choiceEnv(): ChoiceEnv;
  saveContext(): SaveContext;
  run(): Run | null;
  adopted(run: Run): void;
  launch(cmd: QemuCommand, r: Omit<Run, 'vm' | 'cmd'> & { qemuVersion: string }, extraArgs?: string[]): Promise<void>;
  kill(): Promise<void>;
  /** the VM as found is left alone: no more watching, its files stay */
  letGo(run: Run): void;
  qemuUp(): boolean;
  qemuOutput(): string;
  aborted(): boolean;
  watchVm(vm: Vm): void;
  cleanupFiles(): Promise<void>;
  restartNeeded(): boolean;
  imageFor(settings: Settings): Promise<GuestImage>;
  writeSeed(settings: Settings, bootId: string, ssh: SshMaterial, mounts: TaggedMount[]): void;
  agentLadder(timeoutMs: number, onStep: (s: StepName) => void): Promise<void>;
  applyGuestState(settings: Settings): Promise<void>;
  afterResume(): Promise<void>;
}

/** One start, as the rungs share it. */
export interface Start {
  readonly host: StartHost;
  readonly settings: Settings;
  readonly mounts: Mount[];
  /** the step a failure is reported under */
  current: StepName;
  /** what the `running` state line adds for this way up */
  extra: Omit<JournalEvents['state'], 'state'>;
  /** the VM continues from a saved or paused state: the services' afterResume before apply */
  woken: boolean;
  /** the cold boot's own: what the qemu and kernel rungs hand each other */
  boot?: { image: GuestImage; ssh: SshMaterial; bootId: string; tags: TaggedMount[]; choice: QemuChoice; cmd?: QemuCommand; silent?: { accel: QemuChoice['accel']; reason: string } };
}

export type RungResult = void | 'not-this-way' | { back: StepName };

export interface Rung {
  step: StepName;
  run(s: Start): Promise<RungResult>;
}

export function checkAbort(s: Start): void {
  if (s.host.aborted()) throw new Aborted('start cancelled by stop');
}

/** Climb one way up; false when a rung gave that way up. */
export async function climb(rungs: readonly Rung[], s: Start): Promise<boolean> {
  for (let i = 0; i < rungs.length; ) {
    const rung = rungs[i]!;
    s.current = rung.step;
    const r = await rung.run(s);
    if (r === 'not-this-way') return false;
    if (r && typeof r === 'object') {
      const at = rungs.findIndex((x) => x.step === r.back);
      if (at < 0) throw new Error(`no rung for step ${r.back}`);
      i = at;
      continue;
    }
    i++;
  }
  return true;
}

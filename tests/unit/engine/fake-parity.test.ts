// The same scenarios against the real supervisor (driven by the stand-in QEMU, helpers/stand-in-qemu.mjs,
// and a host agent with no guest behind it) and against the dev-only fake backend the UI tests use
// (tests/fixtures/fake-backend.ts): start, stop in both modes, the resume after a suspend, a start
// that fails, restart-needed after a settings change, a stop during a start. Each side's trace — the
// states its status events went through, its progress lines, the answers' shapes — must be the same,
// so the UI tests cannot pass against wording or behaviour the engine never shows. No VM.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AgentForker } from '../../../electron/engine/agent-host.js';
import type { Backend } from '../../../electron/engine/backend.js';
import { defaultSettings, saveSettings } from '../../../electron/engine/config.js';
import { ensureInstanceDir, instancePaths, writeImageMemo } from '../../../electron/engine/instance/index.js';
import { Supervisor } from '../../../electron/engine/supervisor.js';
import type { Settings } from '../../../electron/shared/settings.js';
import { failedStepHint, STOP_PROGRESS, stepProgress } from '../../../electron/shared/progress.js';
import { STEPS } from '../../../electron/shared/status.js';
import type { StepName, Status } from '../../../electron/shared/status.js';
import { FakeBackend } from '../../fixtures/fake-backend.js';
import { makeStatus } from '../../fixtures/status.js';
import { fakeAgent, fakeImage, removeScratch, scratch, silentAgent } from './helpers/stand-ins.js';

const STAND_IN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers', 'stand-in-qemu.mjs');
const savedQemu = process.env.BERTH_QEMU;
beforeAll(() => {
  process.env.BERTH_QEMU = STAND_IN;
});
afterAll(() => {
  if (savedQemu === undefined) delete process.env.BERTH_QEMU;
  else process.env.BERTH_QEMU = savedQemu;
  removeScratch();
});

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** What both sides start from: no shares, no docker context (nothing on the host to touch). */
function settingsFor(stopMode: Settings['stopMode']): Settings {
  const d = defaultSettings();
  return { ...d, mounts: [], docker: { ...d.docker, context: false, defaultSocket: false }, stopMode };
}

/** What a scenario may ask of a backend beyond the contract: a start that fails at a step. */
interface Side {
  backend: Backend;
  failStart(step: StepName, message: string): void;
}

function engine(settings: Settings, forker: AgentForker = fakeAgent()): Side {
  const home = scratch('berth-parity-');
  const p = instancePaths('parity', home);
  ensureInstanceDir(p);
  saveSettings(p.settings, settings);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', p.disk, `${settings.diskGiB}G`]);
  writeImageMemo(p, { dir: fakeImage(path.join(home, 'image')), recipeHash: 'test-recipe' });
  const sup = new Supervisor({ paths: p, forker, env: { ...process.env, HOME: home, BERTH_ACCEL: 'tcg' }, startTimeoutMs: 20_000 });
  // No guest behind the stand-in: the apply step has nothing to ask.
  Object.assign(sup, { applyGuestState: async () => undefined });
  cleanups.push(async () => {
    await sup.stop({ force: true });
    await sup.close();
  });
  return {
    backend: sup,
    failStart(step, message) {
      if (step !== 'apply') throw new Error('the engine side fails only in the apply step');
      Object.assign(sup, {
        applyGuestState: async () => {
          throw new Error(message);
        },
      });
    },
  };
}

function fake(settings: Settings): Side {
  const b = new FakeBackend({ status: makeStatus('stopped'), settings: structuredClone(settings), speed: 0 });
  cleanups.push(() => b.close());
  return {
    backend: b,
    failStart(step, message) {
      b.failStart = { step, message };
    },
  };
}

/** A status as both sides must agree on it: which pids (not their numbers), no paths, timings, step details (but a failed one's) or host facts. */
function shape(s: Status) {
  return {
    state: s.state,
    // which fields are there, less those about the host the engine runs on
    fields: Object.keys(s)
      .filter((k) => !HOST_FIELDS.has(k))
      .sort(),
    steps: s.steps.map((x) => `${x.name} ${x.state}${x.detail && x.state === 'failed' ? `: ${x.detail}` : ''}`),
    restartNeeded: s.restartNeeded,
    ...(s.lastStop ? { lastStop: { how: s.lastStop.how, note: s.lastStop.note, bytes: typeof s.lastStop.bytes } } : {}),
    ...(s.saved ? { saved: { containersToRestart: s.saved.containersToRestart } } : {}),
    ...(s.resume ? { resume: { resumed: s.resume.resumed, reason: s.resume.reason, loadMs: typeof s.resume.loadMs } } : {}),
    ...(s.error ? { error: { code: s.error.code, message: s.error.message, step: s.error.step, hintIsTheStepHint: s.error.hint === failedStepHint(s.error.step!, s.serialLog) } } : {}),
    pids: Object.keys(s.pids).sort(),
  };
}
/** facts of the machine and its tools, not of the VM's lifecycle */
const HOST_FIELDS = new Set(['accel', 'accelNote', 'accelMemo', 'diskUsage', 'dockerTools', 'sockets', 'dns', 'proxy']);

/** What a user of the backend saw: the states its status events went through, its progress lines. */
interface Trace {
  states: string[];
  progress: string[];
}

function watch(b: Backend): { trace: Trace; off(): void } {
  const trace: Trace = { states: [], progress: [] };
  const push = (list: string[], x: string) => list.at(-1) !== x && list.push(x);
  const offs = [b.on('status', (s) => push(trace.states, s.state)), b.on('progress', (p) => push(trace.progress, `${p.task}: ${p.label}`))];
  return { trace, off: () => offs.forEach((o) => o()) };
}

async function ok<T>(p: Promise<{ ok: true; value: T } | { ok: false; error: unknown }>): Promise<T> {
  const r = await p;
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.error)}`);
  return r.value;
}

type Step = { name: string; trace: Trace; answer: unknown };

/** Runs one action and keeps what it showed. */
async function act(b: Backend, name: string, call: () => Promise<unknown>): Promise<Step> {
  const w = watch(b);
  const answer = await call();
  // the last status event may trail the answer by a tick
  await new Promise((r) => setTimeout(r, 20));
  w.off();
  return { name, trace: w.trace, answer: answer && typeof answer === 'object' && 'state' in answer ? shape(answer as Status) : answer };
}

type Scenario = { name: string; stopMode: Settings['stopMode']; run(side: Side): Promise<Step[]>; agent?: AgentForker };

const start = (b: Backend) => act(b, 'start', () => ok(b.invoke('vm.start', {})));
const stop = (b: Backend, params = {}) => act(b, `stop ${JSON.stringify(params)}`, () => ok(b.invoke('vm.stop', params)));
const set = (b: Backend, patch: Partial<Settings>) => act(b, `set ${JSON.stringify(patch)}`, async () => ({ ...(await ok(b.invoke('settings.set', { patch }))), settings: undefined }));
const status = (b: Backend) => act(b, 'status', () => ok(b.invoke('vm.status', {})));

const SCENARIOS: Scenario[] = [
  {
    name: 'start → running, then stop in shutdown mode',
    stopMode: 'shutdown',
    run: async ({ backend: b }) => [await status(b), await start(b), await status(b), await stop(b)],
  },
  {
    name: 'stop in suspend mode, then the start resumes the saved VM',
    stopMode: 'suspend',
    run: async ({ backend: b }) => [await start(b), await stop(b), await status(b), await start(b), await stop(b, { shutdown: true })],
  },
  {
    name: 'stop --shutdown of a suspended VM discards the saved state; the next start boots cold',
    stopMode: 'suspend',
    run: async ({ backend: b }) => [await start(b), await stop(b), await stop(b, { shutdown: true }), await start(b), await stop(b, { force: true })],
  },
  {
    name: 'restart is a fresh boot, never a resume; start while running answers with the running VM',
    stopMode: 'suspend',
    run: async ({ backend: b }) => [await start(b), await start(b), await act(b, 'restart', () => ok(b.invoke('vm.restart', {}))), await stop(b, { shutdown: true })],
  },
  {
    name: 'a restart setting changed after the suspend: the start boots cold and says why',
    stopMode: 'suspend',
    run: async ({ backend: b }) => [await start(b), await stop(b), await set(b, { memoryGiB: settingsFor('suspend').memoryGiB + 1 }), await start(b), await status(b)],
  },
  {
    name: 'a start that fails names its step; a stop from there',
    stopMode: 'shutdown',
    run: async (side) => {
      side.failStart('apply', 'the guest would not answer');
      return [await start(side.backend), await status(side.backend), await stop(side.backend)];
    },
  },
  {
    name: 'a changed restart setting says a restart is needed, a live one does not, and setting it back clears it',
    stopMode: 'suspend',
    run: async ({ backend: b }) => {
      const { cpus, memoryGiB } = settingsFor('suspend');
      // this machine may have only 2 cores
      const other = cpus === 1 ? 2 : 1;
      return [
        await set(b, { cpus: other }),
        await start(b),
        await set(b, { stopMode: 'shutdown' }),
        await set(b, { cpus }),
        await status(b),
        await set(b, { cpus: other }),
        await set(b, { memoryGiB: memoryGiB + 1 }),
        await stop(b, {}),
        await status(b),
      ];
    },
  },
  {
    name: 'a stop during the start cancels it',
    stopMode: 'suspend',
    agent: silentAgent,
    run: async ({ backend: b }) => {
      const w = watch(b);
      // the stop arrives while QEMU is being started
      let stopping: Promise<Status> | undefined;
      const off = b.on('progress', (p) => {
        if (p.step === 'qemu' && !stopping) stopping = ok(b.invoke('vm.stop', {}));
      });
      const starting = ok(b.invoke('vm.start', {}));
      const started = await starting;
      off();
      const stopped = await stopping!;
      await new Promise((r) => setTimeout(r, 20));
      w.off();
      return [{ name: 'start, stop while starting', trace: w.trace, answer: { start: shape(started), stop: shape(stopped) } }];
    },
  },
];

describe('the fake backend shows what the engine shows (stand-in QEMU, no VM)', () => {
  for (const sc of SCENARIOS) {
    it(sc.name, { timeout: 60_000 }, async () => {
      const real = await sc.run(engine(settingsFor(sc.stopMode), sc.agent));
      const simulated = await sc.run(fake(settingsFor(sc.stopMode)));
      expect(simulated).toEqual(real);
    });
  }

  it('every progress line the fake shows is one the engine prints', { timeout: 60_000 }, async () => {
    // the engine's wording, as it builds it (electron/shared/progress.ts)
    const engineLines = new Set([
      ...STEPS.flatMap((s) => [stepProgress(s.name, 'running'), stepProgress(s.name, 'done')]).map((p) => `${p.task}: ${p.label}`),
      ...Object.values(STOP_PROGRESS).map((l) => `stop: ${l}`),
    ]);
    const seen: string[] = [];
    for (const sc of SCENARIOS) {
      const side = fake(settingsFor(sc.stopMode));
      const off = side.backend.on('progress', (p) => seen.push(`${p.task}: ${p.label}`));
      await sc.run(side);
      off();
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((l) => !engineLines.has(l))).toEqual([]);
  });
});

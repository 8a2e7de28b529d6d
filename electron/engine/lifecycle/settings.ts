// The settings a start runs with, and settings changes while the supervisor runs: berth.yaml
// written after the same checks a start makes, what applies live pushed to the running VM at once,
// and whether the rest (RESTART_KEYS) now differs from what the VM booted with.
import fs from 'node:fs';
import type { Params } from '../../shared/contract.js';
import { RESTART_KEYS } from '../../shared/settings.js';
import type { Settings } from '../../shared/settings.js';
import type { VmState } from '../../shared/status.js';
import type { AgentHost } from '../agent-host.js';
import { resolveCaCertificates } from '../ca-certificates.js';
import { applyPatch, currentHost, loadSettings, resolveMounts, saveSettings } from '../config.js';
import type { InstancePaths } from '../instance.js';
import type { DefaultSocketService } from '../services/default-socket.js';
import type { EmulationService } from '../services/emulation.js';
import type { ServiceContext } from '../services/service.js';
import type { TestcontainersService } from '../services/testcontainers.js';
import type { Run } from '../vm/run.js';
import type { Mount } from './ladder.js';

/**
 * Checked before anything starts, so a bad config starts nothing and changes nothing: berth.yaml
 * with the start's overrides (written back, or written first when there is none yet), and the
 * shares it names resolved.
 */
export function settingsForStart(paths: InstancePaths, params: Params<'vm.start'>): { settings: Settings; mounts: Mount[] } {
  let settings = loadSettings(paths.settings);
  const overrides = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Partial<Settings>;
  if (Object.keys(overrides).length) {
    settings = applyPatch(settings, overrides);
    saveSettings(paths.settings, settings);
  } else if (!fs.existsSync(paths.settings)) {
    saveSettings(paths.settings, settings);
  }
  return { settings, mounts: resolveMounts(settings.mounts, currentHost()) };
}

/** A setting the running VM was not started with, which only a fresh boot applies. */
export function restartNeeded(run: Run | null, current: Settings | undefined): boolean {
  if (!run || !current) return false;
  return RESTART_KEYS.some((k) => JSON.stringify(current[k]) !== JSON.stringify(run.settings[k]));
}

/** What a settings change needs of the engine. */
export interface SettingsHost {
  readonly paths: InstancePaths;
  readonly agent: AgentHost;
  /** docker.defaultSocket, the Testcontainers line and emulation apply live */
  readonly defaultSocket: DefaultSocketService;
  readonly testcontainers: TestcontainersService;
  readonly emulation: EmulationService;
  state(): VmState;
  journal: ServiceContext['journal'];
  emitStatus(): void;
  restartNeeded(): boolean;
}

export async function changeSettings(h: SettingsHost, patch: Partial<Settings>): Promise<{ settings: Settings; restartNeeded: boolean }> {
  const cur = loadSettings(h.paths.settings);
  const next = applyPatch(cur, patch);
  resolveMounts(next.mounts, currentHost());
  resolveCaCertificates(next.caCertificates, currentHost().home);
  saveSettings(h.paths.settings, next);
  h.journal('settings', { keys: Object.keys(patch) });
  const up = h.state() === 'running' || h.state() === 'degraded';
  if (patch.ports && h.agent.pid) h.agent.send({ type: 'ports-config', ports: next.ports });
  if (patch.docker && patch.docker.defaultSocket !== cur.docker.defaultSocket && up) {
    await Promise.all([h.defaultSocket.onReady(next), h.testcontainers.onReady(next)]);
  }
  if (patch.emulation && patch.emulation.enabled !== cur.emulation.enabled && up) {
    await h.emulation.set(next.emulation.enabled);
  }
  h.emitStatus();
  return { settings: next, restartNeeded: h.restartNeeded() };
}

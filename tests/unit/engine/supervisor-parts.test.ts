// The pieces the supervisor hands its work to: the service list, the VM it holds and whose files it
// may remove, a start's settings, the boot seed, and the one engine host.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Events } from '../../../electron/shared/contract.js';
import { defaultSettings, loadSettings, saveSettings } from '../../../electron/engine/config.js';
import { ensureInstanceDir, instancePaths } from '../../../electron/engine/instance.js';
import type { InstancePaths } from '../../../electron/engine/instance.js';
import { runFiles } from '../../../electron/engine/instance/run-files.js';
import { readSeed } from '../../../electron/engine/seed.js';
import { createServices } from '../../../electron/engine/services/index.js';
import { CurrentRun } from '../../../electron/engine/lifecycle/current-run.js';
import { engineHost } from '../../../electron/engine/lifecycle/engine-host.js';
import type { EngineCore } from '../../../electron/engine/lifecycle/engine-host.js';
import { writeBootSeed } from '../../../electron/engine/lifecycle/seed.js';
import { settingsForStart } from '../../../electron/engine/lifecycle/settings.js';
import type { Run } from '../../../electron/engine/vm/run.js';
import type { Vm } from '../../../electron/engine/vm/vm.js';
import { serviceContext } from './helpers/service-context.js';
import { removeScratch, scratch } from './helpers/stand-ins.js';

afterAll(removeScratch);

function instance(): InstancePaths {
  const p = instancePaths('parts', scratch('berth-parts-'));
  ensureInstanceDir(p);
  return p;
}

const services = (p: InstancePaths) => createServices(serviceContext(p), { settings: undefined, platform: 'linux', monitor: () => null, log: () => undefined });

describe('the service list (services/index.ts)', () => {
  it('runs the hooks in registration order, and the services a request reaches are the ones in the list', () => {
    const s = services(instance());
    expect(s.all.map((x) => x.name)).toEqual(['clock', 'emulation', 'mounts', 'docker-context', 'default-socket', 'testcontainers', 'socket-in-containers', 'dns', 'udp-hostfwd', 'ports', 'proxy']);
    for (const one of [s.clock, s.emulation, s.mounts, s.defaultSocket, s.testcontainers, s.ports, s.proxy]) expect(s.all).toContain(one);
  });
});

describe('the VM the supervisor holds (lifecycle/current-run.ts)', () => {
  const touchAll = (p: InstancePaths) => {
    for (const f of runFiles(p, ['vm', 'agent'])) fs.writeFileSync(f, '');
  };
  const present = (p: InstancePaths) => runFiles(p, ['vm', 'agent']).filter((f) => fs.existsSync(f));
  const held = (p: InstancePaths) => new CurrentRun({ paths: p, journal: () => undefined, onGone: () => undefined, onQmpEvent: () => undefined });
  const run = (): Run => ({ vm: { detach: () => undefined } as unknown as Vm, sshPort: 2222, bootId: 'b00t', accel: 'tcg', image: {} as Run['image'], settings: defaultSettings(), ssh: {} as Run['ssh'] });

  it('removes QEMU\'s files with the agent\'s only for a VM it adopted', async () => {
    const p = instance();
    const vm = held(p);
    touchAll(p);
    await vm.cleanupFiles();
    expect(present(p)).toEqual(runFiles(p, ['vm']));
    const r = run();
    vm.adopted(r);
    expect(vm.run()).toBe(r);
    await vm.cleanupFiles();
    expect(present(p)).toEqual([]);
  });

  it('a VM it let go keeps its files, for `berth status`, `stop` and the next start', async () => {
    const p = instance();
    const vm = held(p);
    const r = run();
    vm.adopted(r);
    vm.letGo(r);
    expect(vm.run()).toBeNull();
    touchAll(p);
    await vm.cleanupFiles();
    expect(present(p)).toEqual(runFiles(p, ['vm']));
    expect(vm.up()).toBe(false);
    expect(vm.output()).toBe('');
  });
});

describe('a start\'s settings (settingsForStart)', () => {
  it('writes the start\'s overrides to berth.yaml, and leaves out the ones not given', () => {
    const p = instance();
    saveSettings(p.settings, { ...defaultSettings(), mounts: [], cpus: 2 });
    const { settings, mounts } = settingsForStart(p, { memoryGiB: 3, cpus: undefined });
    expect(settings.memoryGiB).toBe(3);
    expect(settings.cpus).toBe(2);
    expect(loadSettings(p.settings)).toMatchObject({ memoryGiB: 3, cpus: 2 });
    expect(mounts).toEqual([]);
  });

  it('writes berth.yaml when there is none yet', () => {
    const p = instance();
    fs.rmSync(p.settings, { force: true });
    settingsForStart(p, {});
    expect(fs.existsSync(p.settings)).toBe(true);
  });
});

describe('the boot seed (lifecycle/seed.ts)', () => {
  it('hands the guest this boot\'s id and keys, the tagged shares and emulation', () => {
    const p = instance();
    const settings = { ...defaultSettings(), emulation: { enabled: true } };
    const ssh = { clientPub: 'ssh-ed25519 AAAAclient', hostKey: 'HOSTKEY', hostPub: 'ssh-ed25519 AAAAhost' } as Run['ssh'];
    writeBootSeed(p, { settings, bootId: 'cafe', ssh, mounts: [{ location: '/h', guestPath: '/g', writable: false, tag: 'berth0' }], proxy: { proxySource: 'none', caCertificates: '' } });
    const seed = readSeed(p.seed)!;
    expect(seed.BOOT_ID).toBe('cafe');
    expect(seed.HOST_KEY).toBe('HOSTKEY');
    expect(seed.MOUNTS).toContain('berth0\t/g\tro');
    expect(seed.EMULATION).toBe('on');
  });
});

describe('the engine host (lifecycle/engine-host.ts)', () => {
  it('is one object: a save gets the same host, and a stop\'s progress line carries a fraction only when the save gave one', () => {
    const p = instance();
    const sent: Events['progress'][] = [];
    const core = {
      paths: p,
      vm: new CurrentRun({ paths: p, journal: () => undefined, onGone: () => undefined, onQmpEvent: () => undefined }),
      emit: (event: string, payload: unknown) => {
        if (event === 'progress') sent.push(payload as Events['progress']);
      },
    } as unknown as EngineCore;
    const host = engineHost(core, services(p));
    expect(host.saveContext()).toBe(host);
    host.progress('Stopping Docker');
    host.progress('Saving the VM to disk', 0.5);
    expect(sent).toEqual([
      { task: 'stop', label: 'Stopping Docker' },
      { task: 'stop', label: 'Saving the VM to disk', fraction: 0.5 },
    ]);
    expect(host.restartNeeded()).toBe(false);
  });
});

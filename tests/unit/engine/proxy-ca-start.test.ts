// A wrong caCertificates entry or a broken proxy in the engine's environment stops a start before
// anything runs (no disk, no QEMU), and a settings.set that names a missing CA file changes nothing.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { defaultSettings, saveSettings } from '../../../electron/engine/config.js';
import { ensureInstanceDir, instancePaths } from '../../../electron/engine/instance/index.js';
import { Supervisor } from '../../../electron/engine/supervisor.js';
import type { Status } from '../../../electron/shared/status.js';
import { fakeAgent, removeScratch, scratch } from './helpers/stand-ins.js';

afterAll(removeScratch);
const sups: Supervisor[] = [];
afterEach(async () => {
  for (const s of sups.splice(0)) await s.close();
});

function instance(env: NodeJS.ProcessEnv, caCertificates: string[]) {
  const home = scratch('berth-pxs-');
  const p = instancePaths('pxs', home);
  ensureInstanceDir(p);
  saveSettings(p.settings, { ...defaultSettings(), mounts: [], caCertificates });
  const sup = new Supervisor({ paths: p, forker: fakeAgent(), env: { PATH: process.env.PATH, HOME: home, ...env }, startTimeoutMs: 20_000 });
  sups.push(sup);
  return { p, sup, home };
}

/** What vm.start answered: the status, with the start's error in it. */
async function started(sup: Supervisor): Promise<Status> {
  const r = await sup.invoke('vm.start', {});
  if (!r.ok) throw new Error(`vm.start: ${r.error.message}`);
  return r.value;
}

describe('proxies and CAs at start', () => {
  it('a missing CA file: the start fails with E_CONFIG naming it, before a disk or QEMU exists', async () => {
    const { p, sup, home } = instance({}, [path.join('/nowhere', 'corp-root.pem')]);
    const st = await started(sup);
    expect(st.state).toBe('error');
    expect(st.error).toMatchObject({ code: 'E_CONFIG', message: 'caCertificates[0]: /nowhere/corp-root.pem does not exist', hint: expect.stringMatching(/PEM file/) });
    expect(fs.readdirSync(home)).toEqual(['pxs']);
    expect(fs.existsSync(p.disk)).toBe(false);
    expect(fs.existsSync(p.qemuPid)).toBe(false);
    expect(fs.existsSync(p.seed)).toBe(false);
  });

  it('a broken HTTPS_PROXY in the engine environment: the start fails naming the variable', async () => {
    const { p, sup } = instance({ HTTPS_PROXY: 'http://proxy.corp:3128\nX: 1' }, []);
    const st = await started(sup);
    expect(st.state).toBe('error');
    expect(st.error).toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/^HTTPS_PROXY in Berth's environment: contains a newline/) });
    expect(fs.existsSync(p.disk)).toBe(false);
  });

  it('settings.set with a CA file that does not exist is refused and berth.yaml is left as it was', async () => {
    const { p, sup } = instance({}, []);
    const before = fs.readFileSync(p.settings, 'utf8');
    const r = await sup.invoke('settings.set', { patch: { caCertificates: ['/nowhere/ca.pem'] } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toMatchObject({ code: 'E_CONFIG', message: 'caCertificates[0]: /nowhere/ca.pem does not exist' });
    expect(fs.readFileSync(p.settings, 'utf8')).toBe(before);
  });
});

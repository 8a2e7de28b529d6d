// Fault injection against one real VM: QEMU, the agent and the supervisor killed; races between
// start and stop; a frozen VM's clock; discard shrinking the disk. The state must always be true.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Status } from '../../electron/shared/status.js';
import { QmpClient } from '../../electron/engine/qmp.js';
import { berth, boot, docker, finish, listQemuPids, newInstance, statusOf, supervisorGone, until } from './harness.js';

const inst = newInstance('rel');
const IMG = 'berth-test/busybox:rel';

const status = (): Promise<Status> => statusOf(inst);
function events(): { ts: string; kind: string; [k: string]: unknown }[] {
  return fs.readFileSync(path.join(inst.dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}
const pidOf = (f: string) => Number(fs.readFileSync(path.join(inst.dir, f), 'utf8').trim());

// These faults and races are about a VM that boots and powers off; suspend/resume has its own suite.
// ports.map sends the guest's port 80 to host port 18580 (the agent-restart test checks it comes back).
const MAPPED = 18580;
beforeAll(() => boot(inst, { image: IMG, yaml: `mounts: []\nstopMode: shutdown\nports:\n  map: {80: ${MAPPED}}\n` }), 600_000);

afterAll(() => finish(inst), 120_000);

/** The body served on host `port` through a forward, or undefined. */
async function served(port: number): Promise<string | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
    return r.ok ? (await r.text()).trim() : undefined;
  } catch {
    return undefined;
  }
}
const bothServe = async () => ((await served(MAPPED)) === 'hello-web' && (await served(18591)) === 'hello-web' ? true : undefined);

describe('host agent killed', () => {
  it('is restarted at once; the Docker socket and the port forwards (ports.map too) come back; QEMU was not restarted', async () => {
    // A container listening on the guest's port 80 (forwarded to MAPPED by ports.map) and on 18591.
    const web = await docker(inst, ['run', '-d', '--name', 'web', '-p', '80:80', '-p', '18591:80', IMG, 'sh', '-c', 'mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 80 -h /www']);
    expect(web.exitCode, String(web.stderr)).toBe(0);
    await until('both forwards', bothServe, 60_000, 200);
    const forwards = [expect.objectContaining({ guestPort: 80, hostPort: MAPPED, state: 'forwarding' }), expect.objectContaining({ guestPort: 18591, hostPort: 18591, state: 'forwarding' })];
    const before = await status();
    expect(before.ports).toEqual(expect.arrayContaining(forwards));
    const qemu = before.pids.qemu!;
    const agent = before.pids.agent!;
    const killedAt = Date.now();
    process.kill(agent, 'SIGKILL');
    // "At once": no backoff for a first restart. The deadline is generous for a loaded machine;
    // the time it took is in the log (events.jsonl), not asserted: it would measure the machine.
    const after = await until('a new agent, running', async () => {
      const s = await status();
      return s.state === 'running' && s.pids.agent && s.pids.agent !== agent ? s : undefined;
    }, 10_000, 100);
    expect(after.pids.qemu).toBe(qemu);
    const since = events().filter((e) => Date.parse(e.ts) >= killedAt - 50);
    expect(since.filter((e) => e.kind === 'agent-exit')).toHaveLength(1);
    expect(since).toContainEqual(expect.objectContaining({ kind: 'state', state: 'running', agent: 'restarted' }));
    expect((await docker(inst, ['version', '--format', '{{.Server.Version}}'])).exitCode).toBe(0);
    // The forwards came back by themselves, the mapped one at its mapped host port.
    await until('both forwards after the agent restart', bothServe, 10_000, 200);
    expect((await status()).ports).toEqual(expect.arrayContaining(forwards));
    expect((await docker(inst, ['rm', '-f', 'web'])).exitCode).toBe(0);
  }, 180_000);
});

describe('supervisor killed (headless)', () => {
  it('status tells the truth from the files, and start re-attaches to the live VM', async () => {
    const qemu = pidOf('qemu.pid');
    const sup = pidOf('supervisor.pid');
    process.kill(sup, 'SIGKILL');
    await until('the supervisor to die', () => (fs.existsSync(`/proc/${sup}`) ? undefined : true), 5000);
    const s = await status();
    expect(s.state).toBe('degraded');
    expect(s.error?.message).toMatch(new RegExp(`the VM \\(QEMU pid ${qemu}\\) runs but its supervisor is gone`));
    const r = await berth(inst, ['start']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(listQemuPids(inst.home)).toEqual([qemu]);
    const s2 = await status();
    expect(s2.state).toBe('running');
    expect(s2.pids.qemu).toBe(qemu);
    expect(events().some((e) => e.kind === 'adopt')).toBe(true);
    expect((await docker(inst, ['version', '--format', '{{.Server.Version}}'])).exitCode).toBe(0);
  }, 300_000);
});

describe('a paused VM (QMP stop, as during host sleep)', () => {
  it('after 60 s paused and resumed, the guest clock is corrected within 10 s', async () => {
    // The debug monitor is a second QMP socket; the RESUME event reaches every monitor.
    const qmp = await QmpClient.connect(path.join(inst.dir, 'qmp-debug.sock'));
    await qmp.execute('stop');
    await new Promise((r) => setTimeout(r, 60_000));
    await qmp.execute('cont');
    const t0 = Date.now();
    qmp.close();
    // Berth corrects it (on the RESUME event, or when SSH comes back) — not luck, not the guest.
    const sync = await until('a successful clock sync', () => events().find((e) => e.kind === 'clock-sync' && e.ok === true && Date.parse(e.ts) >= t0 - 1000), 10_000, 200);
    expect(Date.parse(sync.ts) - t0).toBeLessThan(10_000);
    const r = await berth(inst, ['shell', '--', 'date', '-u', '+%s.%N']);
    const skew = Number(String(r.stdout).trim()) * 1000 - Date.now();
    expect(Math.abs(skew)).toBeLessThan(1500);
    expect((await status()).state).toBe('running');
  }, 180_000);
});

describe('disk', () => {
  it('discard: deleting data shrinks the disk file; status shows disk usage', async () => {
    const size = () => fs.statSync(path.join(inst.dir, 'disk.qcow2')).blocks * 512;
    const before = size();
    const w = await berth(inst, ['shell', '--', 'sh', '-c', 'dd if=/dev/urandom of=/var/tmp/fill bs=1M count=300 2>/dev/null && sync']);
    expect(w.exitCode, String(w.stderr)).toBe(0);
    const grown = size();
    expect(grown - before).toBeGreaterThan(250 * 2 ** 20);
    expect((await status()).diskUsage?.fileBytes).toBeGreaterThanOrEqual(grown - 2 ** 20);
    const d = await berth(inst, ['shell', '--', 'sh', '-c', 'rm /var/tmp/fill && sync && fstrim -v /']);
    expect(d.exitCode, String(d.stderr)).toBe(0);
    const shrunk = await until('the disk file to shrink', () => (size() < grown - 200 * 2 ** 20 ? size() : undefined), 20_000, 500);
    expect(shrunk).toBeLessThan(grown - 200 * 2 ** 20);
  }, 180_000);
});

describe('QEMU killed', () => {
  it('state becomes error with the exit reason within 1 s; an event is written; the next start is clean and nothing is lost', async () => {
    // Data synced before the kill must survive it.
    expect((await docker(inst, ['volume', 'create', 'keep'])).exitCode).toBe(0);
    const w = await docker(inst, ['run', '--name', 'writer', '-v', 'keep:/data', IMG, 'sh', '-c', 'echo precious > /data/file && sync']);
    expect(w.exitCode, String(w.stderr)).toBe(0);
    await berth(inst, ['shell', '--', 'sync']);
    const listed = String((await docker(inst, ['ps', '-a', '--format', '{{.Names}}'])).stdout).trim().split('\n').sort();
    const qemu = pidOf('qemu.pid');
    const killedAt = Date.now();
    process.kill(qemu, 'SIGKILL');
    const ev = await until('the error event', () => events().find((e) => e.kind === 'state' && e.state === 'error' && Date.parse(e.ts) >= killedAt - 50), 5000, 20);
    expect(Date.parse(ev.ts) - killedAt).toBeLessThan(1000);
    // Our own child reports its signal; a VM adopted after a supervisor crash (as here, after the
    // test above) is not our child: its monitor closing or its pid vanishing tells, whichever first.
    expect((ev.error as { message: string }).message).toMatch(/QEMU (killed by SIGKILL|exited \(adopted pid \d+(; its monitor closed)?\)) while the VM was running/);
    const s = await until('status error', async () => {
      const st = await status();
      return st.state === 'error' ? st : undefined;
    }, 10_000, 200);
    expect(s.error?.code).toBe('E_QEMU_EXITED');
    expect(fs.existsSync(path.join(inst.dir, 'docker.sock'))).toBe(false);

    const r = await berth(inst, ['start']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const read = await docker(inst, ['run', '--rm', '-v', 'keep:/data', IMG, 'cat', '/data/file']);
    expect(String(read.stdout).trim()).toBe('precious');
    const again = String((await docker(inst, ['ps', '-a', '--format', '{{.Names}}'])).stdout).trim().split('\n').sort();
    expect(again).toEqual(listed);
    const check = await execa('qemu-img', ['check', '-U', path.join(inst.dir, 'disk.qcow2')], { reject: false });
    expect(String(check.stdout)).toMatch(/No errors were found/);
  }, 600_000);
});

describe('races', () => {
  it('two starts at once: one VM, both succeed; stop during start ends stopped; start during stop ends running', async () => {
    expect((await berth(inst, ['stop'])).exitCode).toBe(0);
    expect(await supervisorGone(inst)).toBe(true); // so that the next start meets no supervisor
    const [a, b] = await Promise.all([berth(inst, ['start']), berth(inst, ['start'])]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect(listQemuPids(inst.home)).toHaveLength(1);

    expect((await berth(inst, ['stop'])).exitCode).toBe(0);
    expect(await supervisorGone(inst)).toBe(true); // so that the next start meets no supervisor
    const starting = berth(inst, ['start']);
    await until('QEMU to be spawned', () => (listQemuPids(inst.home).length ? true : undefined), 120_000, 100);
    const stop = await berth(inst, ['stop']);
    expect(stop.exitCode, String(stop.stderr)).toBe(0);
    const st = await starting;
    expect(st.exitCode).toBe(1);
    expect(String(st.stderr)).toMatch(/state is stopped|cancelled/);
    expect(await supervisorGone(inst)).toBe(true); // so that the next start meets no supervisor
    expect(listQemuPids(inst.home)).toEqual([]);
    expect((await status()).state).toBe('stopped');

    const s2 = await berth(inst, ['start']);
    expect(s2.exitCode).toBe(0);
    const stopping = berth(inst, ['stop']);
    await new Promise((r) => setTimeout(r, 300));
    const s3 = await berth(inst, ['start']);
    expect((await stopping).exitCode).toBe(0);
    expect(s3.exitCode, String(s3.stderr)).toBe(0);
    expect((await status()).state).toBe('running');
    expect(listQemuPids(inst.home)).toHaveLength(1);
  }, 900_000);
});

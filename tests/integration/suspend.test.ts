// Stop suspends the VM to disk, Start resumes it (issue 10) — against one real VM: containers keep
// running across a Stop/Start, and a saved state that no longer fits is never restored.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { berth, boot, docker, finish, newInstance, statusOf, supervisorGone, until } from './harness.js';

const inst = newInstance('sus');
const IMG = 'berth-test/busybox:sus';
const share = path.join(inst.home, 'share');
const saved = path.join(inst.dir, 'saved.vmstate');
const record = path.join(inst.dir, 'saved.json');
const yaml = () => fs.readFileSync(path.join(inst.dir, 'berth.yaml'), 'utf8');

const startedAt = async (name: string) => String((await docker(inst, ['inspect', '--format', '{{.State.StartedAt}}', name])).stdout).trim();
const counter = async () => Number(String((await docker(inst, ['exec', 'counter', 'cat', '/tmp/n'])).stdout).trim());
const WEB_PORT = 18473;
/** The counter's value served by busybox httpd through the published port, or undefined. */
const web = async (): Promise<string | undefined> => {
  try {
    const r = await fetch(`http://127.0.0.1:${WEB_PORT}/n`, { signal: AbortSignal.timeout(2000) });
    return r.ok ? (await r.text()).trim() : undefined;
  } catch {
    return undefined;
  }
};
const names = async () => String((await docker(inst, ['ps', '-a', '--format', '{{.Names}}'])).stdout).trim().split('\n').sort();

async function stopSuspended(): Promise<void> {
  const r = await berth(inst, ['stop']);
  expect(r.exitCode, String(r.stderr)).toBe(0);
  expect(String(r.stderr)).toMatch(/suspended in \d+\.\d s \(saved \d+ MB\)/);
  expect(fs.existsSync(saved) && fs.existsSync(record)).toBe(true);
  expect(await supervisorGone(inst)).toBe(true); // the headless supervisor exits once its VM is saved
}

async function startCold(reason: RegExp): Promise<void> {
  const r = await berth(inst, ['start']);
  expect(r.exitCode, String(r.stderr)).toBe(0);
  expect(String(r.stderr)).toMatch(/booted cold: the saved state was not used: /);
  expect(String(r.stderr)).toMatch(reason);
  const s = await statusOf(inst);
  expect(s.state).toBe('running');
  expect(s.resume?.resumed).toBe(false);
  expect(s.resume?.reason).toMatch(reason);
  // Discarded, not kept for later: a stale state must never be restored.
  expect(fs.existsSync(saved) || fs.existsSync(record)).toBe(false);
}

beforeAll(async () => {
  fs.mkdirSync(share);
  await boot(inst, { image: IMG, yaml: `mounts:\n  - location: ${share}\n    writable: true\n` });
}, 600_000);

afterAll(() => finish(inst), 120_000);

describe('Stop suspends, Start resumes', () => {
  it('a counting container keeps counting; Docker answers; its published port answers again; the clock is right; the state file is used once', async () => {
    expect(yaml()).not.toMatch(/stopMode/); // the default is what is tested
    const run = await docker(inst, ['run', '-d', '--name', 'counter', '-p', `${WEB_PORT}:80`, IMG, 'sh', '-c', 'httpd -p 80 -h /tmp; i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 1; done']);
    expect(run.exitCode, String(run.stderr)).toBe(0);
    await until('the published port to answer', () => web(), 20_000, 200);
    await until('the counter to count', async () => ((await counter()) >= 3 ? true : undefined), 60_000, 500);
    const since = await startedAt('counter');
    const before = await counter();

    await stopSuspended();
    const off = await statusOf(inst);
    expect(off.state).toBe('stopped');
    expect(off.saved?.bytes).toBeGreaterThan(10 * 2 ** 20);

    const r = await berth(inst, ['start']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toMatch(/resumed from the saved state/);
    expect(fs.existsSync(saved) || fs.existsSync(record)).toBe(false);
    const s = await statusOf(inst);
    expect(s.state).toBe('running');
    expect(s.resume).toMatchObject({ resumed: true });
    expect(s.saved).toBeUndefined();

    // The same container process, not a restart: its start time is unchanged, its count went on.
    expect(await startedAt('counter')).toBe(since);
    const after = await counter();
    expect(after).toBeGreaterThanOrEqual(before);
    await until('the counter to move on', async () => ((await counter()) > after ? true : undefined), 10_000, 300);
    // The forward is back (the agent's SSH session did not survive the save; a new one did).
    expect(Number(await until('the published port to answer after the resume', () => web(), 10_000, 200))).toBeGreaterThanOrEqual(after);

    const g = await berth(inst, ['shell', '--', 'date', '-u', '+%s.%N']);
    const skew = Number(String(g.stdout).trim()) * 1000 - Date.now();
    expect(Math.abs(skew)).toBeLessThan(2000);
  }, 600_000);

  it('a container with a bind mount from a shared folder is stopped for the save and started again on resume', async () => {
    const b = await docker(inst, ['run', '-d', '--name', 'binder', '-v', `${share}:/x`, IMG, 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done']);
    expect(b.exitCode, String(b.stderr)).toBe(0);
    const since = await startedAt('binder');
    const counterSince = await startedAt('counter');

    const r = await berth(inst, ['stop']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toMatch(/suspended in/);
    expect(String(r.stderr)).toMatch(/note: stopped binder \(bind mounts from shared folders\); they start again on resume/);
    expect((await statusOf(inst)).saved?.containersToRestart).toEqual(['binder']);
    expect(await supervisorGone(inst)).toBe(true);

    expect((await berth(inst, ['start'])).exitCode).toBe(0);
    await until('binder to run again', async () => (String((await docker(inst, ['inspect', '--format', '{{.State.Running}}', 'binder'])).stdout).trim() === 'true' ? true : undefined), 60_000, 500);
    expect(await startedAt('binder')).not.toBe(since);
    expect(await startedAt('counter')).toBe(counterSince);
    // The share is back, both ways.
    fs.writeFileSync(path.join(share, 'after-resume.txt'), 'still shared\n');
    const read = await docker(inst, ['exec', 'binder', 'cat', '/x/after-resume.txt']);
    expect(String(read.stdout).trim()).toBe('still shared');
    expect((await berth(inst, ['mounts', '--json'])).stdout).toMatch(/"state": "mounted"/);
  }, 600_000);
});

describe('when suspend is impossible or the saved state does not fit', () => {
  it('a shared folder busy inside the VM: Stop shuts down cleanly instead and says why in one line', async () => {
    // A process in the VM itself (not a container) with its working directory in the share.
    const bg = await berth(inst, ['shell', '--', 'sh', '-c', `cd '${share}' && (setsid sleep 600 </dev/null >/dev/null 2>&1 &)`]);
    expect(bg.exitCode, String(bg.stderr)).toBe(0);
    const r = await berth(inst, ['stop']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toMatch(/stopped in \d+\.\d s/);
    expect(String(r.stderr)).toMatch(/note: shut down instead of suspending: a shared folder is still in use inside the VM/);
    expect(fs.existsSync(saved) || fs.existsSync(record)).toBe(false);
    expect(await supervisorGone(inst)).toBe(true);
    const s = await berth(inst, ['start']);
    expect(s.exitCode, String(s.stderr)).toBe(0);
    expect(String(s.stderr)).not.toMatch(/resumed|booted cold/);
  }, 600_000);

  it('a changed setting (memory) → cold boot with the reason; containers and a named volume intact', async () => {
    expect((await docker(inst, ['run', '--rm', '-v', 'keep:/data', IMG, 'sh', '-c', 'echo precious > /data/file && sync'])).exitCode).toBe(0);
    const listed = await names();
    await stopSuspended();
    fs.writeFileSync(path.join(inst.dir, 'berth.yaml'), yaml().replace(/memoryGiB: 2/, 'memoryGiB: 3'));
    await startCold(/memoryGiB 2 → 3/);
    expect((await statusOf(inst)).memoryGiB).toBe(3);
    expect(await names()).toEqual(listed);
    expect(String((await docker(inst, ['run', '--rm', '-v', 'keep:/data', IMG, 'cat', '/data/file'])).stdout).trim()).toBe('precious');
  }, 600_000);

  it('a disk changed after the save is never restored', async () => {
    await stopSuspended();
    const t = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(inst.dir, 'disk.qcow2'), t, t); // what any tool that opens it for writing does
    await startCold(/the disk changed after the save/);
  }, 600_000);

  it('a state file left by an interrupted save (no record) is never restored', async () => {
    await stopSuspended();
    fs.rmSync(record); // the record is written last: a crash before it leaves the state alone
    expect((await statusOf(inst)).saved).toBeUndefined();
    await startCold(/a saved state without its record \(an interrupted save\)/);
  }, 600_000);

  it('berth stop --shutdown powers off and discards a saved state', async () => {
    await stopSuspended();
    const r = await berth(inst, ['stop', '--shutdown']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toMatch(/the saved state was discarded/);
    expect(fs.existsSync(saved) || fs.existsSync(record)).toBe(false);
    expect((await statusOf(inst)).saved).toBeUndefined();
  }, 120_000);
});

// The berth CLI without a VM: usage errors, offline status, and bad input that must start nothing.
// Most cases call the CLI's main() in this process (what bin/berth.mjs runs, with its output
// captured): a fresh Node process per call costs 0.5–2 s on a loaded machine, and a case of four
// calls outgrew its time that way. A few cases run the real command, where a process is the point.
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../electron/cli/main.js';

const BERTH = path.resolve(import.meta.dirname, '../../../bin/berth.mjs');
/** One `node bin/berth.mjs` (its own timeout); a case that runs it gets this much time per run. */
const SPAWN_MS = 30_000;

const homes: string[] = [];
function home(): string {
  const h = fs.mkdtempSync('/tmp/bcli-');
  homes.push(h);
  return h;
}
afterAll(() => homes.forEach((h) => fs.rmSync(h, { recursive: true, force: true })));
/** The real command in its own process. */
async function berth(h: string, args: string[]) {
  const r = await execa('node', [BERTH, ...args], { env: { ...process.env, BERTH_HOME: h }, reject: false, timeout: SPAWN_MS - 1000 });
  return { code: r.exitCode, out: String(r.stdout), err: String(r.stderr) };
}

/** main() in this process, with BERTH_HOME set and stdout/stderr captured. */
async function cli(h: string, args: string[], opts: Parameters<typeof main>[1] = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  const before = process.env.BERTH_HOME;
  process.env.BERTH_HOME = h;
  try {
    const code = await main(args, opts);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    o.mockRestore();
    e.mockRestore();
    if (before === undefined) delete process.env.BERTH_HOME;
    else process.env.BERTH_HOME = before;
  }
}

describe('the berth command as a process', () => {
  it(
    'exit code and streams: JSON on stdout with 0; a usage error on stderr with 2',
    async () => {
      const h = home();
      const ok = await berth(h, ['status', '--json']);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.out)).toMatchObject({ instance: 'default', state: 'stopped' });
      const bad = await berth(h, ['launch']);
      expect(bad.code).toBe(2);
      expect(bad.out).toBe('');
      expect(bad.err).toMatch(/unknown command "launch"/);
    },
    2 * SPAWN_MS,
  );
});

describe('berth CLI usage errors exit 2 with the usage text', () => {
  const cases: [string, string[], RegExp][] = [
    ['no command', [], /no command given/],
    ['an unknown command', ['launch'], /unknown command "launch"/],
    ['an unknown flag', ['start', '--turbo'], /Unknown option '--turbo'/],
    ['a bad --arch', ['start', '--arch', 'riscv64'], /--arch must be aarch64 or x86_64, not "riscv64"/],
    ['a bad --cpus', ['start', '--cpus', 'many'], /--cpus must be a whole number ≥ 1, not "many"/],
    ['a bad --memory', ['start', '--memory', '0.5'], /--memory must be a number of GiB ≥ 1/],
    ['emulation without on/off', ['emulation', 'maybe'], /usage: berth emulation on\|off\|status/],
    ['a bad instance name', ['status', '--instance', '../etc'], /invalid instance name "..\/etc"/],
    ['--instance without a name', ['status', '--instance'], /--instance needs a name/],
    ['a bad logs source', ['logs', '--source', 'kernel'], /--source must be serial, events, agent or supervisor/],
  ];
  for (const [name, args, re] of cases) {
    it(name, async () => {
      const r = await cli(home(), args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(re);
      expect(r.err).toContain('usage: berth');
    });
  }
  it('help exits 0', async () => expect((await cli(home(), ['help'])).code).toBe(0));
});

describe('berth status without a VM', () => {
  it('a fresh instance is stopped', async () => {
    const h = home();
    const r = await cli(h, ['status', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ instance: 'default', state: 'stopped', pids: {} });
  });

  it('a crash leaves a state the next status recognises and repairs', async () => {
    const h = home();
    const dir = path.join(h, 'default');
    fs.mkdirSync(dir, { recursive: true });
    // What a SIGKILLed supervisor and QEMU leave behind: a dead pid, sockets, a last state "running".
    fs.writeFileSync(path.join(dir, 'qemu.pid'), '999999');
    fs.writeFileSync(path.join(dir, 'supervisor.pid'), '999998');
    fs.writeFileSync(path.join(dir, 'docker.sock'), '');
    fs.writeFileSync(path.join(dir, 'events.jsonl'), JSON.stringify({ ts: '2026-11-29T10:00:00.000Z', kind: 'state', state: 'running' }) + '\n');
    const r = await cli(h, ['status', '--json']);
    const s = JSON.parse(r.out);
    expect(s.state).toBe('error');
    expect(s.error.message).toMatch(/the VM is gone: the last recorded state was "running"/);
    for (const f of ['qemu.pid', 'supervisor.pid', 'docker.sock']) expect(fs.existsSync(path.join(dir, f)), f).toBe(false);
  });

  it('stop with nothing running says so and succeeds', async () => {
    const r = await cli(home(), ['stop']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/not running/);
  });

  it('a suspended instance: status shows the saved state, stop says how to resume or discard it, stop --shutdown discards it', async () => {
    const h = home();
    const dir = path.join(h, 'default');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'saved.vmstate'), Buffer.alloc(3 * 2 ** 20));
    const record = {
      version: 2,
      savedAt: '2026-11-29T10:00:00.000Z',
      saveMs: 500,
      qemu: { path: '/usr/bin/qemu-system-x86_64', version: '7.2.22', sha256: 'a'.repeat(64) },
      args: [],
      accel: 'tcg',
      sshPort: 40000,
      bootId: 'b00t',
      imageDir: '/img',
      recipeHash: 'abc',
      settings: {},
      disk: { size: 0, mtimeMs: 0, generation: 1 },
      stateBytes: 3 * 2 ** 20,
      stateSha256: 'b'.repeat(64),
      containersToRestart: [{ id: 'f00', name: 'web' }],
    };
    fs.writeFileSync(path.join(dir, 'saved.json'), JSON.stringify(record));
    const st = await cli(h, ['status']);
    expect(st.out).toMatch(/state: +stopped/);
    expect(st.out).toMatch(/saved: +3 MB at 2026-11-29T10:00:00.000Z; `berth start` resumes it and starts web again/);
    const stop = await cli(h, ['stop']);
    expect(stop.code).toBe(0);
    expect(stop.err).toMatch(/not running \(suspended: `berth start` resumes it, `berth stop --shutdown` discards the saved state\)/);
    expect(fs.existsSync(path.join(dir, 'saved.vmstate'))).toBe(true);
    const down = await cli(h, ['stop', '--shutdown']);
    expect(down.code).toBe(0);
    expect(down.err).toMatch(/the saved state was discarded, the next start boots cold/);
    for (const f of ['saved.vmstate', 'saved.json']) expect(fs.existsSync(path.join(dir, f)), f).toBe(false);
    expect(JSON.parse((await cli(h, ['status', '--json'])).out).saved).toBeUndefined();
  });
});

describe('bad input starts nothing and changes nothing', () => {
  it('a broken berth.yaml: exit 1, the key and line named, file untouched, no process left', async () => {
    const h = home();
    const dir = path.join(h, 'default');
    fs.mkdirSync(dir, { recursive: true });
    const yaml = 'cpus: 2\nmemoryGiB: lots\n';
    fs.writeFileSync(path.join(dir, 'berth.yaml'), yaml);
    const r = await berth(h, ['start']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/memoryGiB \(line 2\): must be a number, got string/);
    expect(r.err).toMatch(/hint: Fix berth.yaml \(nothing was changed or started\)/);
    expect(fs.readFileSync(path.join(dir, 'berth.yaml'), 'utf8')).toBe(yaml);
    expect(fs.existsSync(path.join(dir, 'disk.qcow2'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'qemu.pid'))).toBe(false);
  }, 2 * SPAWN_MS); // the command, and the headless supervisor it starts

  it('a BERTH_HOME too long for unix sockets is refused with the fix', async () => {
    const h = path.join(home(), 'x'.repeat(90));
    const r = await berth(h, ['start', '--foreground']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/socket path is \d+ bytes, over the 103-byte limit/);
    expect(r.err).toMatch(/Set BERTH_HOME to a shorter directory/);
  }, SPAWN_MS);
});

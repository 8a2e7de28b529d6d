// The guest boundary: typed operations send the guest's own commands over whatever transport is
// given, and read their answers back; the commands themselves are shell a real bash accepts.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GUEST_COMMANDS, Guest, notSent, parseBootId, parseMountsStatus } from '../../../electron/engine/guest/index.js';
import type { ExecResult, GuestTransport } from '../../../electron/engine/guest/index.js';

/** A transport that answers from a table and records what was sent. */
function transport(answers: Record<string, Partial<ExecResult>>): GuestTransport & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    exec: async (cmd) => {
      sent.push(cmd);
      const a = answers[cmd];
      if (!a) throw new Error('host agent is not running');
      return { code: 0, stdout: '', stderr: '', ...a };
    },
  };
}

describe('guest', () => {
  it('mounts status: each share with its path, ok or failed with the reason', async () => {
    const t = transport({ [GUEST_COMMANDS.mountsStatus]: { stdout: 'berth0\t/Users/ada\tok\t\nberth1\t/tmp/x\tfailed\tNo such device \n' } });
    expect(await new Guest(t).mountsStatus(1000)).toEqual([
      { tag: 'berth0', path: '/Users/ada', ok: true },
      { tag: 'berth1', path: '/tmp/x', ok: false, reason: 'No such device ' },
    ]);
    expect(parseMountsStatus('')).toEqual([]);
  });

  it('emulation: status, the self-test of a foreign binary, on and off', async () => {
    const t = transport({
      'berth-emulation status': { stdout: 'enabled\n' },
      'berth-emulation on': {},
      [GUEST_COMMANDS.emulationSelfTest('x86_64')]: { stdout: 'x86_64\nqemu-x86_64 version 8.2.2\n' },
    });
    const g = new Guest(t);
    expect((await g.emulationStatus(1000)).on).toBe(true);
    expect(await g.emulationSelfTest('x86_64', 1000)).toEqual({ code: 0, machine: 'x86_64', interpreter: 'qemu-x86_64 version 8.2.2', stderr: '' });
    expect((await g.setEmulation(true, 1000)).code).toBe(0);
    expect(t.sent).toContain('/usr/share/berth/selftest/busybox-x86_64 uname -m; qemu-x86_64-static --version | head -n1');
  });

  it('clock: read as ms, set to the given instant', async () => {
    const t = transport({ [GUEST_COMMANDS.readClock]: { stdout: '1767225600.250000000\n' }, [GUEST_COMMANDS.setClock(1767225600250)]: {} });
    const g = new Guest(t);
    expect(await g.readClock(1000)).toBe(1767225600250);
    await g.setClock(1767225600250, 1000);
    expect(t.sent[1]).toMatch(/^date -u -s @1767225600\.250 /);
  });

  it('a command that cannot be sent rejects; notSent turns that into a failed result', async () => {
    const g = new Guest(transport({}));
    await expect(g.sync(1000)).rejects.toThrow('host agent is not running');
    expect(await g.sync(1000).catch(notSent)).toEqual({ code: null, stdout: '', stderr: 'host agent is not running' });
  });

  it('the boot id is the last line of the marker (a login shell may print a banner first)', () => {
    expect(parseBootId('Welcome\nab12cd34\n')).toBe('ab12cd34');
  });

  it('the ports watcher is a command bash runs: it prints the listener table and ends with its stdin', () => {
    const r = spawnSync('bash', ['-c', GUEST_COMMANDS.portWatch], { input: '', encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^L /);
  });
});

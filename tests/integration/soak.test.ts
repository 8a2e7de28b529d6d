// Start/stop soak: after N cycles the machine holds exactly what it held before the first —
// no Berth process, no open socket or file left behind. CI runs a few cycles; the full count is
// `BERTH_SOAK_CYCLES=100 npx vitest run --config tests/vitest.integration.mts tests/integration/soak.test.ts`.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { berth, docker, finish, listProcsMatching, newInstance, supervisorGone } from './harness.js';

const CYCLES = Number(process.env.BERTH_SOAK_CYCLES || 2);
const inst = newInstance('soak');
afterAll(() => finish(inst), 120_000);

/**
 * Listening TCP sockets held by this test process or by a process of this instance (QEMU's
 * forwards, the agent's, the supervisor's). Not the whole machine's: other programs open and
 * close listeners meanwhile (a count of all of them failed when another VM ran beside this one).
 */
function ourListeners(): number {
  const listening = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const l of fs.readFileSync(f, 'utf8').split('\n').slice(1)) {
      const c = l.trim().split(/\s+/);
      if (c[3] === '0A') listening.add(c[9]!); // state LISTEN; c[9] is the socket's inode
    }
  }
  let n = 0;
  for (const pid of new Set([process.pid, ...listProcsMatching(`BERTH_HOME=${inst.home}`), ...listProcsMatching(inst.home)])) {
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        const inode = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode && listening.has(inode)) n++;
      }
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

function snapshot() {
  return {
    berthProcesses: listProcsMatching(`BERTH_HOME=${inst.home}`).length + listProcsMatching(inst.home).length,
    listeningTcp: ourListeners(),
    unixSocketsInInstance: fs.existsSync(inst.dir) ? fs.readdirSync(inst.dir).filter((f) => f.endsWith('.sock')).length : 0,
    testProcessFds: fs.readdirSync('/proc/self/fd').length,
  };
}

describe(`start/stop soak (${CYCLES} cycles)`, () => {
  it('leaves no process, socket or descriptor behind', async () => {
    fs.mkdirSync(inst.dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(inst.dir, 'berth.yaml'), 'cpus: 2\nmemoryGiB: 2\nmounts: []\ndocker: {context: false}\n');
    const before = snapshot();
    for (let i = 0; i < CYCLES; i++) {
      const s = await berth(inst, ['start']);
      expect(s.exitCode, `cycle ${i}: ${s.stderr}`).toBe(0);
      expect((await docker(inst, ['version', '--format', '{{.Server.Version}}'])).exitCode).toBe(0);
      const st = await berth(inst, ['stop']);
      expect(st.exitCode, `cycle ${i}: ${st.stderr}`).toBe(0);
      expect(await supervisorGone(inst), `cycle ${i}: the supervisor exits after the stop`).toBe(true);
    }
    const after = snapshot();
    expect(after).toEqual(before);
  }, 600_000 + CYCLES * 180_000);
});

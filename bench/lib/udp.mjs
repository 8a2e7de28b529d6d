// UDP round-trip latency in one run: the same static echo program (tests/integration/udp-echo.c)
// serves in the guest, reached from the host through Berth's forward (relay → QEMU's hostfwd), and
// on the host's own loopback (the baseline).
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { now } from './util.mjs';

const GUEST_PORT = 25353;
const HOST_PORT = 25355;
/** sequential ping-pongs per sample */
const N = 200;

/** Median round trip (ms) of N sequential 64-byte datagrams to host:port from one socket. */
function rtt(host, port, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(host === '::1' ? 'udp6' : 'udp4');
    const times = [];
    let t0 = 0;
    const payload = Buffer.alloc(64, 7);
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`no UDP echo on ${host}:${port} (${times.length} of ${N} answered)`));
    }, timeoutMs);
    const next = () => {
      t0 = now();
      s.send(payload, port, host);
    };
    s.on('message', () => {
      times.push(now() - t0);
      if (times.length === N) {
        clearTimeout(timer);
        s.close();
        times.sort((a, b) => a - b);
        resolve(times[Math.floor(N / 2)]);
      } else next();
    });
    s.bind(0, host, next);
  });
}

async function until(what, fn, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: ${e.message}`);
    }
  }
}

/** `inst` is the BenchInstance; `shell` runs a command in the guest; `fig` records a figure. */
export async function udpBench({ inst, shell, fig, runs, results }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'budp-'));
  const bin = path.join(dir, 'udp-echo');
  const cc = spawnSync('gcc', ['-static', '-O2', '-o', bin, path.join(import.meta.dirname, '..', '..', 'tests', 'integration', 'udp-echo.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc -static udp-echo.c: ${cc.stderr}`);
  const up = await inst.berth(['shell', '--', 'sh', '-c', 'cat > /tmp/udp-echo && chmod +x /tmp/udp-echo'], { input: fs.readFileSync(bin), timeoutMs: 60_000 });
  if (up.code !== 0) throw new Error(`copying udp-echo into the guest: ${up.stderr}`);
  await shell(`setsid /tmp/udp-echo ${GUEST_PORT} </dev/null >/dev/null 2>&1 &`);
  const host = spawn(bin, [String(HOST_PORT), '127.0.0.1'], { stdio: 'ignore' });

  try {
    // warm up: the forward appears within a poll of the guest watcher
    await until('the Berth UDP forward', () => rtt('127.0.0.1', GUEST_PORT, 2000), 30_000);
    const berth4 = [];
    const berth6 = [];
    const loop = [];
    for (let i = 0; i < runs; i++) {
      berth4.push(await rtt('127.0.0.1', GUEST_PORT));
      berth6.push(await rtt('::1', GUEST_PORT));
      loop.push(await rtt('127.0.0.1', HOST_PORT));
    }
    const note = `median of ${N} sequential 64-byte round trips per sample; the guest echo and the host echo are the same static program`;
    fig('udp: round trip through a Berth forward vs the host loopback (ms)', berth4, 'ms', loop);
    results.figures['udp: round trip through a Berth forward vs the host loopback (ms)'].note = `${note}; baseline: that echo on the host's 127.0.0.1`;
    fig('udp: round trip through a Berth forward from ::1 vs the host loopback (ms)', berth6, 'ms', loop);
  } finally {
    host.kill();
    await shell(`pkill -f '[u]dp-echo 253' || true`).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

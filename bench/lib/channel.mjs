// Guest channel throughput without a VM: 200 MB each way through ChannelLink and the real berth-guestd (built natively,
// `--connect` to a unix socket this script serves as QEMU's chardev would) to a unix socket server, against the same
// copy over one plain unix socket. Everything but the agent runs in this one Node process in both cases, so both pay
// the same event-loop cost for the far end. Prints MB/s; no assertion.
//   node bench/lib/channel.mjs [MB] [rounds]     (BERTH_DIST: a tsc output dir holding electron/engine/channel, default dist/)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIST = process.env.BERTH_DIST ?? path.join(ROOT, 'dist');
const { ChannelLink } = await import(path.join(DIST, 'electron', 'engine', 'channel', 'link.js'));

const MB = Number(process.argv[2] ?? 200);
const TOTAL = MB * 1024 * 1024;
const ROUNDS = Number(process.argv[3] ?? 5);
const CHUNK = Buffer.alloc(1024 * 1024, 0x5a);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chan-bench-'));
const listen = (name, onConn) =>
  new Promise((r) => {
    const p = path.join(dir, name);
    const srv = net.createServer({ allowHalfOpen: true }, onConn);
    srv.listen(p, () => r({ path: p, srv }));
  });

/** Writes TOTAL bytes honouring backpressure, then ends. */
function pour(s) {
  let left = TOTAL;
  const more = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!s.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void s.once('drain', more);
    }
    s.end();
  };
  more();
}

function drain(s) {
  return new Promise((resolve, reject) => {
    let n = 0;
    s.on('data', (c) => (n += c.length));
    s.on('end', () => resolve(n));
    s.on('error', reject);
  });
}

// the sink answers with the byte count once the upload has ended; the source pours on connect
const sink = await listen('sink.sock', (s) => drain(s).then((n) => s.end(String(n))));
const source = await listen('source.sock', (s) => pour(s));

async function upload(open) {
  const s = await open(sink.path);
  const t0 = performance.now();
  const answer = new Promise((resolve, reject) => {
    let text = '';
    s.on('data', (c) => (text += c));
    s.on('end', () => resolve(text));
    s.on('error', reject);
  });
  pour(s);
  const n = Number(await answer);
  if (n !== TOTAL) throw new Error(`the sink got ${n} of ${TOTAL} bytes`);
  return (MB / (performance.now() - t0)) * 1000;
}

async function download(open) {
  const t0 = performance.now();
  const s = await open(source.path);
  const n = await drain(s);
  if (n !== TOTAL) throw new Error(`got ${n} of ${TOTAL} bytes`);
  return (MB / (performance.now() - t0)) * 1000;
}

const plain = (p) =>
  new Promise((resolve, reject) => {
    const s = net.createConnection(p, () => resolve(s));
    s.once('error', reject);
  });

const arch = os.arch() === 'arm64' ? 'aarch64' : 'x86_64';
const b = spawnSync('bash', [path.join(ROOT, 'build', 'guest', 'build-agent.sh'), arch, path.join(dir, 'bin')], { encoding: 'utf8' });
if (b.status !== 0) throw new Error(`build-agent.sh failed: ${b.stderr}`);
const accepted = [];
const waiters = [];
const chardev = await listen('guest.sock', (s) => (waiters.length ? waiters.shift()(s) : accepted.push(s)));
const agent = spawn(path.join(dir, 'bin', 'berth-guestd'), ['--connect', chardev.path], { stdio: ['ignore', 'ignore', 'inherit'] });
const link = new ChannelLink('', { connect: () => (accepted.length ? accepted.shift() : new Promise((r) => waiters.push(r))) });
await link.connectUntil(Date.now() + 10_000);

const rows = [];
try {
  // warm-up, then alternate so neither side gets the warmer machine
  await upload(plain);
  await upload((p) => link.openUnix(p));
  for (let round = 0; round < ROUNDS; round++) {
    rows.push({ path: 'plain unix socket', up: await upload(plain), down: await download(plain) });
    rows.push({ path: 'channel (berth-guestd)', up: await upload((p) => link.openUnix(p)), down: await download((p) => link.openUnix(p)) });
  }
} finally {
  link.close();
  agent.kill('SIGKILL');
  for (const s of [sink, source, chardev]) s.srv.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`${MB} MB per transfer, ${os.cpus().length} CPUs, node ${process.version}`);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const name of ['plain unix socket', 'channel (berth-guestd)']) {
  const mine = rows.filter((r) => r.path === name);
  const fmt = (xs) => `median ${median(xs).toFixed(0).padStart(5)} MB/s (${xs.map((x) => x.toFixed(0)).join(' ')})`;
  console.log(`${name.padEnd(24)} host→guest ${fmt(mine.map((r) => r.up))}   guest→host ${fmt(mine.map((r) => r.down))}`);
}

// Feature benchmarks on one VM, each a ratio against a baseline measured in the same run:
//   emulation  a CPU-bound shell loop under qemu-user (foreign busybox) vs the native busybox
//   mounts     sequential write/read and 5,000 small files through the 9p mount vs the host disk
//   ports      listener → host port answering (delay); throughput through a Berth forward vs
//              QEMU's own hostfwd to the same guest server (added live on qmp-debug.sock)
//   dns        a name looked up from a container vs on the host (bench/lib/dns.mjs)
//   udp        UDP round trip through a forward vs the host loopback (bench/lib/udp.mjs)
// Usage: npm run bench:features [-- emulation mounts ports dns udp]   (BENCH_RUNS=N, default 3)
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { BenchInstance } from './lib/berth.mjs';
import { dnsBench } from './lib/dns.mjs';
import { udpBench } from './lib/udp.mjs';
import { loadavg, log, machineInfo, now, round, summarize } from './lib/util.mjs';

const RUNS = Number(process.env.BENCH_RUNS || 3);
const want = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const pick = (name) => !want.length || want.includes(name);

const home = fs.mkdtempSync('/tmp/bfeat-');
const share = path.join(home, 'share');
fs.mkdirSync(share);
const inst = new BenchInstance({ home, ...(process.env.BERTH_IMAGE_DIR ? { imageDir: process.env.BERTH_IMAGE_DIR } : {}) });
fs.writeFileSync(inst.file('berth.yaml'), `cpus: 2\nmemoryGiB: 2\nmounts:\n  - location: ${share}\n    writable: true\ndocker: {context: false}\n`);
const results = { machine: machineInfo(), loadavgBefore: loadavg(), figures: {} };

const shell = async (cmd, timeoutMs = 600_000) => {
  const r = await inst.berth(['shell', '--', 'sh', '-c', cmd], { timeoutMs });
  if (r.code !== 0) throw new Error(`guest command failed (${r.code}): ${cmd}\n${r.stderr}`);
  return r.stdout.trim();
};
const fig = (name, values, unit, baseline, goal) => {
  const s = summarize(values);
  const b = baseline ? summarize(baseline) : null;
  results.figures[name] = { unit, ...s, ...(b ? { baseline: b, ratio: round(s.median / b.median, 3) } : {}), ...(goal ? { goal } : {}) };
  log(`${name}: median ${round(s.median, 2)} ${unit}${b ? ` vs baseline ${round(b.median, 2)} ${unit} → ${round(s.median / b.median, 2)}×` : ''}${goal ? ` (goal ${goal})` : ''}`);
};

async function emulation() {
  const on = await inst.berth(['emulation', 'on'], { timeoutMs: 120_000 });
  if (on.code !== 0) throw new Error(`emulation on failed: ${on.stderr}`);
  const foreign = JSON.parse((await inst.berth(['status', '--json'])).stdout).emulation.foreignArch;
  const loop = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done";
  const time = async (bin) => {
    const out = await shell(`s=$(date +%s%N); ${bin} sh -c '${loop}'; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))`);
    return Number(out.split('\n').pop());
  };
  const native = [];
  const emulated = [];
  for (let i = 0; i < RUNS; i++) {
    native.push(await time('/bin/busybox'));
    emulated.push(await time(`/usr/share/berth/selftest/busybox-${foreign}`));
  }
  fig(`emulation: CPU loop under qemu-${foreign} (ms)`, emulated, 'ms', native);
}

function hostDiskBaseline() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bfeat-host-'));
  const size = 256 * 2 ** 20;
  const buf = Buffer.alloc(4 * 2 ** 20, 7);
  let t = now();
  const fd = fs.openSync(path.join(dir, 'seq'), 'w');
  for (let w = 0; w < size; w += buf.length) fs.writeSync(fd, buf);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const writeMBs = 256 / ((now() - t) / 1000);
  t = now();
  const rfd = fs.openSync(path.join(dir, 'seq'), 'r');
  while (fs.readSync(rfd, buf, 0, buf.length, null) > 0);
  fs.closeSync(rfd);
  const readMBs = 256 / ((now() - t) / 1000);
  t = now();
  fs.mkdirSync(path.join(dir, 'small'));
  for (let i = 0; i < 5000; i++) fs.writeFileSync(path.join(dir, 'small', `f${i}`), 'x');
  for (let i = 0; i < 5000; i++) fs.statSync(path.join(dir, 'small', `f${i}`));
  const smallMs = now() - t;
  fs.rmSync(dir, { recursive: true, force: true });
  return { writeMBs, readMBs, smallMs };
}

async function mounts() {
  // Inside the VM, through the 9p mount (the page cache dropped before reading, as on the host side
  // a fresh file is read right after writing it — both measure the same path).
  const w = [];
  const r = [];
  const small = [];
  const hw = [];
  const hr = [];
  const hs = [];
  for (let i = 0; i < RUNS; i++) {
    const out = await shell(
      `cd '${share}' && s=$(date +%s%N); dd if=/dev/zero of=seq bs=4M count=64 conv=fsync 2>/dev/null; e=$(date +%s%N); ` +
        `echo 3 > /proc/sys/vm/drop_caches; s2=$(date +%s%N); dd if=seq of=/dev/null bs=4M 2>/dev/null; e2=$(date +%s%N); rm -f seq; ` +
        `mkdir -p small && s3=$(date +%s%N); i=0; while [ $i -lt 5000 ]; do : > small/f$i; i=$((i+1)); done; ls -l small > /dev/null; e3=$(date +%s%N); rm -rf small; ` +
        `echo $(( (e-s)/1000000 )) $(( (e2-s2)/1000000 )) $(( (e3-s3)/1000000 ))`,
    );
    const [wm, rm, sm] = out.split('\n').pop().split(' ').map(Number);
    w.push(256 / (wm / 1000));
    r.push(256 / (rm / 1000));
    small.push(sm);
    const h = hostDiskBaseline();
    hw.push(h.writeMBs);
    hr.push(h.readMBs);
    hs.push(h.smallMs);
  }
  fig('mounts: sequential write through 9p (MB/s)', w, 'MB/s', hw);
  fig('mounts: sequential read through 9p (MB/s)', r, 'MB/s', hr, '≥ 0.5× host');
  fig('mounts: create + stat 5,000 small files through 9p (ms)', small, 'ms', hs);
}

function get(port) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

async function ports() {
  // Delay: a listener appears in the guest → the host port answers.
  const delays = [];
  for (let i = 0; i < Math.max(10, RUNS); i++) {
    const port = 24000 + i;
    const t0 = now();
    await shell(`mkdir -p /tmp/w && echo hi > /tmp/w/index.html && busybox httpd -p ${port} -h /tmp/w`);
    const tListen = now();
    for (;;) {
      try {
        if ((await get(port)) === 200) break;
      } catch {
        // not yet
      }
      if (now() - t0 > 20_000) throw new Error(`port ${port} never answered`);
      await new Promise((r) => setTimeout(r, 10));
    }
    delays.push(now() - tListen);
    // '[h]ttpd' so pkill -f does not match (and kill) the shell running it
    await shell(`pkill -f '[h]ttpd -p ${port}' || true`);
  }
  fig('ports: listener up → host port answers (ms)', delays, 'ms', null, 'median ≤ 500 ms');
  results.figures['ports: listener up → host port answers (ms)'].note = 'measured from the return of the `berth shell` that started the listener (an upper bound on detection + forward setup)';

  // Throughput: 64 MB from the guest through the forward vs straight over SSH (the forward's carrier).
  await shell('dd if=/dev/zero of=/tmp/w/blob bs=1M count=64 2>/dev/null; busybox httpd -p 24100 -h /tmp/w');
  for (;;) {
    try {
      if ((await get(24100)) === 200) break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  // Baseline: QEMU's user-mode hostfwd to the same guest server, added live on the debug monitor.
  const { QmpClient } = await import('../dist/electron/engine/qmp.js');
  const qmp = await QmpClient.connect(inst.file('qmp-debug.sock'));
  const reply = await qmp.hmp('hostfwd_add tcp:127.0.0.1:24101-:24100');
  if (/Could not/.test(reply)) throw new Error(`hostfwd_add: ${reply}`);
  const fetchMBs = (port) =>
    new Promise((resolve, reject) => {
      const t = now();
      let bytes = 0;
      http
        .get({ host: '127.0.0.1', port, path: '/blob', agent: false }, (res) => {
          res.on('data', (c) => (bytes += c.length));
          res.on('end', () => resolve(bytes / 2 ** 20 / ((now() - t) / 1000)));
        })
        .on('error', reject);
    });
  const fwd = [];
  const direct = [];
  for (let i = 0; i < RUNS; i++) {
    fwd.push(await fetchMBs(24100));
    direct.push(await fetchMBs(24101));
  }
  await qmp.hmp('hostfwd_remove tcp:127.0.0.1:24101');
  qmp.close();
  fig('ports: forward throughput (MB/s)', fwd, 'MB/s', direct, '≥ 0.9× baseline');
  results.figures['ports: forward throughput (MB/s)'].note = 'baseline: QEMU hostfwd (slirp) to the same guest server, same 64 MB file';
}

try {
  log(`booting a VM in ${home}`);
  const r = await inst.berth(['start'], { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`berth start failed:\n${r.stderr}`);
  results.accel = JSON.parse((await inst.berth(['status', '--json'])).stdout).accel;
  if (pick('emulation')) await emulation();
  if (pick('mounts')) await mounts();
  if (pick('ports')) await ports();
  if (pick('dns')) await dnsBench({ inst, shell, fig, runs: RUNS, results });
  if (pick('udp')) await udpBench({ inst, shell, fig, runs: RUNS, results });
} finally {
  await inst.berth(['stop', '--force'], { timeoutMs: 120_000 });
  results.loadavgAfter = loadavg();
  fs.mkdirSync(path.join(import.meta.dirname, 'results'), { recursive: true });
  // A partial run (`npm run bench:features -- ports`) updates its figures and keeps the others.
  const out = path.join(import.meta.dirname, 'results', 'features.json');
  const prev = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : { figures: {} };
  results.figures = { ...prev.figures, ...results.figures };
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  await new Promise((r) => setTimeout(r, 3500));
  fs.rmSync(home, { recursive: true, force: true });
}

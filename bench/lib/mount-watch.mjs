// Host-side mount watcher micro-bench (electron/engine/mounts/watch.ts, no VM): the watcher runs
// alone in a child process so its CPU and RSS are its own (process.cpuUsage covers the native
// watcher threads too, on Linux and macOS alike).
//   startup   time to watch a 100k-file tree (5,000 folders × 20 files, node_modules-like)
//   idle      CPU % of one core and RSS over 30 s with nothing changing
//   burst     5,000 new files written as fast as the disk takes them: CPU, batches, time until
//             the last one was delivered
//   latency   write → batch delivered, p50/p95 over 200 edits of existing files
// Usage: node bench/lib/mount-watch.mjs [--idle-seconds N] [--files N]   (results in bench/results/mount-watch.json)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import ts from 'typescript';
import { log, machineInfo, round, sleep } from './util.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const IDLE_S = arg('idle-seconds', 30);
const FILES = arg('files', 100_000);
const BURST = 5_000;
const EDITS = 200;
const repo = path.resolve(import.meta.dirname, '../..');
const clock = () => performance.timeOrigin + performance.now();

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-mwbench-'));
const root = path.join(work, 'tree');

function buildWatcherChild() {
  const dir = path.join(work, 'child');
  fs.mkdirSync(dir);
  for (const f of ['watch.ts', 'batcher.ts']) {
    const src = fs.readFileSync(path.join(repo, 'electron/engine/mounts', f), 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
    fs.writeFileSync(path.join(dir, f.replace(/\.ts$/, '.js')), js);
  }
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  // One JSON line per batch (delivery time, paths) and per `stats` request on stdin.
  fs.writeFileSync(
    path.join(dir, 'child.mjs'),
    `import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { watchMount } from './watch.js';
const clock = () => performance.timeOrigin + performance.now();
process.stdout.on('error', () => process.exit(0));
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const t0 = clock();
const w = await watchMount({ mount: 'bench', root: process.argv[2],
  onBatch: (b) => out({ batch: b.seq, at: clock(), paths: b.changes.map((c) => c.path) }),
  onProblem: (p) => out({ problem: p }) });
out({ ready: clock() - t0 });
readline.createInterface({ input: process.stdin }).on('line', async (l) => {
  if (l === 'stats') { const c = process.cpuUsage(); out({ stats: { cpuS: (c.user + c.system) / 1e6, rssMB: process.memoryUsage().rss / 2 ** 20 } }); }
  if (l === 'quit') { await w.close(); process.exit(0); }
});
`,
  );
  return path.join(dir, 'child.mjs');
}

function makeTree() {
  const perDir = 20;
  const dirs = Math.ceil(FILES / perDir);
  for (let d = 0; d < dirs; d++) {
    const p = path.join(root, `pkg${Math.floor(d / 50)}`, `sub${d % 50}`);
    fs.mkdirSync(p, { recursive: true });
    for (let i = 0; i < perDir; i++) fs.writeFileSync(path.join(p, `f${i}.js`), 'module.exports = 1;\n');
  }
  return dirs;
}

const pct = (xs, q) => {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)];
};

async function main() {
  log(`making a ${FILES}-file tree in ${root}`);
  const dirs = makeTree();
  const child = spawn(process.execPath, [buildWatcherChild(), root], { stdio: ['pipe', 'pipe', 'inherit'] });
  const listeners = new Set();
  const problems = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => {
    const m = JSON.parse(l);
    if (m.problem) problems.push(m.problem);
    for (const f of listeners) f(m);
  });
  const next = (pred, ms = 120_000) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for the watcher')), ms);
      const f = (m) => {
        if (!pred(m)) return;
        clearTimeout(t);
        listeners.delete(f);
        resolve(m);
      };
      listeners.add(f);
    });
  const stats = async () => {
    const p = next((m) => m.stats);
    child.stdin.write('stats\n');
    return (await p).stats;
  };

  const ready = await next((m) => m.ready !== undefined);
  const afterStart = await stats();
  log(`watching ${FILES} files in ${dirs} folders after ${round(ready.ready)} ms, RSS ${round(afterStart.rssMB, 1)} MB`);

  log(`idle for ${IDLE_S} s`);
  const rssIdle = [];
  const idle0 = await stats();
  for (let s = 0; s < IDLE_S; s++) {
    await sleep(1000);
    rssIdle.push((await stats()).rssMB);
  }
  const idle1 = await stats();
  const idleCpuPct = ((idle1.cpuS - idle0.cpuS) / IDLE_S) * 100;

  log(`burst of ${BURST} new files`);
  const seen = new Set();
  let batches = 0;
  let lastAt = 0;
  const want = new Set();
  const burstDir = path.join(root, 'burst');
  const onBatch = (m) => {
    if (!m.batch) return;
    batches++;
    for (const p of m.paths) if (want.has(p)) seen.add(p);
    lastAt = m.at;
  };
  listeners.add(onBatch);
  const b0 = await stats();
  const tBurst = clock();
  fs.mkdirSync(burstDir);
  for (let i = 0; i < BURST; i++) {
    const sub = path.join(burstDir, `m${i % 100}`);
    if (i < 100) fs.mkdirSync(sub);
    const f = path.join(sub, `c${i}.ts`);
    want.add(path.relative(root, f).split(path.sep).join('/'));
    fs.writeFileSync(f, `export default ${i};\n`);
  }
  const writeMs = clock() - tBurst;
  await new Promise((resolve, reject) => {
    const end = Date.now() + 60_000;
    const tick = () => (seen.size === want.size ? resolve() : Date.now() > end ? reject(new Error(`burst: ${seen.size}/${want.size} delivered; missing e.g. ${[...want].filter((p) => !seen.has(p)).slice(0, 8).join(' ')}`)) : setTimeout(tick, 20));
    tick();
  });
  const b1 = await stats();
  listeners.delete(onBatch);
  const burstMs = lastAt - tBurst;
  const burstCpuS = b1.cpuS - b0.cpuS;
  log(`burst: ${batches} batches, last delivered ${round(burstMs)} ms after the first write (writing took ${round(writeMs)} ms), watcher CPU ${round(burstCpuS, 3)} s, RSS ${round(b1.rssMB, 1)} MB`);

  log(`latency over ${EDITS} edits`);
  await sleep(500);
  const lat = [];
  for (let i = 0; i < EDITS; i++) {
    const rel = `pkg${i % 100}/sub${i % 50}/f${i % 20}.js`;
    const p = next((m) => m.batch && m.paths.includes(rel), 10_000);
    const t = clock();
    fs.appendFileSync(path.join(root, rel), `// ${i}\n`);
    lat.push((await p).at - t);
    await sleep(20);
  }
  const end = await stats();
  child.stdin.write('quit\n');
  await new Promise((r) => child.on('exit', r));

  const result = {
    machine: machineInfo(),
    at: new Date().toISOString(),
    tree: { files: FILES, folders: dirs },
    startupMs: round(ready.ready),
    idle: { seconds: IDLE_S, cpuPctOfOneCore: round(idleCpuPct, 3), rssMB: { start: round(afterStart.rssMB, 1), max: round(Math.max(...rssIdle), 1) } },
    burst: { files: BURST, batches, writeMs: round(writeMs), lastDeliveredMs: round(burstMs), cpuS: round(burstCpuS, 3), cpuPctOfOneCore: round((burstCpuS / (burstMs / 1000)) * 100, 1), rssMB: round(b1.rssMB, 1) },
    latencyMs: { n: lat.length, p50: round(pct(lat, 0.5), 1), p95: round(pct(lat, 0.95), 1), max: round(Math.max(...lat), 1) },
    rssEndMB: round(end.rssMB, 1),
    problems,
  };
  log(`latency: p50 ${result.latencyMs.p50} ms, p95 ${result.latencyMs.p95} ms`);
  const outFile = path.join(repo, 'bench/results/mount-watch.json');
  fs.writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
}

try {
  await main();
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

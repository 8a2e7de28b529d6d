#!/usr/bin/env node
// `npm run bench [-- start latency idle scaling]`: Berth's benchmarks, each figure against a
// baseline measured side by side in the same run (absolute times drift on shared machines).
// Writes bench/results/latest.json (+ latest.md, the table for the README). See bench/README.md.
//
// Environment:
//   BENCH_RUNS=N            runs per start-time figure (default 3)
//   BENCH_CONTAINERS=10,30  container counts for the scaling benchmark (default 10)
//   BENCH_WAIT_LOAD=1.5     wait (up to BENCH_WAIT_MAX_S, default 1200) for the 1-min load average
//                           to drop below this before starting
//   BENCH_KEEP=1            keep the BERTH_HOME of the run (default: deleted after a clean run)
//   BERTH_IMAGE_DIR         guest image to use (default: the product's cached build for this recipe)
//   BERTH_BENCH_BOOKWORM_IMAGE  the Debian 12 build of our recipe for the image benchmark (default:
//                           BERTH_DEBIAN_SUITE=bookworm build/guest/build-image.sh, cached)
import fs from 'node:fs';
import path from 'node:path';
import { benchCpus, benchIdleByHand, benchResume, benchSession, benchStart } from './lib/benches.mjs';
import { BenchInstance, ROOT } from './lib/berth.mjs';
import { cleanupByHand } from './lib/byhand.mjs';
import { benchGuestLink } from './lib/guest-link.mjs';
import { benchImage } from './lib/image.mjs';
import { loadavg, log, machineInfo, round, run, sleep, summarize } from './lib/util.mjs';

const ALL = ['start', 'image', 'resume', 'latency', 'idle', 'scaling', 'transport', 'throughput', 'portlatency'];
const RESULTS = path.join(ROOT, 'bench', 'results');

function parseArgs(argv) {
  const selected = argv.filter((a) => !a.startsWith('-'));
  for (const a of argv) {
    if (a === '-h' || a === '--help') {
      process.stdout.write(`usage: npm run bench [-- ${ALL.join(' ')}]   (default: all; BENCH_RUNS=N runs per start figure)\n`);
      process.exit(0);
    }
  }
  const bad = selected.filter((s) => !ALL.includes(s));
  if (bad.length) {
    process.stderr.write(`bench: unknown benchmark ${bad.join(', ')} (known: ${ALL.join(', ')})\n`);
    process.exit(2);
  }
  return selected.length ? ALL.filter((b) => selected.includes(b)) : ALL;
}

function positiveInt(name, def) {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: ${name} must be a whole number ≥ 1, not ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
}

/** The guest image: BERTH_IMAGE_DIR, else what the product itself would use (the cached build). */
async function resolveImage() {
  if (process.env.BERTH_IMAGE_DIR) return { dir: process.env.BERTH_IMAGE_DIR, how: 'BERTH_IMAGE_DIR' };
  log('image: asking build/guest/build-image.sh for the cached image of the current recipe');
  const r = await run('bash', [path.join(ROOT, 'build', 'guest', 'build-image.sh'), 'x86_64', '--print-dir'], { timeoutMs: 900_000 });
  const dir = r.stdout.trim().split('\n').pop();
  if (r.code !== 0 || !dir || !fs.existsSync(path.join(dir, 'manifest.json'))) {
    throw new Error(`could not get the guest image (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return { dir, how: r.ms > 5000 ? `built (${Math.round(r.ms / 1000)} s)` : 'cached build' };
}

async function waitForQuiet() {
  const limit = Number(process.env.BENCH_WAIT_LOAD);
  if (!limit) return 0;
  const maxS = Number(process.env.BENCH_WAIT_MAX_S) || 1200;
  const t0 = Date.now();
  while (loadavg()[0] >= limit && Date.now() - t0 < maxS * 1000) {
    log(`waiting for the load average to drop below ${limit}`);
    await sleep(30_000);
  }
  return Math.round((Date.now() - t0) / 1000);
}

// ---------------------------------------------------------------- figures

function makeFigure(f) {
  const stats = summarize(f.samples ?? []);
  const value = f.value ?? stats?.median ?? null;
  const out = { id: f.id, bench: f.bench, label: f.label, unit: f.unit, value, median: stats?.median ?? null, min: stats?.min ?? null, max: stats?.max ?? null, n: stats?.n ?? 0 };
  if (f.baseline) {
    const bs = summarize(f.baseline.samples ?? []);
    const bv = f.baseline.value ?? bs?.median ?? null;
    out.baseline = { label: f.baseline.label, value: bv, median: bs?.median ?? null, min: bs?.min ?? null, max: bs?.max ?? null, n: bs?.n ?? 0 };
    out.ratio = bv ? value / bv : null;
    out.overhead = value !== null && bv !== null ? value - bv : null;
  }
  if (f.goal) {
    const metric = f.goal.on === 'ratio' ? out.ratio : f.goal.on === 'overhead' ? out.overhead : value;
    out.goal = { text: f.goal.text, on: f.goal.on, max: f.goal.max, measured: metric };
    out.met = metric !== null && metric !== undefined ? metric <= f.goal.max : null;
  }
  if (f.note) out.note = f.note;
  out.load1 = loadavg()[0];
  out.samples = f.samples;
  if (f.baseline) out.baseline.samples = f.baseline.samples;
  return roundFigure(out);
}

function roundFigure(o) {
  const r = (x) => (typeof x === 'number' ? round(x, Math.abs(x) >= 100 ? 1 : 3) : x);
  const c = { ...o };
  for (const k of ['value', 'median', 'min', 'max', 'ratio', 'overhead']) c[k] = r(c[k]);
  if (c.samples) c.samples = c.samples.map(r);
  if (c.baseline) {
    c.baseline = { ...c.baseline };
    for (const k of ['value', 'median', 'min', 'max']) c.baseline[k] = r(c.baseline[k]);
    if (c.baseline.samples) c.baseline.samples = c.baseline.samples.map(r);
  }
  if (c.goal) c.goal = { ...c.goal, measured: r(c.goal.measured) };
  return c;
}

const fmt = (x, unit) => {
  if (x === null || x === undefined) return '—';
  const d = unit === 's' ? 2 : unit === 'MB' ? 0 : unit === '%' ? 2 : Math.abs(x) >= 100 ? 0 : 2;
  return `${x.toFixed(d)}${unit === '%' ? ' %' : ` ${unit}`}`;
};

function rows(figures) {
  return figures.map((f) => {
    const spread = f.n > 1 ? `${fmt(f.median, f.unit)} [${fmt(f.min, f.unit)}–${fmt(f.max, f.unit)}] n=${f.n}` : '';
    const base = f.baseline ? `${fmt(f.baseline.value, f.unit)} ${f.baseline.label}` : '';
    let ratio = f.ratio !== undefined && f.ratio !== null ? `${f.ratio.toFixed(2)}×` : '';
    if (f.goal?.on === 'overhead') ratio = `${f.overhead >= 0 ? '+' : ''}${fmt(f.overhead, f.unit)}`;
    const goal = f.goal ? `${f.goal.text}: ${f.met ? 'met' : 'NOT met'}` : '';
    return { figure: f.label, value: fmt(f.value, f.unit), spread, base, ratio, goal };
  });
}

function textTable(figures) {
  const rs = rows(figures);
  const cols = [
    ['figure', 'figure'],
    ['value', 'value'],
    ['spread', 'median [min–max]'],
    ['ratio', 'vs baseline'],
    ['base', 'baseline'],
    ['goal', 'goal'],
  ];
  const w = cols.map(([k, h]) => Math.min(80, Math.max(h.length, ...rs.map((r) => r[k].length))));
  const line = (cells) => cells.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
  return [line(cols.map((c) => c[1])), line(w.map((n) => '-'.repeat(n))), ...rs.map((r) => line(cols.map(([k]) => r[k])))].join('\n');
}

function markdownTable(figures) {
  const esc = (s) => s.replace(/\|/g, '\\|');
  const rs = rows(figures);
  return [
    '| figure | value | median [min–max] | vs baseline | baseline | goal |',
    '|---|---|---|---|---|---|',
    ...rs.map((r) => `| ${esc(r.figure)} | ${r.value} | ${r.spread} | ${r.ratio} | ${esc(r.base)} | ${r.goal} |`),
  ].join('\n');
}

// ---------------------------------------------------------------- main

async function main() {
  const selected = parseArgs(process.argv.slice(2));
  const runs = positiveInt('BENCH_RUNS', 3);
  const containerSizes = (process.env.BENCH_CONTAINERS || '10')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => a - b);
  const t0 = Date.now();
  const waitedS = await waitForQuiet();
  const loadBefore = loadavg();
  const machine = machineInfo();
  log(`benchmarks: ${selected.join(', ')}; ${runs} run(s) per start figure; load ${loadBefore.join(' ')}`);
  const image = await resolveImage();
  const manifest = JSON.parse(fs.readFileSync(path.join(image.dir, 'manifest.json'), 'utf8'));
  const home = fs.mkdtempSync('/tmp/bbench-');
  const inst = new BenchInstance({ home, imageDir: image.dir });
  inst.writeConfig({ cpus: 2 });
  log(`instance: BERTH_HOME=${home}, image ${image.dir} (${image.how})`);

  const ctx = {
    inst,
    imageDir: image.dir,
    runs,
    machine,
    containerSizes,
    containerBudgetS: 300,
    figures: [],
    notes: [],
    skipped: [],
    extra: {},
    accel: null,
    figure(f) {
      const fig = makeFigure(f);
      this.figures.push(fig);
      return fig;
    },
    noteStatus(st) {
      this.accel ??= { accel: st.accel ?? null, accelNote: st.accelNote ?? null };
    },
  };

  let failure = null;
  let interrupted = false;
  const onSignal = (sig) => {
    if (interrupted) return;
    interrupted = true;
    log(`${sig}: stopping every VM this run started`);
    void (async () => {
      await cleanupByHand();
      await inst.forceStop();
      process.exit(130);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const want = (b) => selected.includes(b);
  try {
    if (want('start')) await benchStart(ctx);
    if (want('image')) await benchImage(ctx);
    if (want('resume')) await benchResume(ctx);
    if (want('latency') || want('idle') || want('scaling')) {
      await benchSession(ctx, { latency: want('latency'), idle: want('idle'), containers: want('scaling') });
    }
    if (want('idle')) await benchIdleByHand(ctx);
    if (want('scaling')) await benchCpus(ctx);
    if (want('transport') || want('throughput') || want('portlatency')) {
      await benchGuestLink(ctx, { transport: want('transport'), throughput: want('throughput'), portlatency: want('portlatency') });
    }
  } catch (e) {
    failure = e;
    log(`FAILED: ${e.stack || e.message}`);
  } finally {
    await cleanupByHand();
    await inst.forceStop();
  }
  if (want('scaling') && !ctx.containerSizes.includes(100)) {
    ctx.skipped.push({
      id: 'scaling.containers100',
      reason: `not run by default: under TCG on ${machine.cpus} cores each \`docker run -d\` takes seconds (see scaling.dockerRun), so 100 containers take minutes; BENCH_CONTAINERS=10,100 runs it`,
    });
  }

  // A partial run (`npm run bench -- resume`) keeps the other benchmarks' figures of the last full
  // table, marked with their own date, so latest.md stays the whole picture.
  const previous = (() => {
    try {
      return JSON.parse(fs.readFileSync(path.join(RESULTS, 'latest.json'), 'utf8'));
    } catch {
      return null;
    }
  })();
  if (!failure && previous?.figures && selected.length < ALL.length) {
    const fresh = new Set(ctx.figures.map((f) => f.id));
    const kept = previous.figures.filter((f) => !selected.includes(f.bench) && !fresh.has(f.id)).map((f) => ({ ...f, measuredAt: f.measuredAt ?? previous.createdAt }));
    const order = (f) => ALL.indexOf(f.bench === 'stop' ? 'start' : f.bench);
    ctx.figures = [...kept, ...ctx.figures].sort((a, b) => order(a) - order(b));
    if (kept.length) ctx.notes.push(`figures of ${[...new Set(kept.map((f) => f.bench))].join(', ')} are from the run of ${String(kept[0].measuredAt).slice(0, 10)} (load ${previous.load?.before?.join(' ') ?? '?'}); this run measured ${selected.join(', ')}`);
  }

  const result = {
    schema: 1,
    createdAt: new Date().toISOString(),
    durationS: Math.round((Date.now() - t0) / 1000),
    benchmarks: selected,
    runs,
    ok: failure === null,
    ...(failure ? { error: String(failure.message) } : {}),
    machine,
    load: { before: loadBefore, after: loadavg(), waitedS, note: '1-, 5- and 15-minute load averages; each figure also records the 1-minute load when it was taken' },
    accelerator: ctx.accel,
    image: { dir: image.dir, recipeHash: manifest.recipeHash, kernelVersion: manifest.kernelVersion, how: image.how },
    berthHome: home,
    method: {
      start: 'Both sides timed from spawn (berth: `node bin/berth.mjs start`; baseline: the same QEMU binary and arguments from the instance’s qemu.args.json, Berth stopped) to the first HTTP GET /_ping answered 200: berth through its forwarded docker.sock, the baseline through an SSH stream-local channel to the guest’s /var/run/docker.sock (npm ssh2, connected as soon as TCP probes see sshd’s banner). Both poll every 100 ms. Runs alternate ABBA. The disk has booted before (warm-up run).',
      stop: 'berth: wall time of `berth stop`; baseline: QMP system_powerdown until QEMU exits. 5 s after Docker answered.',
      latency: 'Each request opens a new connection and sends `GET <path> HTTP/1.0`, read to EOF. Host: Node on Berth’s docker.sock. Guest: perl on /var/run/docker.sock (CLOCK_MONOTONIC). 5 rounds interleaved.',
      idle: `CPU = utime+stime of all threads from /proc/PID/stat over a 30 s window, ${20} s after Docker answered; median/min/max over 5 s slices. RSS = VmRSS, max of 1 s samples.`,
    },
    figures: ctx.figures,
    skipped: ctx.skipped,
    notes: ctx.notes,
    extra: ctx.extra,
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  // a failed run does not overwrite the last good results
  const json = path.join(RESULTS, failure ? 'failed.json' : 'latest.json');
  fs.writeFileSync(json, JSON.stringify(result, null, 2) + '\n');
  const md = [
    `Measured ${result.createdAt.slice(0, 10)} on ${machine.cpus} × ${machine.model}, ${machine.memoryGiB} GiB, ${machine.kernel}; accelerator ${(ctx.accel?.accel ?? '?').toUpperCase()}; load average before ${loadBefore.join(' ')}, after ${result.load.after.join(' ')}; ${runs} run(s) per start figure.`,
    '',
    markdownTable(ctx.figures),
    '',
    ...ctx.skipped.map((s) => `- skipped \`${s.id}\`: ${s.reason}`),
    ...ctx.notes.map((n) => `- ${n}`),
  ].join('\n');
  if (!failure) fs.writeFileSync(path.join(RESULTS, 'latest.md'), md + '\n');

  process.stdout.write('\n' + textTable(ctx.figures) + '\n\n');
  for (const s of ctx.skipped) process.stdout.write(`skipped ${s.id}: ${s.reason}\n`);
  for (const n of ctx.notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(`accelerator: ${ctx.accel?.accel ?? '?'}${ctx.accel?.accelNote ? ` (${ctx.accel.accelNote})` : ''}\n`);
  process.stdout.write(`load average before ${loadBefore.join(' ')}, after ${result.load.after.join(' ')}; ${result.durationS} s in all\n`);
  process.stdout.write(`results: ${path.relative(process.cwd(), json)}${failure ? '' : ' (and latest.md)'}\n`);
  if (failure) {
    process.stdout.write(`FAILED: ${failure.message}\nthe instance is kept for inspection: ${home}\n`);
    process.exitCode = 1;
  } else if (!process.env.BENCH_KEEP) {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

await main();

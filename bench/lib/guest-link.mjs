// The guest link benchmarks (issue 20): the same instance started once with `guestTransport:
// channel` and once with `guestTransport: ssh` (a stop between), each session measuring what the
// transport carries, against baselines taken in the same run:
//   transport   — GET /_ping overhead over the in-guest request, whole Berth idle CPU vs QEMU by
//                 hand (one by-hand boot, same command line, serves both), `berth start` → _ping
//                 channel vs SSH (ABBA), berth-guestd / berth-portwatch RSS in the guest;
//   throughput  — one HTTP download of BENCH_THROUGHPUT_MB (default 200) MB from a container's
//                 published port through Berth's forward vs a QEMU hostfwd (added live over
//                 qmp-debug.sock) to the same server, interleaved;
//   portlatency — host port answering after `docker run -d -p` returns (20 containers) and after a
//                 plain guest listener is started (20 busybox httpd), p50/p95.
// BENCH_SSH=0 runs the throughput/portlatency sessions on the channel only.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ensureWarm } from './benches.mjs';
import { ROOT } from './berth.mjs';
import { bootByHand, stopByHand } from './byhand.mjs';
import { Guest } from './guest.mjs';
import { sampleProcesses } from './proc.mjs';
import { log, now, rawHttp, round, run, sleep, summarize } from './util.mjs';

const { QmpClient } = await import(path.join(ROOT, 'dist', 'electron', 'engine', 'qmp.js'));

/** the same windows as the idle benchmark (benches.mjs), so the figures compare */
const SETTLE_BEFORE_IDLE_S = 20;
const IDLE_WINDOW_S = 30;
const IDLE_SLICE_S = 5;
const SETTLE_BEFORE_STOP_S = 5;
const IMAGE = 'berth-bench/busybox:httpd';
/** the guest port of the throughput server (published as the same port) */
const THROUGHPUT_PORT = 18080;
const PORT_SAMPLES = 20;
/** host (= guest) ports of the port-latency containers and plain listeners */
const CONTAINER_PORTS = 18100;
const PLAIN_PORTS = 18200;
/** how often the host asks "does the port answer?" while timing a forward's appearance */
const POLL_MS = 5;
const CONTAINER_WAIT_MS = 10_000;
const PLAIN_WAIT_MS = 15_000;

export async function benchGuestLink(ctx, want) {
  const { inst } = ctx;
  await ensureWarm(ctx);
  for (const p of [THROUGHPUT_PORT, ...range(CONTAINER_PORTS, PORT_SAMPLES), ...range(PLAIN_PORTS, PORT_SAMPLES)]) {
    if (!(await hostPortFree(p))) throw new Error(`host port ${p} is in use; the guest link benchmark forwards it`);
  }
  const sessions = want.transport || process.env.BENCH_SSH !== '0' ? ['channel', 'ssh'] : ['channel'];
  const by = {};
  try {
    by.channel = await session(ctx, 'channel', want);
    if (sessions.includes('ssh')) {
      // the SSH session is the comparison: if it fails, the channel's figures still stand
      try {
        by.ssh = await session(ctx, 'ssh', want);
      } catch (e) {
        log(`guest link: the SSH session failed: ${e.message}`);
        ctx.notes.push(`guest link: the guestTransport ssh session failed (${e.message}); its comparisons are missing`);
        await inst.forceStop();
      }
    }
  } finally {
    setTransport(inst, 'channel');
  }
  ctx.notes.push(
    'guest link: one instance, started with guestTransport channel, stopped, started with guestTransport ssh (`guestLink.transport` of `berth status` checked each time); idle = 30 s after a 20 s settle with no bench connection open, against one QEMU-by-hand boot of the same command line',
  );
  const boot = { channel: [by.channel.bootS], ssh: by.ssh ? [by.ssh.bootS] : [] };
  if (want.transport && by.ssh) {
    const hand = await idleByHand(ctx);
    for (const t of sessions) idleFigures(ctx, t, by[t].idle, hand);
    latencyFigures(ctx, by);
    // more start pairs for the boot figure, alternating which transport boots first
    for (let i = 1; i < ctx.runs; i++) {
      for (const t of i % 2 === 1 ? ['ssh', 'channel'] : ['channel', 'ssh']) {
        setTransport(inst, t);
        const r = await inst.start();
        try {
          checkTransport(r.status, t);
          boot[t].push(r.pingMs / 1000);
        (ctx.extra.guestLinkBootSteps ??= []).push({ transport: t, pingS: round(r.pingMs / 1000, 2), doneAtMs: r.doneAtMs });
          log(`  ${t}: _ping after ${(r.pingMs / 1000).toFixed(1)} s`);
          await sleep(SETTLE_BEFORE_STOP_S * 1000);
        } finally {
          await inst.stop();
        }
      }
    }
    setTransport(inst, 'channel');
    ctx.figure({
      id: 'transport.boot',
      bench: 'transport',
      label: '`berth start` → _ping, guestTransport channel',
      unit: 's',
      samples: boot.channel,
      baseline: { label: 'same instance, guestTransport ssh', samples: boot.ssh },
      goal: { text: 'not slower (ratio ≤ 1.05×)', on: 'ratio', max: 1.05 },
      note: 'both timed from the CLI’s spawn to docker.sock answering, polled every 100 ms; starts alternate ABBA after the two sessions',
    });
    memFigures(ctx, by);
  } else if (want.transport) {
    const hand = await idleByHand(ctx);
    idleFigures(ctx, 'channel', by.channel.idle, hand);
    latencyFigures(ctx, by);
    memFigures(ctx, by);
  }
  if (want.throughput) throughputFigures(ctx, by);
  if (want.portlatency) portFigures(ctx, by);
}

// ---------------------------------------------------------------- one session per transport

async function session(ctx, transport, want) {
  const { inst } = ctx;
  setTransport(inst, transport);
  log(`guest link: starting the VM with guestTransport ${transport}`);
  const r = await inst.start();
  ctx.noteStatus(r.status);
  const readyAt = now();
  const out = { bootS: r.pingMs / 1000, link: r.status.guestLink, doneAtMs: r.doneAtMs };
  ctx.extra[`guestLink.${transport}`] = r.status.guestLink;
  try {
    checkTransport(r.status, transport);
    if (want.transport) {
      // nothing of the bench's talks to the guest during the window (its SSH connection comes after)
      const wait = SETTLE_BEFORE_IDLE_S * 1000 - (now() - readyAt);
      if (wait > 0) await sleep(wait);
      const { supervisor, agent, qemu } = (await inst.status()).pids;
      log(`idle (${transport}): sampling supervisor ${supervisor}, agent ${agent}, QEMU ${qemu} for ${IDLE_WINDOW_S} s`);
      out.idle = await sampleProcesses({ supervisor, agent, qemu }, IDLE_WINDOW_S, IDLE_SLICE_S);
    }
    const guest = await new Guest(inst, r.status.arch).connect();
    try {
      if (want.transport) {
        out.latency = await latency(ctx, guest);
        out.mem = await guestMemory(guest);
      }
      if ((want.throughput || want.portlatency) && (transport === 'channel' || process.env.BENCH_SSH !== '0')) {
        await ensureHttpdImage(inst);
        if (want.throughput) out.throughput = await attempt(ctx, `throughput.${transport}`, () => throughput(ctx, transport));
        if (want.portlatency) out.ports = await attempt(ctx, `portlatency.${transport}`, () => portLatency(ctx, guest, transport));
      }
    } finally {
      guest.close();
    }
  } finally {
    ctx.extra[`guestLinkRaw.${transport}`] = roundDeep(out);
    log(`guest link: stopping the ${transport} VM`);
    await inst.stop({ timeoutMs: 120_000 });
  }
  return out;
}

/** One measurement whose failure leaves the others standing: it is listed as skipped, with why. */
async function attempt(ctx, id, fn) {
  try {
    return await fn();
  } catch (e) {
    log(`${id} failed: ${e.message}`);
    ctx.skipped.push({ id, reason: `failed: ${e.message}` });
    return undefined;
  }
}

/** berth.yaml's guestTransport, read at the next start (it is a restart key). */
export function setTransport(inst, transport) {
  const cfg = inst.file('berth.yaml');
  const text = fs.readFileSync(cfg, 'utf8').replace(/^guestTransport:.*\n?/m, '');
  fs.writeFileSync(cfg, `${text.endsWith('\n') || !text ? text : text + '\n'}guestTransport: ${transport}\n`);
}

/** A figure of the wrong transport would be worse than none: the channel silently falling back to SSH fails the run. */
export function checkTransport(status, transport) {
  const got = status.guestLink?.transport;
  if (got !== transport) throw new Error(`asked for guestTransport ${transport}, the start used ${got ?? 'no guest link'}${status.guestLink?.note ? ` (${status.guestLink.note})` : ''}`);
}

// ---------------------------------------------------------------- latency and idle

async function latency(ctx, guest) {
  const ROUNDS = 5;
  const PINGS = 40;
  const sock = { path: ctx.inst.sock };
  const viaSock = async () => {
    const r = await rawHttp(sock, '/_ping', 5000);
    if (!r.ok) throw new Error(`GET /_ping through docker.sock failed: ${r.why ?? r.status}`);
    return r.ms;
  };
  for (let i = 0; i < 5; i++) await viaSock();
  await guest.timeHttp('/_ping', 5);
  const host = [];
  const inGuest = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < PINGS; i++) host.push(await viaSock());
    inGuest.push(...(await guest.timeHttp('/_ping', PINGS)));
  }
  return { host, guest: inGuest };
}

function latencyFigures(ctx, by) {
  for (const t of Object.keys(by)) {
    const l = by[t].latency;
    ctx.figure({
      id: `transport.ping.${t}`,
      bench: 'transport',
      label: `GET /_ping through docker.sock, guestTransport ${t} (new connection each)`,
      unit: 'ms',
      samples: l.host,
      baseline: { label: 'same request inside the guest (perl client on /var/run/docker.sock)', samples: l.guest },
      ...(t === 'channel' ? { goal: { text: 'overhead ≤ 2 ms (median)', on: 'overhead', max: 2 } } : {}),
    });
  }
  if (by.ssh) {
    ctx.figure({
      id: 'transport.ping.channelVsSsh',
      bench: 'transport',
      label: 'GET /_ping through docker.sock: channel',
      unit: 'ms',
      samples: by.channel.latency.host,
      baseline: { label: 'same instance over SSH', samples: by.ssh.latency.host },
    });
  }
}

async function idleByHand(ctx) {
  log('idle baseline: QEMU by hand, same args (Berth stopped)');
  const b = await bootByHand(ctx.inst);
  try {
    await sleep(SETTLE_BEFORE_IDLE_S * 1000);
    b.vm.link?.close();
    return await sampleProcesses({ qemu: b.vm.pid }, IDLE_WINDOW_S, IDLE_SLICE_S);
  } finally {
    await stopByHand(b.vm);
  }
}

function idleFigures(ctx, t, s, hand) {
  const p = s.procs;
  const h = hand.procs.qemu;
  ctx.extra[`idle.${t}`] = roundDeep(s);
  ctx.extra.idleByHandForLink = roundDeep(hand);
  ctx.figure({
    id: `transport.idle.${t}`,
    bench: 'transport',
    label: `whole Berth idle CPU (QEMU + supervisor + agent), guestTransport ${t}`,
    unit: '%',
    value: p.qemu.cpuPct + p.supervisor.cpuPct + p.agent.cpuPct,
    samples: p.qemu.cpuSlices.map((x, i) => x + p.supervisor.cpuSlices[i] + p.agent.cpuSlices[i]),
    baseline: { label: 'QEMU by hand, idle (same command line)', value: h.cpuPct, samples: h.cpuSlices },
    ...(t === 'channel' ? { goal: { text: 'ratio ≤ 1.5×', on: 'ratio', max: 1.5 } } : {}),
    note: `value = mean over ${IDLE_WINDOW_S} s; QEMU ${round(p.qemu.cpuPct, 2)} %, supervisor ${round(p.supervisor.cpuPct, 2)} %, agent ${round(p.agent.cpuPct, 2)} %`,
  });
}

/** VmRSS of the guest agents, and the guest's used memory (MemTotal − MemAvailable), in MB. */
async function guestMemory(guest) {
  const out = await guest.mustExec(
    'for n in berth-guestd berth-portwatch; do for p in $(busybox pidof $n); do echo "$n $(grep VmRSS /proc/$p/status)"; done; done; grep -E "^(MemTotal|MemAvailable):" /proc/meminfo',
  );
  return parseGuestMemory(out);
}

export function parseGuestMemory(out) {
  const mem = { rss: {} };
  for (const line of out.split('\n')) {
    const a = /^(\S+) VmRSS:\s+(\d+) kB/.exec(line);
    if (a) mem.rss[a[1]] = (mem.rss[a[1]] ?? 0) + Number(a[2]) / 1024;
    const m = /^(MemTotal|MemAvailable):\s+(\d+) kB/.exec(line);
    if (m) mem[m[1]] = Number(m[2]) / 1024;
  }
  if (mem.MemTotal !== undefined && mem.MemAvailable !== undefined) mem.usedMB = mem.MemTotal - mem.MemAvailable;
  return mem;
}

function memFigures(ctx, by) {
  const c = by.channel.mem;
  ctx.extra.guestMemory = roundDeep(Object.fromEntries(Object.entries(by).map(([t, s]) => [t, s.mem])));
  // the channel carries the listener watch in berth-guestd itself; over SSH berth-portwatch does it
  for (const [t, n] of [['channel', 'berth-guestd'], ['ssh', 'berth-portwatch']]) {
    const kB = by[t]?.mem.rss[n] !== undefined ? by[t].mem.rss[n] * 1024 : undefined;
    if (kB === undefined) {
      ctx.skipped.push({ id: `transport.rss.${n}`, reason: `no ${n} process in the guest (guestTransport ${t} session)` });
      continue;
    }
    ctx.figure({ id: `transport.rss.${n}`, bench: 'transport', label: `${n} RSS in the guest (guestTransport ${t})`, unit: 'kB', value: kB, samples: [kB] });
  }
  if (by.ssh && c.usedMB !== undefined && by.ssh.mem.usedMB !== undefined) {
    ctx.figure({
      id: 'transport.guestUsed',
      bench: 'transport',
      label: 'guest memory in use (MemTotal − MemAvailable), guestTransport channel',
      unit: 'MB',
      value: c.usedMB,
      samples: [c.usedMB],
      baseline: { label: 'guestTransport ssh', value: by.ssh.mem.usedMB, samples: [by.ssh.mem.usedMB] },
      note: 'read after the latency rounds; berth-guestd runs in both (the guest starts it at boot), so this compares the sessions, not the agent against none',
    });
  }
}

// ---------------------------------------------------------------- throughput

/** A one-binary image from the host's static busybox (offline, like bench/lib/dns.mjs). */
async function ensureHttpdImage(inst) {
  const have = await run('docker', ['image', 'inspect', IMAGE], { env: inst.dockerEnv });
  if (have.code === 0) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blink-'));
  try {
    const root = path.join(dir, 'root');
    for (const d of ['bin', 'www', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
    for (const a of ['sh', 'httpd', 'dd', 'sleep']) fs.symlinkSync('busybox', path.join(root, 'bin', a));
    fs.writeFileSync(path.join(root, 'www', 'index.html'), 'ok\n');
    const tar = await run('tar', ['-C', root, '-cf', path.join(dir, 'rootfs.tar'), '.']);
    if (tar.code !== 0) throw new Error(`tar: ${tar.stderr}`);
    const imp = await run('docker', ['import', path.join(dir, 'rootfs.tar'), IMAGE], { env: inst.dockerEnv, timeoutMs: 300_000 });
    if (imp.code !== 0) throw new Error(`docker import: ${imp.stderr.trim()}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function throughput(ctx, transport) {
  const { inst } = ctx;
  const mb = Number(process.env.BENCH_THROUGHPUT_MB) || 200;
  const rounds = Math.max(3, ctx.runs);
  const P = THROUGHPUT_PORT;
  const name = 'blink-throughput';
  await run('docker', ['rm', '-f', name], { env: inst.dockerEnv });
  // the file lives on a tmpfs so the disk is out of the path; httpd starts only once it is whole
  const r = await run(
    'docker',
    ['run', '-d', '--name', name, '--tmpfs', `/srv:size=${mb + 16}m`, '-p', `${P}:${P}`, IMAGE, 'sh', '-c', `dd if=/dev/zero of=/srv/z bs=1048576 count=${mb} 2>/dev/null && echo ok > /srv/index.html && exec httpd -f -p ${P} -h /srv`],
    { env: inst.dockerEnv, timeoutMs: 120_000 },
  );
  if (r.code !== 0) throw new Error(`docker run (throughput server): ${r.stderr.trim()}`);
  let qmp = null;
  let hostfwdPort = null;
  try {
    if ((await waitAnswer(P, 120_000)) === null) throw new Error(`the throughput server's port ${P} did not answer through Berth's forward within 120 s`);
    qmp = await QmpClient.connect(inst.file('qmp-debug.sock'), 5000);
    hostfwdPort = await freeHostPort();
    const added = await qmp.hmp(`hostfwd_add net0 tcp:127.0.0.1:${hostfwdPort}-:${P}`);
    if (added.trim()) throw new Error(`hostfwd_add: ${added.trim()}`);
    if ((await waitAnswer(hostfwdPort, 10_000)) === null) throw new Error(`QEMU's hostfwd 127.0.0.1:${hostfwdPort} → guest ${P} did not answer`);
    const berth = [];
    const hostfwd = [];
    log(`throughput (${transport}): ${rounds} × ${mb} MB through Berth's forward and through QEMU's hostfwd, alternating`);
    // one warm-up each (page cache, TCP windows, the guest's first sendfile)
    await download(P, mb);
    await download(hostfwdPort, mb);
    for (let i = 0; i < rounds; i++) {
      for (const w of i % 2 === 0 ? ['berth', 'hostfwd'] : ['hostfwd', 'berth']) {
        const v = await download(w === 'berth' ? P : hostfwdPort, mb);
        (w === 'berth' ? berth : hostfwd).push(v);
        log(`  ${w}: ${v.toFixed(1)} MB/s`);
      }
    }
    return { mb, berth, hostfwd };
  } finally {
    if (qmp && hostfwdPort) await qmp.hmp(`hostfwd_remove net0 tcp:127.0.0.1:${hostfwdPort}`).catch(() => undefined);
    qmp?.close();
    await run('docker', ['rm', '-f', name], { env: inst.dockerEnv });
  }
}

/** MB/s of one `curl` download of the file, checked for its full size. */
async function download(port, mb) {
  const r = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', `http://127.0.0.1:${port}/z`], { timeoutMs: 600_000 });
  const [size, secs] = r.stdout.trim().split(' ').map(Number);
  if (r.code !== 0 || size !== mb * 2 ** 20) throw new Error(`download from 127.0.0.1:${port}: ${size} of ${mb * 2 ** 20} bytes (curl exit ${r.code}: ${r.stderr.trim()})`);
  return mb / secs;
}

function throughputFigures(ctx, by) {
  for (const t of Object.keys(by)) {
    const x = by[t].throughput;
    if (!x) continue;
    figureAtLeast(
      ctx,
      {
        id: `throughput.${t}`,
        bench: 'throughput',
        label: `TCP forward: ${x.mb} MB HTTP download from a container's published port, guestTransport ${t}`,
        unit: 'MB/s',
        samples: x.berth,
        baseline: { label: 'QEMU hostfwd (added over QMP) to the same guest server', samples: x.hostfwd },
        note: 'busybox httpd in a container serving a file on a tmpfs, `curl -o /dev/null` on the host; the two paths alternate',
      },
      t === 'channel' ? { text: 'ratio ≥ 0.9×', on: 'ratio', min: 0.9 } : null,
    );
  }
}

/** ctx.figure with a floor instead of a ceiling (the runner's goals are all ceilings). */
export function figureAtLeast(ctx, f, goal) {
  const fig = ctx.figure(f);
  if (goal) {
    const measured = goal.on === 'ratio' ? fig.ratio : fig.value;
    fig.goal = { text: goal.text, on: goal.on, min: goal.min, measured };
    fig.met = typeof measured === 'number' ? measured >= goal.min : null;
  }
  return fig;
}

// ---------------------------------------------------------------- port-visible latency

async function portLatency(ctx, guest, transport) {
  const { inst } = ctx;
  const containers = [];
  const dockerRun = [];
  const plain = [];
  const plainUpper = [];
  const timedOut = { containers: 0, plain: 0 };
  let start = null;
  log(`port latency (${transport}): ${PORT_SAMPLES} containers with -p, then ${PORT_SAMPLES} plain listeners in the guest`);
  try {
    for (let i = 0; i < PORT_SAMPLES; i++) {
      const p = CONTAINER_PORTS + i;
      const r = await run('docker', ['run', '-d', '--name', `blink-p${i}`, '-p', `${p}:80`, IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www'], { env: inst.dockerEnv, timeoutMs: 120_000 });
      const t0 = now();
      if (r.code !== 0) throw new Error(`docker run -d -p ${p}:80: ${r.stderr.trim()}`);
      dockerRun.push(r.ms / 1000);
      const at = await waitAnswer(p, CONTAINER_WAIT_MS);
      if (at === null) timedOut.containers++;
      containers.push(((at ?? now()) - t0) / 1000);
    }
    start = await plainListenerStarter(guest);
    for (let i = 0; i < PORT_SAMPLES; i++) {
      const p = PLAIN_PORTS + i;
      // busybox httpd listens before it daemonizes: when the command returns, the port is bound
      const t0 = now();
      await guest.mustExec(start.cmd(p));
      const t1 = now();
      const at = await waitAnswer(p, PLAIN_WAIT_MS);
      if (at === null) timedOut.plain++;
      plain.push(((at ?? now()) - t1) / 1000);
      plainUpper.push(((at ?? now()) - t0) / 1000);
    }
  } finally {
    // the containers outlive the VM on its disk (and their names the next session); the plain
    // listeners end with this VM, which the session stops next
    await guest.exec('docker ps -aq --filter name=blink-p | xargs -r docker rm -f >/dev/null', { timeoutMs: 300_000 }).catch((e) => log(`port latency cleanup failed: ${e.message}`));
  }
  return { containers, dockerRun, plain, plainUpper, timedOut, plainHow: start?.how };
}

/**
 * The guest command that starts a plain listener on port p and returns once it is bound (busybox
 * httpd listens before it daemonizes): the guest's own busybox, or, if it has no httpd, the bench
 * image's in a `--network host` container (a listener in the guest's network namespace with no
 * published port either way).
 */
async function plainListenerStarter(guest) {
  const own = await guest.exec('busybox --list | grep -qx httpd && mkdir -p /tmp/blink-www && echo ok > /tmp/blink-www/index.html');
  if (own.code === 0) return { how: 'the guest’s busybox httpd', cmd: (p) => `busybox httpd -p ${p} -h /tmp/blink-www </dev/null >/dev/null 2>&1` };
  await guest.mustExec(`docker rm -f blink-p-host >/dev/null 2>&1; docker run -d --name blink-p-host --network host ${IMAGE} sleep 100000 >/dev/null`, { timeoutMs: 120_000 });
  return { how: 'busybox httpd by `docker exec` in a --network host container', cmd: (p) => `docker exec blink-p-host sh -c 'httpd -p ${p} -h /www </dev/null >/dev/null 2>&1'` };
}

/** Nearest-rank percentile. */
export function percentile(xs, q) {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))];
}

function portFigures(ctx, by) {
  for (const t of Object.keys(by)) {
    const x = by[t].ports;
    if (!x) continue;
    const other = t === 'channel' ? by.ssh?.ports : null;
    const vs = (k) => (other ? { baseline: { label: 'guestTransport ssh, same measurement (p95)', value: percentile(other[k], 0.95), samples: other[k] } } : {});
    const goals = t === 'channel';
    const cNote = `${x.containers.length} containers, one at a time; spread = median [min–max]; p50 ${fmtS(percentile(x.containers, 0.5))}; timed from the \`docker run -d\` CLI’s exit (median ${fmtS(summarize(x.dockerRun)?.median)}) to an HTTP answer on host 127.0.0.1:P, polled every ${POLL_MS} ms${x.timedOut.containers ? `; ${x.timedOut.containers} did not answer within ${CONTAINER_WAIT_MS / 1000} s (counted as their wait)` : ''}`;
    ctx.figure({
      id: `portlatency.containers.${t}`,
      bench: 'portlatency',
      label: `published port answers on the host after \`docker run -d -p\` returns, p95, guestTransport ${t}`,
      unit: 's',
      value: percentile(x.containers, 0.95),
      samples: x.containers,
      ...vs('containers'),
      ...(goals ? { goal: { text: 'p95 ≤ 0.25 s', on: 'value', max: 0.25 } } : {}),
      note: cNote,
    });
    ctx.figure({
      id: `portlatency.plain.${t}`,
      bench: 'portlatency',
      label: `plain guest listener (busybox httpd) answers on the host, p95, guestTransport ${t}`,
      unit: 's',
      value: percentile(x.plain, 0.95),
      samples: x.plain,
      ...vs('plain'),
      ...(goals ? { goal: { text: 'p95 ≤ 1 s', on: 'value', max: 1 } } : {}),
      note: `${x.plain.length} listeners (${x.plainHow}), one at a time; p50 ${fmtS(percentile(x.plain, 0.5))}; timed from the return of the bench's SSH exec that started it (it is bound by then) to an HTTP answer on host 127.0.0.1:P; from the exec's start instead: p95 ${fmtS(percentile(x.plainUpper, 0.95))}${x.timedOut.plain ? `; ${x.timedOut.plain} did not answer within ${PLAIN_WAIT_MS / 1000} s (counted as their wait)` : ''}`,
    });
    ctx.extra[`portlatency.${t}`] = roundDeep(x);
  }
}

const fmtS = (s) => (typeof s === 'number' ? `${s.toFixed(3)} s` : '—');

// ---------------------------------------------------------------- small helpers

/** Polls host 127.0.0.1:port with an HTTP GET until anything answers; resolves the time (now()) or null. */
export async function waitAnswer(port, timeoutMs) {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    const r = await rawHttp({ host: '127.0.0.1', port }, '/', Math.max(1, Math.min(2000, deadline - now())));
    if (r.status !== null) return now();
    await sleep(POLL_MS);
  }
  return null;
}

function range(from, n) {
  return Array.from({ length: n }, (_, i) => from + i);
}

function hostPortFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function freeHostPort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function roundDeep(x) {
  if (typeof x === 'number') return round(x, 3);
  if (Array.isArray(x)) return x.map(roundDeep);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, roundDeep(v)]));
  return x;
}

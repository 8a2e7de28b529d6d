// The benchmarks. Each pushes figures onto ctx (see run.mjs: ctx.figure); every figure that has a
// baseline is measured side by side with it in the same run, interleaved where it can be.
import { bootByHand, stopByHand } from './byhand.mjs';
import { Guest } from './guest.mjs';
import { sampleProcesses } from './proc.mjs';
import { log, now, rawHttp, rawHttpOverStream, round, run, sleep, summarize } from './util.mjs';

/** Seconds a VM sits idle after Docker answers before it is stopped (start/stop benchmark). */
const SETTLE_BEFORE_STOP_S = 5;
/** Seconds after Docker answers before an idle measurement begins (boot-time work winds down). */
export const SETTLE_BEFORE_IDLE_S = 20;
const IDLE_WINDOW_S = 30;
const IDLE_SLICE_S = 5;
const IMAGE = 'berth-bench/busybox:1';

/** Boot the fresh instance once (disk creation, first boot, accelerator probe), then stop it. */
export async function ensureWarm(ctx) {
  const { inst } = ctx;
  if (inst.booted) return;
  log('warm-up: first start of a fresh instance (creates the disk; probes the accelerator)');
  const r = await inst.start();
  ctx.noteStatus(r.status);
  ctx.figure({
    id: 'start.first',
    bench: 'start',
    label: 'first start of a new instance → _ping (disk created, KVM probed)',
    unit: 's',
    samples: [r.pingMs / 1000],
    note: 'one run; not compared (the by-hand baseline reuses this disk)',
  });
  await sleep(SETTLE_BEFORE_STOP_S * 1000);
  await inst.stop();
}

// ---------------------------------------------------------------- start / stop

export async function benchStart(ctx) {
  const { inst, runs } = ctx;
  await ensureWarm(ctx);
  const berthPing = [];
  const berthExit = [];
  const berthStop = [];
  const handPing = [];
  const handStop = [];
  const berthKernel = [];
  const handKernel = [];
  const handSsh = [];
  const berthSsh = [];
  const berthOwn = [];
  const berthOwnShare = [];
  const steps = [];
  const oneBerth = async () => {
    const r = await inst.start();
    berthPing.push(r.pingMs / 1000);
    berthExit.push(r.exitMs / 1000);
    if (r.doneAtMs.kernel !== undefined) berthKernel.push(r.doneAtMs.kernel / 1000);
    if (r.doneAtMs.ssh !== undefined) berthSsh.push(r.doneAtMs.ssh / 1000);
    if (r.runningAtMs.qemu !== undefined && r.doneAtMs.docker !== undefined) {
      // Berth's own time outside the guest's boot: before QEMU is spawned, and from the agent's
      // first good _ping in the guest to docker.sock answering on the host
      berthOwn.push((r.runningAtMs.qemu + (r.pingMs - r.doneAtMs.docker)) / 1000);
      berthOwnShare.push((100 * (r.runningAtMs.qemu + (r.pingMs - r.doneAtMs.docker))) / r.pingMs);
    }
    steps.push(r.steps);
    log(`  berth start: _ping after ${(r.pingMs / 1000).toFixed(1)} s, CLI exit ${(r.exitMs / 1000).toFixed(1)} s`);
    await sleep(SETTLE_BEFORE_STOP_S * 1000);
    const s = await inst.stop();
    berthStop.push(s.ms / 1000);
    log(`  berth stop: ${(s.ms / 1000).toFixed(1)} s (${s.how})`);
  };
  const oneHand = async () => {
    const b = await bootByHand(inst);
    handPing.push(b.pingMs / 1000);
    if (b.kernelMs !== null) handKernel.push(b.kernelMs / 1000);
    handSsh.push(b.sshMs / 1000);
    (ctx.extra.byHandSshAttempts ??= []).push(b.sshAttempts);
    log(`  QEMU by hand: _ping after ${(b.pingMs / 1000).toFixed(1)} s (ssh ${((b.sshMs ?? 0) / 1000).toFixed(1)} s)`);
    await sleep(SETTLE_BEFORE_STOP_S * 1000);
    const s = await stopByHand(b.vm);
    handStop.push(s.ms / 1000);
    log(`  by hand powerdown: ${(s.ms / 1000).toFixed(1)} s (${s.how})`);
  };
  for (let i = 0; i < runs; i++) {
    log(`start: run ${i + 1}/${runs}`);
    // ABBA order, so a drift in the machine's load does not favour one side
    if (i % 2 === 0) {
      await oneBerth();
      await oneHand();
    } else {
      await oneHand();
      await oneBerth();
    }
  }
  ctx.figure({
    id: 'start.ping',
    bench: 'start',
    label: '`berth start` → _ping answers on docker.sock',
    unit: 's',
    samples: berthPing,
    baseline: { label: 'QEMU by hand (same args) → _ping via SSH stream-local', samples: handPing },
    goal: { text: 'ratio ≤ 1.05×', on: 'ratio', max: 1.05 },
    note: `both timed from spawn; both poll every 100 ms with an HTTP GET /_ping`,
  });
  ctx.figure({ id: 'start.cliExit', bench: 'start', label: '`berth start` CLI exits (after ports/mounts/emulation applied)', unit: 's', samples: berthExit, baseline: { label: 'QEMU by hand → _ping', samples: handPing } });
  ctx.figure({
    id: 'start.fixedCost',
    bench: 'start',
    label: 'Berth’s fixed cost outside the guest boot (CLI → QEMU spawn, + guest _ping → docker.sock)',
    unit: 's',
    samples: berthOwn,
    note: `share of the start: ${berthOwnShare.map((x) => `${round(x, 1)} %`).join(', ')} — a load-independent lower bound of the start overhead (the agent's polling of sshd and dockerd is not included)`,
  });
  ctx.figure({
    id: 'start.kernel',
    bench: 'start',
    label: 'kernel up (initrd marker on serial)',
    unit: 's',
    samples: berthKernel,
    baseline: { label: 'QEMU by hand', samples: handKernel },
    note: 'both from spawn (berth: events.jsonl timestamps against the CLI’s spawn)',
  });
  ctx.figure({
    id: 'start.ssh',
    bench: 'start',
    label: 'SSH session up',
    unit: 's',
    samples: berthSsh,
    baseline: { label: 'QEMU by hand (TCP probes for sshd’s banner, then ssh2)', samples: handSsh },
    note: 'both from spawn',
  });
  ctx.figure({
    id: 'stop',
    bench: 'start',
    label: '`berth stop` (idle VM, no containers)',
    unit: 's',
    samples: berthStop,
    baseline: { label: 'QMP system_powerdown → QEMU exits', samples: handStop },
    note: 'berth stop also syncs the guest, stops the agent and cleans up sockets',
  });
  const stepNames = Object.keys(steps[0] ?? {});
  ctx.extra.startSteps = Object.fromEntries(stepNames.map((n) => [n, roundStats(summarize(steps.map((s) => (s[n] ?? NaN) / 1000)))]));
}

// ---------------------------------------------------------------- suspend / resume

/**
 * Stop = suspend, Start = resume, against a cold boot of the same instance in the same run. Each
 * run: cold start → (settle) → suspend → resume → (settle) → shutdown, so every resume is timed
 * from a fresh save and every cold start from a powered-off disk. A container runs throughout
 * (the case the feature is for: it keeps running across Stop/Start).
 */
export async function benchResume(ctx) {
  const { inst, runs } = ctx;
  await ensureWarm(ctx);
  const cold = [];
  const resumed = [];
  const resumedExit = [];
  const load = [];
  const suspend = [];
  const shutdown = [];
  const bytes = [];
  for (let i = 0; i < runs; i++) {
    log(`resume: run ${i + 1}/${runs}`);
    const c = await inst.start();
    cold.push(c.pingMs / 1000);
    if (i === 0) {
      const guest = await new Guest(inst, c.status.arch).connect();
      try {
        await ensureBusyboxImage(guest);
      } finally {
        guest.close();
      }
    }
    const ctr = await run('docker', ['run', '-d', '--name', `resume-bench-${i}`, IMAGE, 'sleep', '100000'], { env: inst.dockerEnv, timeoutMs: 120_000 });
    if (ctr.code !== 0) throw new Error(`docker run: ${ctr.stderr.trim()}`);
    log(`  cold start: _ping after ${(c.pingMs / 1000).toFixed(1)} s`);
    await sleep(SETTLE_BEFORE_STOP_S * 1000);
    const s = await inst.stop({ suspend: true });
    if (s.how !== 'suspend') throw new Error(`the stop did not suspend (${s.how})`);
    suspend.push(s.ms / 1000);
    const r = await inst.start();
    if (!r.status.resume?.resumed) throw new Error(`the start did not resume: ${r.status.resume?.reason ?? 'no saved state'}`);
    resumed.push(r.pingMs / 1000);
    resumedExit.push(r.exitMs / 1000);
    load.push((r.status.resume.loadMs ?? NaN) / 1000);
    const alive = await run('docker', ['inspect', '--format', '{{.State.Running}}', `resume-bench-${i}`], { env: inst.dockerEnv });
    if (alive.stdout.trim() !== 'true') throw new Error('the container did not survive the suspend');
    log(`  suspend ${(s.ms / 1000).toFixed(1)} s; resume: _ping after ${(r.pingMs / 1000).toFixed(2)} s (state loaded in ${((r.status.resume.loadMs ?? 0) / 1000).toFixed(2)} s)`);
    if (s.bytes) bytes.push(s.bytes / 2 ** 20);
    await sleep(SETTLE_BEFORE_STOP_S * 1000);
    const d = await inst.stop();
    shutdown.push(d.ms / 1000);
  }
  ctx.figure({
    id: 'resume.ping',
    bench: 'resume',
    label: '`berth start` resuming a saved VM → _ping answers on docker.sock',
    unit: 's',
    samples: resumed,
    baseline: { label: '`berth start` cold boot of the same instance → _ping', samples: cold },
    goal: { text: 'ratio ≤ 0.1×', on: 'ratio', max: 0.1 },
    note: 'both timed from the CLI’s spawn, polled every 100 ms; a busybox container runs in both',
  });
  ctx.figure({ id: 'resume.cliExit', bench: 'resume', label: '`berth start` (resume) CLI exits (mounts, emulation, clock applied)', unit: 's', samples: resumedExit });
  ctx.figure({ id: 'resume.load', bench: 'resume', label: 'QEMU spawn → saved state loaded, guest running', unit: 's', samples: load });
  ctx.figure({
    id: 'resume.suspend',
    bench: 'resume',
    label: '`berth stop` suspending (pause, save, quit)',
    unit: 's',
    samples: suspend,
    baseline: { label: '`berth stop` shutting down (ACPI powerdown)', samples: shutdown },
  });
  ctx.figure({ id: 'resume.bytes', bench: 'resume', label: 'saved state size (2 GiB guest)', unit: 'MB', samples: bytes });
}

// ---------------------------------------------------------------- one running VM: latency, idle, containers

export async function benchSession(ctx, { latency, idle, containers }) {
  const { inst } = ctx;
  await ensureWarm(ctx);
  log('session: starting the VM for latency / idle / containers');
  const r = await inst.start();
  ctx.noteStatus(r.status);
  const readyAt = now();
  const guest = await new Guest(inst, r.status.arch).connect();
  try {
    if (latency) await benchLatency(ctx, guest);
    let idle0 = null;
    if (idle || containers) {
      idle0 = await idleBerth(ctx, readyAt, idle);
    }
    if (containers) await benchContainers(ctx, guest, idle0);
  } finally {
    guest.close();
    log('session: stopping the VM');
    await inst.stop({ timeoutMs: 120_000 });
  }
}

async function benchLatency(ctx, guest) {
  const { inst } = ctx;
  const ROUNDS = 5;
  const PINGS = 40;
  const VERSIONS = 20;
  const CLI = 2;
  const sock = { path: inst.sock };
  const hostPing = [];
  const guestPing = [];
  const sshPing = [];
  const hostVer = [];
  const guestVer = [];
  const hostCli = [];
  const guestCli = [];
  const viaSsh = async () => {
    const t0 = now();
    const ch = await guest.openDocker();
    const r = await rawHttpOverStream(ch, '/_ping', 3000, t0);
    if (!r.ok) throw new Error(`_ping over a direct SSH channel failed: ${r.why ?? r.status}`);
    return r.ms;
  };
  const viaSock = async (p) => {
    const r = await rawHttp(sock, p, 5000);
    if (!r.ok) throw new Error(`GET ${p} through docker.sock failed: ${r.why ?? r.status}`);
    return r.ms;
  };
  // warm both paths (first SSH channel, dockerd's first request, perl's first start)
  for (let i = 0; i < 5; i++) await viaSock('/_ping');
  await guest.timeHttp('/_ping', 5);
  await viaSsh();
  log('latency: _ping, /version, docker version — host (through docker.sock) vs inside the guest');
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < PINGS; i++) hostPing.push(await viaSock('/_ping'));
    guestPing.push(...(await guest.timeHttp('/_ping', PINGS)));
    for (let i = 0; i < PINGS; i++) sshPing.push(await viaSsh());
    for (let i = 0; i < VERSIONS; i++) hostVer.push(await viaSock('/version'));
    guestVer.push(...(await guest.timeHttp('/version', VERSIONS)));
    for (let i = 0; i < CLI; i++) {
      const r = await run('docker', ['version'], { env: inst.dockerEnv, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`docker version on the host failed: ${r.stderr.trim()}`);
      hostCli.push(r.ms);
    }
    guestCli.push(...(await guest.timeCommand('docker version >/dev/null', CLI)));
  }
  const hostCliVersion = (await run('docker', ['version', '--format', '{{.Client.Version}}'], { env: inst.dockerEnv, timeoutMs: 60_000 })).stdout.trim();
  const guestCliVersion = (await guest.exec("docker version --format '{{.Client.Version}}'")).stdout.trim();
  ctx.figure({
    id: 'latency.ping',
    bench: 'latency',
    label: 'GET /_ping through docker.sock (new connection each)',
    unit: 'ms',
    samples: hostPing,
    baseline: { label: 'same request inside the guest (perl client on /var/run/docker.sock)', samples: guestPing },
    goal: { text: 'overhead ≤ 2 ms (median)', on: 'overhead', max: 2 },
  });
  ctx.figure({
    id: 'latency.version',
    bench: 'latency',
    label: 'GET /version through docker.sock',
    unit: 'ms',
    samples: hostVer,
    baseline: { label: 'same request inside the guest', samples: guestVer },
  });
  ctx.figure({
    id: 'latency.sshFloor',
    bench: 'latency',
    label: 'GET /_ping through docker.sock, vs a bare SSH channel',
    unit: 'ms',
    samples: hostPing,
    baseline: { label: 'same over a direct SSH stream-local channel (no agent, no host socket)', samples: sshPing },
    note: 'what the agent process and its unix-socket hop add on top of the SSH channel itself',
  });
  ctx.figure({
    id: 'latency.dockerVersion',
    bench: 'latency',
    label: `\`docker version\` on the host (CLI ${hostCliVersion}) through docker.sock`,
    unit: 'ms',
    samples: hostCli,
    baseline: { label: `\`docker version\` inside the guest (CLI ${guestCliVersion})`, samples: guestCli },
    note: 'the guest CLI runs under the VM’s CPU emulation, so this ratio mostly measures TCG, not the forwarding',
  });
}

/** Idle cost of the running Berth VM: returns the 0-container sample for the scaling comparison. */
async function idleBerth(ctx, readyAt, record) {
  const { inst } = ctx;
  const wait = SETTLE_BEFORE_IDLE_S * 1000 - (now() - readyAt);
  if (wait > 0) await sleep(wait);
  const st = await inst.status();
  const { supervisor, agent, qemu } = st.pids;
  if (!supervisor || !agent || !qemu) throw new Error(`status has no pids for supervisor/agent/qemu: ${JSON.stringify(st.pids)}`);
  log(`idle: sampling supervisor ${supervisor}, agent ${agent}, QEMU ${qemu} for ${IDLE_WINDOW_S} s`);
  const s = await sampleProcesses({ supervisor, agent, qemu }, IDLE_WINDOW_S, IDLE_SLICE_S);
  ctx.extra.idleBerth = roundDeep(s);
  if (record) {
    const p = s.procs;
    const sumSlices = p.supervisor.cpuSlices.map((x, i) => x + p.agent.cpuSlices[i]);
    ctx.figure({
      id: 'idle.cpu',
      bench: 'idle',
      label: `supervisor + agent CPU, ${IDLE_WINDOW_S} s idle (% of one core)`,
      unit: '%',
      value: p.supervisor.cpuPct + p.agent.cpuPct,
      samples: sumSlices,
      goal: { text: '≤ 1 % of a core', on: 'value', max: 1 },
      note: `value = mean over the window; median/min/max over ${IDLE_SLICE_S} s slices. supervisor ${round(p.supervisor.cpuPct, 2)} %, agent ${round(p.agent.cpuPct, 2)} %`,
    });
    const rssSum = p.supervisor.rssMB.max + p.agent.rssMB.max;
    ctx.figure({
      id: 'idle.rss',
      bench: 'idle',
      label: 'supervisor + agent RSS (max over the window)',
      unit: 'MB',
      value: rssSum,
      samples: [rssSum],
      goal: { text: '≤ 150 MB together', on: 'value', max: 150 },
      note: `supervisor ${round(p.supervisor.rssMB.max, 1)} MB, agent ${round(p.agent.rssMB.max, 1)} MB`,
    });
    ctx.figure({ id: 'idle.qemuRss', bench: 'idle', label: 'QEMU RSS (2 GiB guest)', unit: 'MB', value: p.qemu.rssMB.max, samples: [p.qemu.rssMB.max] });
  }
  return s;
}

/** The idle baseline: the same VM under QEMU by hand (no supervisor, agent, SSH session or port watcher). */
export async function benchIdleByHand(ctx) {
  const { inst } = ctx;
  const berth = ctx.extra.idleBerth;
  if (!berth) throw new Error('idle by hand needs the Berth idle measurement first');
  log('idle baseline: QEMU by hand, same args');
  const b = await bootByHand(inst);
  try {
    await sleep(SETTLE_BEFORE_IDLE_S * 1000);
    // the bench's own SSH connection is closed: nothing talks to the guest during the window
    b.vm.link?.close();
    const s = await sampleProcesses({ qemu: b.vm.pid }, IDLE_WINDOW_S, IDLE_SLICE_S);
    ctx.extra.idleByHand = roundDeep(s);
    const bp = berth.procs;
    ctx.figure({
      id: 'idle.qemuCpu',
      bench: 'idle',
      label: 'QEMU CPU, idle VM under Berth (% of one core)',
      unit: '%',
      value: bp.qemu.cpuPct,
      samples: bp.qemu.cpuSlices,
      baseline: { label: 'QEMU by hand, idle', value: s.procs.qemu.cpuPct, samples: s.procs.qemu.cpuSlices },
      note: 'Berth keeps an SSH session, a Docker events stream and a listener watcher (polls /proc/net/tcp every 250 ms) in the guest',
    });
    const total = bp.qemu.cpuPct + bp.supervisor.cpuPct + bp.agent.cpuPct;
    ctx.figure({
      id: 'idle.totalCpu',
      bench: 'idle',
      label: 'whole Berth idle CPU (QEMU + supervisor + agent)',
      unit: '%',
      value: total,
      samples: bp.qemu.cpuSlices.map((x, i) => x + bp.supervisor.cpuSlices[i] + bp.agent.cpuSlices[i]),
      baseline: { label: 'QEMU by hand, idle', value: s.procs.qemu.cpuPct, samples: s.procs.qemu.cpuSlices },
    });
  } finally {
    await stopByHand(b.vm);
  }
}

async function ensureBusyboxImage(guest) {
  const have = await guest.exec(`docker image inspect ${IMAGE} >/dev/null 2>&1`);
  if (have.code === 0) return;
  // a one-binary image made offline from the guest's own static busybox
  await guest.mustExec(
    `set -e; d=$(mktemp -d); mkdir -p $d/bin $d/tmp; cp /bin/busybox $d/bin/busybox; for a in sh sleep true; do ln -s busybox $d/bin/$a; done; tar -C $d -c . | docker import - ${IMAGE} >/dev/null; rm -rf $d`,
    { timeoutMs: 120_000 },
  );
}

async function benchContainers(ctx, guest, idle0) {
  const { inst } = ctx;
  await ensureBusyboxImage(guest);
  const runMs = [];
  let running = 0;
  try {
    for (const size of ctx.containerSizes) {
      log(`containers: starting ${size - running} more (to ${size}) with docker run -d through docker.sock`);
      const t0 = now();
      while (running < size) {
        if (now() - t0 > ctx.containerBudgetS * 1000) {
          ctx.notes.push(`containers: stopped at ${running} of ${size}: over the ${ctx.containerBudgetS} s budget`);
          break;
        }
        const r = await run('docker', ['run', '-d', '--name', `bench-c${running}`, IMAGE, 'sleep', '100000000'], { env: inst.dockerEnv, timeoutMs: 120_000 });
        if (r.code !== 0) throw new Error(`docker run -d failed: ${r.stderr.trim()}`);
        runMs.push(r.ms / 1000);
        running++;
      }
      await sleep(10_000);
      const st = await inst.status();
      const { supervisor, agent, qemu } = st.pids;
      log(`containers: ${running} running; sampling for ${IDLE_WINDOW_S} s`);
      const s = await sampleProcesses({ supervisor, agent, qemu }, IDLE_WINDOW_S, IDLE_SLICE_S);
      ctx.extra[`idleContainers${running}`] = roundDeep(s);
      const p = s.procs;
      const b = idle0.procs;
      ctx.figure({
        id: `scaling.containers${running}.qemuCpu`,
        bench: 'scaling',
        label: `QEMU CPU idle with ${running} containers (% of one core)`,
        unit: '%',
        value: p.qemu.cpuPct,
        samples: p.qemu.cpuSlices,
        baseline: { label: '0 containers', value: b.qemu.cpuPct, samples: b.qemu.cpuSlices },
      });
      ctx.figure({
        id: `scaling.containers${running}.berthCpu`,
        bench: 'scaling',
        label: `supervisor + agent CPU with ${running} containers`,
        unit: '%',
        value: p.supervisor.cpuPct + p.agent.cpuPct,
        samples: p.supervisor.cpuSlices.map((x, i) => x + p.agent.cpuSlices[i]),
        baseline: { label: '0 containers', value: b.supervisor.cpuPct + b.agent.cpuPct, samples: b.supervisor.cpuSlices.map((x, i) => x + b.agent.cpuSlices[i]) },
        goal: { text: '≤ 1 % of a core', on: 'value', max: 1 },
      });
      ctx.figure({
        id: `scaling.containers${running}.qemuRss`,
        bench: 'scaling',
        label: `QEMU RSS with ${running} containers`,
        unit: 'MB',
        value: p.qemu.rssMB.max,
        samples: [p.qemu.rssMB.max],
        baseline: { label: '0 containers', value: b.qemu.rssMB.max, samples: [b.qemu.rssMB.max] },
      });
      if (running < size) break;
    }
    ctx.figure({ id: 'scaling.dockerRun', bench: 'scaling', label: '`docker run -d` of a busybox container through docker.sock', unit: 's', samples: runMs });
  } finally {
    if (running > 0) {
      log(`containers: removing ${running}`);
      await guest.exec('docker ps -aq --filter name=bench-c | xargs -r docker rm -f >/dev/null', { timeoutMs: 300_000 }).catch((e) => log(`container cleanup failed: ${e.message}`));
    }
  }
}

// ---------------------------------------------------------------- vCPUs

export async function benchCpus(ctx) {
  const { inst, runs, machine } = ctx;
  await ensureWarm(ctx);
  const counts = [1, 2, 4];
  const byCount = { 1: [], 2: [] };
  // 2 vCPUs was measured by the start benchmark in this run; if it did not run, measure it here.
  const have2 = ctx.figures.find((f) => f.id === 'start.ping');
  const plan = have2 ? [1] : [1, 2];
  if (have2) byCount[2] = have2.samples;
  try {
    for (let i = 0; i < runs; i++) {
      for (const c of i % 2 === 0 ? plan : [...plan].reverse()) {
        inst.writeConfig({ cpus: c });
        const r = await inst.start();
        byCount[c].push(r.pingMs / 1000);
        log(`  ${c} vCPU: _ping after ${(r.pingMs / 1000).toFixed(1)} s`);
        await sleep(SETTLE_BEFORE_STOP_S * 1000);
        await inst.stop();
      }
    }
  } finally {
    inst.writeConfig({ cpus: 2 });
  }
  ctx.figure({
    id: 'scaling.start1cpu',
    bench: 'scaling',
    label: '`berth start` → _ping with 1 vCPU',
    unit: 's',
    samples: byCount[1],
    baseline: { label: '2 vCPUs', samples: byCount[2] },
  });
  // 4 vCPUs: more than this machine has. Ask the product, and record its answer.
  for (const c of counts.filter((n) => n > machine.cpus)) {
    const r = await inst.berth(['start', '--cpus', String(c)], { timeoutMs: 420_000 });
    if (r.code === 0) {
      ctx.notes.push(`${c} vCPUs: accepted on a ${machine.cpus}-core machine (not measured)`);
    } else {
      const lines = r.stderr.trim().split('\n');
      const msg = (lines.find((l) => l.startsWith('berth:')) ?? lines[lines.length - 1] ?? '').replace(/^berth:\s*/, '');
      ctx.skipped.push({ id: `scaling.start${c}cpu`, reason: `${c} vCPUs exceed this machine's ${machine.cpus} cores; berth refuses: ${msg}` });
    }
    await inst.forceStop();
    inst.writeConfig({ cpus: 2 });
  }
}

function roundStats(s) {
  return s ? Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 3)])) : s;
}

function roundDeep(x) {
  if (typeof x === 'number') return round(x, 3);
  if (Array.isArray(x)) return x.map(roundDeep);
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, roundDeep(v)]));
  return x;
}

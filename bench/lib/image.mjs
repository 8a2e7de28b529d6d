// The image benchmark: our trimmed guest image against (a) a stock Debian guest of the same release
// (bench/stock-image.sh: minbase + docker.io + Debian's kernel and initramfs, nothing trimmed) and
// (b) our own recipe built for Debian 12 — all three booted by hand on the instance's QEMU command
// line, only the kernel, initrd and disk swapped, timed to the same `_ping` through an SSH
// stream-local channel, interleaved. Every disk has booted once before timing (first-boot work is
// not boot time). After each boot settles, the idle memory: the guest's MemTotal − MemAvailable
// and QEMU's RSS.
import fs from 'node:fs';
import path from 'node:path';
import { ensureWarm, SETTLE_BEFORE_IDLE_S } from './benches.mjs';
import { bootByHand, instanceCommand, stopByHand } from './byhand.mjs';
import { ROOT } from './berth.mjs';
import { rssMB } from './proc.mjs';
import { loadavg, log, round, run, sleep, summarize } from './util.mjs';

const DEBIAN = { bookworm: 'Debian 12', trixie: 'Debian 13' };
const release = (suite) => DEBIAN[suite] ?? `Debian ${suite}`;

export async function benchImage(ctx) {
  const { inst, runs } = ctx;
  log('image: the stock Debian baseline (bench/stock-image.sh: built once, then cached)');
  const stockDir = await imageDir('bench/stock-image.sh', [path.join(ROOT, 'bench', 'stock-image.sh')]);
  log('image: our recipe for Debian 12 (BERTH_BENCH_BOOKWORM_IMAGE, or build-image.sh: built once, then cached)');
  const oldDir =
    process.env.BERTH_BENCH_BOOKWORM_IMAGE ||
    (await imageDir('BERTH_DEBIAN_SUITE=bookworm build-image.sh', [path.join(ROOT, 'build', 'guest', 'build-image.sh'), 'x86_64', '--print-dir'], { BERTH_DEBIAN_SUITE: 'bookworm' }));
  const manifest = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const ours = manifest(ctx.imageDir);
  const old = manifest(oldDir);
  const stock = manifest(stockDir);
  if (old.debian !== 'bookworm') throw new Error(`${oldDir} is ${old.debian ?? 'no Debian release'}, not bookworm`);
  await ensureWarm(ctx);
  const diskBytes = JSON.parse((await run('qemu-img', ['info', '--output=json', inst.file('disk.qcow2')])).stdout)['virtual-size'];
  const stockSsh = { port: inst.sshParams().port, clientKey: fs.readFileSync(path.join(stockDir, 'id_ed25519'), 'utf8'), hostPub: fs.readFileSync(path.join(stockDir, 'ssh_host_ed25519_key.pub'), 'utf8') };
  // Debian 12 is our recipe: it reads the instance's seed, so the instance's keys reach it too.
  const boots = {
    ours: () => bootByHand(inst),
    stock: await swappedBoot(inst, stockDir, 'stock', { ssh: stockSsh }),
    old: await swappedBoot(inst, oldDir, 'bookworm', { sizeBytes: diskBytes }),
  };
  for (const w of ['stock', 'old']) {
    log(`image: warm-up boot of ${w} (first boot: Docker initialises its state)`);
    const b = await boots[w]();
    log(`  ${w} first boot: _ping after ${(b.pingMs / 1000).toFixed(1)} s`);
    await stopByHand(b.vm);
  }
  const ping = { ours: [], stock: [], old: [] };
  const ssh = { ours: [], stock: [], old: [] };
  const guestMB = { ours: [], stock: [], old: [] };
  const qemuMB = { ours: [], stock: [], old: [] };
  const profile = {};
  const one = async (w) => {
    const b = await boots[w]();
    ping[w].push(b.pingMs / 1000);
    ssh[w].push(b.sshMs / 1000);
    await sleep(SETTLE_BEFORE_IDLE_S * 1000);
    const mem = await idleMemory(b.vm);
    guestMB[w].push(mem.guestMB);
    qemuMB[w].push(mem.qemuMB);
    log(`  ${w}: _ping after ${(b.pingMs / 1000).toFixed(1)} s (ssh ${(b.sshMs / 1000).toFixed(1)} s); idle: guest ${mem.guestMB.toFixed(0)} MB used, QEMU RSS ${mem.qemuMB.toFixed(0)} MB`);
    (ctx.extra.imageRuns ??= []).push({ image: w, pingS: round(b.pingMs / 1000, 3), sshS: round(b.sshMs / 1000, 3), guestUsedMB: round(mem.guestMB, 1), qemuRssMB: round(mem.qemuMB, 1), load1: loadavg()[0] });
    // where the boot's time went, once per image, after the memory was read
    profile[w] ??= (await b.vm.link.exec('{ systemd-analyze time; systemd-analyze critical-chain docker.service; systemd-analyze blame | head -n 15; } 2>&1').catch((e) => e.message)).trim().split('\n');
    await stopByHand(b.vm);
  };
  for (let i = 0; i < runs; i++) {
    log(`image: run ${i + 1}/${runs}`);
    for (const w of i % 2 === 0 ? ['ours', 'stock', 'old'] : ['old', 'stock', 'ours']) await one(w);
  }
  ctx.extra.imageProfile = profile;
  const oursName = `our trimmed ${release(ours.debian)} image`;
  const oldName = `our recipe on ${release(old.debian)} (Docker ${old.dockerVersion}, kernel ${old.kernelVersion})`;
  ctx.figure({
    id: 'image.boot',
    bench: 'image',
    label: `${oursName}, QEMU by hand → _ping`,
    unit: 's',
    samples: ping.ours,
    baseline: { label: `stock ${release(stock.debian)} minbase + docker.io (Debian kernel + initramfs), same QEMU flags → _ping`, samples: ping.stock },
    goal: { text: 'stock ≥ 1.6× slower (ratio ≤ 0.625×)', on: 'ratio', max: 0.625 },
    note: `both by hand, same command line but kernel/initrd/disk; stock initrd ${Math.round(stock.sizes.initrd / 2 ** 20)} MB, disk ${Math.round(stock.sizes['base.qcow2'] / 2 ** 20)} MB`,
  });
  ctx.figure({ id: 'image.ssh', bench: 'image', label: `${oursName}, QEMU by hand → SSH up`, unit: 's', samples: ssh.ours, baseline: { label: 'stock image → SSH up', samples: ssh.stock } });
  ctx.figure({
    id: 'image.bootVsBookworm',
    bench: 'image',
    label: `${oursName} (Docker ${ours.dockerVersion}, kernel ${ours.kernelVersion}), QEMU by hand → _ping`,
    unit: 's',
    samples: ping.ours,
    baseline: { label: `${oldName} → _ping`, samples: ping.old },
    goal: { text: 'not slower (ratio ≤ 1.05×)', on: 'ratio', max: 1.05 },
    note: 'same samples as image.boot for ours; the Debian 12 disk is a fresh overlay of the instance disk’s size, booted once before timing',
  });
  const memNote = `${SETTLE_BEFORE_IDLE_S} s after _ping; the stock ${release(stock.debian)} guest: ${median(guestMB.stock)} MB used, QEMU RSS ${median(qemuMB.stock)} MB`;
  ctx.figure({ id: 'image.guestMemory', bench: 'image', label: `idle guest memory used (MemTotal − MemAvailable), ${oursName}`, unit: 'MB', samples: guestMB.ours, baseline: { label: oldName, samples: guestMB.old }, note: memNote });
  ctx.figure({ id: 'image.qemuRss', bench: 'image', label: `idle QEMU RSS (2 GiB guest), ${oursName}`, unit: 'MB', samples: qemuMB.ours, baseline: { label: oldName, samples: qemuMB.old }, note: memNote });
  for (const b of Object.values(boots)) b.cleanup?.();
}

/** Runs an image script that prints the image's directory last; checks it has a manifest. */
async function imageDir(what, cmd, env = {}) {
  const r = await run('bash', cmd, { env: { ...process.env, ...env }, timeoutMs: 1_800_000 });
  const dir = r.stdout.trim().split('\n').pop();
  if (r.code !== 0 || !dir || !fs.existsSync(path.join(dir, 'manifest.json'))) throw new Error(`${what} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return dir;
}

/** A by-hand boot of another image on the instance's command line: its kernel and initrd, and a fresh overlay on its disk. */
async function swappedBoot(inst, dir, name, { ssh, sizeBytes } = {}) {
  const ours = instanceCommand(inst);
  const overlay = inst.file(`${name}-overlay.qcow2`);
  fs.rmSync(overlay, { force: true });
  const img = await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', path.join(dir, 'base.qcow2'), overlay, ...(sizeBytes ? [String(sizeBytes)] : [])]);
  if (img.code !== 0) throw new Error(`qemu-img create: ${img.stderr.trim()}`);
  const swap = (a, i, args) => (args[i - 1] === '-kernel' ? path.join(dir, 'vmlinuz') : args[i - 1] === '-initrd' ? path.join(dir, 'initrd') : a.replace(`file=${inst.file('disk.qcow2')},`, `file=${overlay},`));
  const cmd = { binary: ours.binary, args: ours.args.map(swap) };
  if (!cmd.args.some((a) => a.includes(overlay))) throw new Error('could not find the disk in qemu.args.json');
  const boot = () => bootByHand(inst, { cmd, ...(ssh ? { ssh } : {}), timeoutMs: 600_000 });
  boot.cleanup = () => fs.rmSync(overlay, { force: true });
  return boot;
}

/** The guest's used memory (MemTotal − MemAvailable, over the boot's own SSH connection) and QEMU's RSS. */
async function idleMemory(vm) {
  const info = await vm.link.exec('cat /proc/meminfo');
  const kB = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(info)?.[1]);
  const guestMB = (kB('MemTotal') - kB('MemAvailable')) / 1024;
  if (!Number.isFinite(guestMB)) throw new Error(`no MemTotal/MemAvailable in the guest's /proc/meminfo: ${info.slice(0, 200)}`);
  return { guestMB, qemuMB: rssMB(vm.pid) };
}

const median = (xs) => Math.round(summarize(xs)?.median ?? NaN);

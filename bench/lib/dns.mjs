// DNS from a container vs on the host, in one run: the same busybox `nslookup` loop of one name,
// in a container on a user-defined network (Docker's embedded DNS → the VM's redirect → the
// engine's server → the host's resolver) and on the host (straight to its resolver).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const N = 100;
const IMAGE = 'berth-bench/busybox:dns';
// busybox date has no %N: the clock is /proc/uptime, in hundredths of a second, printed as µs.
const loop = (bb, name) =>
  `read s _ < /proc/uptime; i=0; f=0; while [ $i -lt ${N} ]; do ${bb} nslookup ${name} >/dev/null 2>&1 || f=$((f+1)); i=$((i+1)); done; read e _ < /proc/uptime; ` +
  'echo $(( (${e%.*}${e#*.} - ${s%.*}${s#*.}) * 10000 )) $f';
/** µs for the loop, and how many lookups failed (a failure is counted, not hidden). */
const parse = (out) => {
  const [us = NaN, failed = NaN] = out.trim().split(/\s+/).map(Number);
  return { ms: us / 1000 / N, failed };
};

/** `inst` is the BenchInstance, `shell` runs a command in the guest; `fig(name, values, unit, baseline, goal)` records a figure. */
export async function dnsBench({ inst, shell, fig, runs, results }) {
  const name = process.env.BENCH_DNS_NAME || 'registry.npmjs.org';
  const failures = { host: 0 };
  const host = () => {
    const r = spawnSync('sh', ['-c', loop('busybox', name)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`the host cannot run the lookup loop: ${r.stderr}`);
    const p = parse(r.stdout);
    failures.host += p.failed;
    return p.ms;
  };
  // The host's static busybox (the guest's may need a libc the image does not have), imported offline.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bdns-'));
  fs.mkdirSync(path.join(dir, 'root', 'bin'), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(dir, 'root', 'bin', 'busybox'));
  for (const a of ['sh', 'nslookup', 'sleep']) fs.symlinkSync('busybox', path.join(dir, 'root', 'bin', a));
  const docker = (args) => spawnSync('docker', args, { env: inst.dockerEnv, encoding: 'utf8' });
  spawnSync('tar', ['-C', path.join(dir, 'root'), '-cf', path.join(dir, 'rootfs.tar'), '.']);
  const imp = docker(['import', path.join(dir, 'rootfs.tar'), IMAGE]);
  fs.rmSync(dir, { recursive: true, force: true });
  if (imp.status !== 0) throw new Error(`docker import: ${imp.stderr}`);
  await shell(`docker network create berth-bench-dns >/dev/null 2>&1 || true; docker rm -f bdns >/dev/null 2>&1; docker run -d --name bdns --network berth-bench-dns ${IMAGE} sleep 3600 >/dev/null`);
  // The host's docker CLI, with the loop as one argument: no shell between it and the container.
  const inContainer = async (n) => {
    const r = spawnSync('docker', ['exec', 'bdns', 'sh', '-c', loop('busybox', n)], { env: inst.dockerEnv, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`the container cannot run the lookup loop (exit ${r.status}): ${r.stderr}`);
    const p = parse(r.stdout);
    failures[n] = (failures[n] ?? 0) + p.failed;
    return p.ms;
  };
  const c = [];
  const own = [];
  const h = [];
  for (let i = 0; i < runs; i++) {
    c.push(await inContainer(name));
    own.push(await inContainer('host.docker.internal'));
    h.push(host());
  }
  await shell('docker rm -f bdns >/dev/null; docker network rm berth-bench-dns >/dev/null || true');
  fig(`dns: lookup of ${name} from a container (ms per lookup)`, c, 'ms', h);
  fig('dns: lookup of host.docker.internal from a container (ms per lookup)', own, 'ms', h);
  const note = `busybox nslookup, ${N} per sample, one process each; baseline: the same loop on the host against its own resolver; failed lookups (container, host-side): ${JSON.stringify(failures)}`;
  results.figures[`dns: lookup of ${name} from a container (ms per lookup)`].note = note;
  results.figures['dns: lookup of host.docker.internal from a container (ms per lookup)'].note = `${note}; answered by the engine itself, no upstream`;
}

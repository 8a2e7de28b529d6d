// DNS from a container vs on the host, in one run: the same busybox `nslookup` loop of one name,
// in a container on a user-defined network (Docker's embedded DNS → the VM's redirect → the
// engine's server → the host's resolver) and on the host (straight to its resolver).
import { spawnSync } from 'node:child_process';

const N = 20;
const IMAGE = 'berth-bench/busybox:dns';
const loop = (bb, name) => `i=0; s=$(date +%s%N); while [ $i -lt ${N} ]; do ${bb} nslookup ${name} >/dev/null 2>&1 || exit 3; i=$((i+1)); done; e=$(date +%s%N); echo $(( (e - s) / 1000 ))`;

/** `shell` runs a command in the guest; `fig(name, values, unit, baseline, goal)` records a figure. */
export async function dnsBench({ shell, fig, runs, results }) {
  const name = process.env.BENCH_DNS_NAME || 'registry.npmjs.org';
  const host = () => {
    const r = spawnSync('sh', ['-c', loop('busybox', name)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`the host cannot look up ${name} with busybox nslookup (set BENCH_DNS_NAME)`);
    return Number(r.stdout.trim()) / 1000 / N;
  };
  await shell(
    `set -e; d=$(mktemp -d); mkdir -p $d/bin; cp /bin/busybox $d/bin/busybox; for a in sh nslookup date; do ln -s busybox $d/bin/$a; done; ` +
      `tar -C $d -c . | docker import - ${IMAGE} >/dev/null; rm -rf $d; docker network create berth-bench-dns >/dev/null 2>&1 || true; ` +
      `docker rm -f bdns >/dev/null 2>&1; docker run -d --name bdns --network berth-bench-dns ${IMAGE} sh -c 'sleep 3600' >/dev/null`,
  );
  const inContainer = async (n) => Number((await shell(`docker exec bdns sh -c '${loop('busybox', n)}'`)).split('\n').pop()) / 1000 / N;
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
  const note = `busybox nslookup, ${N} per sample, one process each; baseline: the same loop on the host against its own resolver`;
  results.figures[`dns: lookup of ${name} from a container (ms per lookup)`].note = note;
  results.figures['dns: lookup of host.docker.internal from a container (ms per lookup)'].note = `${note}; answered by the engine itself, no upstream`;
}

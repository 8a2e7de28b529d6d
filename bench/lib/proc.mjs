// CPU time and RSS of processes from /proc (Linux). CPU is utime+stime of all the process's
// threads (field 14+15 of /proc/PID/stat, clock ticks); RSS is VmRSS of /proc/PID/status.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { now, sleep, summarize } from './util.mjs';

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** CPU seconds used so far by pid (all threads), or null when it is gone. */
export function cpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces: split after its closing parenthesis
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Resident set size in MB, or null when the process is gone. */
export function rssMB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Sample named processes for `seconds`: CPU % of one core over the whole window and over slices of
 * `sliceSec`, RSS sampled every second. Throws if a process disappears (the VM must stay up).
 */
export async function sampleProcesses(pids, seconds, sliceSec = 5) {
  const names = Object.keys(pids);
  const start = {};
  const sliceStart = {};
  const slices = Object.fromEntries(names.map((n) => [n, []]));
  const rss = Object.fromEntries(names.map((n) => [n, []]));
  const t0 = now();
  for (const n of names) {
    start[n] = cpuSeconds(pids[n]);
    if (start[n] === null) throw new Error(`${n} (pid ${pids[n]}) is not running`);
    sliceStart[n] = start[n];
  }
  let tSlice = t0;
  // tick-driven (one per second, scheduled against t0) so the slices are whole and never empty
  for (let tick = 1; tick <= seconds; tick++) {
    const wait = t0 + tick * 1000 - now();
    if (wait > 0) await sleep(wait);
    for (const n of names) {
      const r = rssMB(pids[n]);
      if (r === null) throw new Error(`${n} (pid ${pids[n]}) exited during the measurement`);
      rss[n].push(r);
    }
    if (tick % sliceSec === 0 || tick === seconds) {
      const t = now();
      for (const n of names) {
        const c = cpuSeconds(pids[n]);
        slices[n].push((100 * (c - sliceStart[n])) / ((t - tSlice) / 1000));
        sliceStart[n] = c;
      }
      tSlice = t;
    }
  }
  const elapsed = (now() - t0) / 1000;
  const out = {};
  for (const n of names) {
    const c = cpuSeconds(pids[n]);
    out[n] = {
      pid: pids[n],
      cpuPct: (100 * (c - start[n])) / elapsed,
      cpuSlices: slices[n],
      cpuSliceStats: summarize(slices[n]),
      rssMB: summarize(rss[n]),
    };
  }
  return { seconds: elapsed, sliceSec, clkTck: CLK_TCK, procs: out };
}

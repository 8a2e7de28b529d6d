// Small helpers shared by the benchmarks: statistics, processes with time limits, the machine.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now();

/** median, min, max, p90 and n of a list of numbers (null for an empty list). */
export function summarize(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  const p90 = v[Math.min(v.length - 1, Math.ceil(0.9 * v.length) - 1)];
  return { n: v.length, median, min: v[0], max: v[v.length - 1], p90 };
}

export function round(x, digits = 3) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function loadavg() {
  return os.loadavg().map((x) => round(x, 2));
}

/**
 * Run a command to completion with a time limit. Resolves { code, signal, stdout, stderr, ms };
 * never rejects for a non-zero exit (callers decide). On timeout the process group is killed.
 */
export function run(cmd, args, { env, timeoutMs = 120_000, input, cwd } = {}) {
  return new Promise((resolve) => {
    const t0 = now();
    const child = spawn(cmd, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(e.message), ms: now() - t0, timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: now() - t0, timedOut });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/**
 * One HTTP/1.0 request over a fresh connection to a unix socket (or any net.connect target),
 * read to the end. The same bytes are sent by the in-guest client (see guest.mjs).
 * Resolves { ok, ms, status, body } — never rejects.
 */
export function rawHttp(connectOpts, reqPath = '/_ping', timeoutMs = 3000) {
  return new Promise((resolve) => {
    const t0 = now();
    let buf = '';
    let done = false;
    const finish = (ok, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      resolve({ ok: ok && !!m && m[1] === '200', ms: now() - t0, status: m ? Number(m[1]) : null, body: buf.slice(buf.indexOf('\r\n\r\n') + 4), why });
    };
    const sock = net.connect(connectOpts);
    const timer = setTimeout(() => finish(false, 'timeout'), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(`GET ${reqPath} HTTP/1.0\r\nHost: docker\r\n\r\n`));
    sock.on('data', (d) => (buf += d));
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (e) => finish(false, e.code || e.message));
  });
}

/** The same request over an already-open duplex stream (an SSH channel). */
export function rawHttpOverStream(stream, reqPath = '/_ping', timeoutMs = 3000, t0 = now()) {
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const finish = (ok, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      resolve({ ok: ok && !!m && m[1] === '200', ms: now() - t0, status: m ? Number(m[1]) : null, why });
    };
    const timer = setTimeout(() => finish(false, 'timeout'), timeoutMs);
    stream.on('data', (d) => (buf += d.toString('latin1')));
    stream.on('end', () => finish(true));
    stream.on('close', () => finish(true));
    stream.on('error', (e) => finish(false, e.message));
    stream.end(`GET ${reqPath} HTTP/1.0\r\nHost: docker\r\n\r\n`);
  });
}

export function machineInfo() {
  const cpus = os.cpus();
  let qemu = null;
  const q = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  if (q.status === 0) qemu = q.stdout.split('\n')[0].trim();
  let osName = null;
  try {
    osName = /PRETTY_NAME="([^"]*)"/.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? null;
  } catch {
    // not Linux
  }
  return {
    cpus: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    kernel: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    os: osName,
    node: process.version,
    qemu,
  };
}

/** Is a process alive (signal 0)? */
export function alive(pid) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

export async function waitGone(pid, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await sleep(50);
  }
  return !alive(pid);
}

export function readPid(file) {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export function log(msg) {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[bench ${t} load ${loadavg()[0]}] ${msg}\n`);
}

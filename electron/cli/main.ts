// The `berth` command (its usage text below is the reference). Exit codes: 0 ok, 1 failure (message on stderr), 2 usage error.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import type { Envelope } from '../shared/contract.js';
import type { Status, StepRecord } from '../shared/status.js';
import type { Backend } from '../engine/backend.js';
import { forgetAccelFailures } from '../engine/accel.js';
import { dockerContextName, removeDockerContext } from '../engine/docker-context.js';
import { BerthFailure } from '../engine/errors.js';
import { EventLog, tailFile } from '../engine/event-log.js';
import { attachOrSpawn, hostSupervisor, offlineStatus, stopOrphan, tryAttach } from '../engine/host.js';
import { instancePaths } from '../engine/instance.js';
import type { InstancePaths } from '../engine/instance.js';
import { isAlive, readPid } from '../engine/qemu-process.js';
import { discardSaved, savedInfo } from '../engine/suspend/saved-state.js';
import { formatPorts, formatStatus } from './format.js';
import { cmdDisk, DISK_USAGE } from './disk.js';

const USAGE = `usage: berth <command> [options]

commands:
  start [--arch aarch64|x86_64] [--cpus N] [--memory GiB] [--foreground] [--image DIR] [--retry-accel]
                         boot the VM; prints DOCKER_HOST once Docker answers; --retry-accel
                         forgets a remembered HVF/KVM failure and tries the accelerator again
  stop [--shutdown] [--force]
                         stop Docker; with stopMode: suspend (the default) the VM is saved
                         to disk and the next start resumes it, containers still running;
                         --shutdown powers off instead (ACPI, then signals) and discards a
                         saved state; --force skips the graceful steps
  restart                shut down (never a suspend; a saved state is discarded), then boot
  status [--json]        state, arch, accelerator, docker socket, ports, mounts, emulation
  ports [--json]         forwarded ports
  mounts [--json]        host folders shared with the VM
  emulation on|off|status
                         foreign-architecture emulation (qemu-user + binfmt_misc)
  shell [-- CMD…]        a shell (or one command) in the VM
  logs [--follow] [--source serial|events|agent|supervisor]
${DISK_USAGE}
  delete [--yes]         stop and delete the instance (its disk and Docker data); asks
                         first, and outside a terminal refuses without --yes

options for every command:
  --instance NAME        the instance to use (default: default)`;

class UsageError extends Error {}

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');

function unwrap<T>(r: Envelope<T>): T {
  if (r.ok) return r.value;
  throw new BerthFailure(r.error.code, r.error.message, r.error.hint);
}

function fail(s: Status): number {
  const e = s.error;
  err(`berth: ${e ? `${e.message}` : `state is ${s.state}`}`);
  if (e?.step) err(`  failed step: ${e.step}`);
  if (e?.hint) err(`  hint: ${e.hint}`);
  return 1;
}

function printSteps(backend: Backend): () => void {
  const seen = new Map<string, string>();
  const t0 = Date.now();
  const print = (steps: StepRecord[]) => {
    steps.forEach((st, i) => {
      const key = `${st.state}`;
      if (seen.get(st.name) === key || st.state === 'pending') return;
      seen.set(st.name, key);
      if (st.state === 'running') return;
      const ms = st.durationMs !== undefined ? ` (${(st.durationMs / 1000).toFixed(1)} s)` : '';
      const mark = st.state === 'done' ? 'ok' : st.state === 'failed' ? 'FAILED' : st.state;
      err(`[${i + 1}/${steps.length}] ${st.label}: ${mark}${ms}${st.detail && st.state !== 'done' ? ` — ${st.detail}` : ''}`);
    });
  };
  // Only the steps of a start this command watches: a restart first stops the VM, and the old
  // boot's steps are not news (then the new boot's steps are printed afresh).
  let watching = false;
  const offStatus = backend.on('status', (s) => {
    if (s.state === 'starting') watching = true;
    if (s.state === 'stopping' || s.state === 'stopped') {
      watching = false;
      seen.clear();
    } else if (watching) print(s.steps);
  });
  let lastImage = '';
  const offProgress = backend.on('progress', (p) => {
    if (p.task === 'image' && p.label !== lastImage) {
      lastImage = p.label;
      err(`      ${p.label} (${Math.round((Date.now() - t0) / 1000)} s)`);
    }
  });
  return () => {
    offStatus();
    offProgress();
  };
}

async function cmdStart(p: InstancePaths, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { arch: { type: 'string' }, cpus: { type: 'string' }, memory: { type: 'string' }, foreground: { type: 'boolean' }, image: { type: 'string' }, 'retry-accel': { type: 'boolean' } },
    strict: true,
  });
  const params: { arch?: 'x86_64' | 'aarch64'; cpus?: number; memoryGiB?: number } = {};
  if (values.arch !== undefined) {
    if (values.arch !== 'x86_64' && values.arch !== 'aarch64') throw new UsageError(`--arch must be aarch64 or x86_64, not ${JSON.stringify(values.arch)}`);
    params.arch = values.arch;
  }
  if (values.cpus !== undefined) {
    const n = Number(values.cpus);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--cpus must be a whole number ≥ 1, not ${JSON.stringify(values.cpus)}`);
    params.cpus = n;
  }
  if (values.memory !== undefined) {
    const n = Number(values.memory);
    if (!Number.isFinite(n) || n < 1) throw new UsageError(`--memory must be a number of GiB ≥ 1, not ${JSON.stringify(values.memory)}`);
    params.memoryGiB = n;
  }
  if (values.image !== undefined) {
    // A local image directory (with manifest.json) instead of the build/download: for this start.
    if (!fs.existsSync(path.join(values.image, 'manifest.json'))) throw new UsageError(`--image ${values.image}: no manifest.json there`);
    process.env.BERTH_IMAGE_DIR = path.resolve(values.image);
  }
  if (values['retry-accel']) {
    const n = forgetAccelFailures(p.cache);
    err(n ? `berth: forgot ${n} remembered accelerator failure${n > 1 ? 's' : ''}; this start tries it again` : 'berth: no accelerator failure was remembered');
  }
  if (values.foreground) return startForeground(p, params);
  const client = await attachOrSpawn(p);
  await client.subscribe();
  const before = unwrap(await client.invoke('vm.status', {}));
  if (before.state === 'running' || before.state === 'degraded') {
    err(`berth: already running (${before.arch}, ${before.accel ?? '?'})`);
    out(`DOCKER_HOST=${before.dockerHost}`);
    await client.close();
    return 0;
  }
  const stopPrinting = printSteps(client);
  const s = unwrap(await client.invoke('vm.start', params));
  stopPrinting();
  await client.close();
  return reportStart(s);
}

function reportStart(s: Status): number {
  if (s.state === 'stopped') {
    err('berth: start cancelled: the VM was stopped while it was starting (state is stopped)');
    return 1;
  }
  if (s.state !== 'running' && s.state !== 'degraded') return fail(s);
  const how = s.resume?.resumed ? ', resumed from the saved state' : '';
  if (s.resume && !s.resume.resumed) err(`berth: booted cold: the saved state was not used: ${s.resume.reason ?? 'unknown reason'}`);
  err(`Docker is ready in ${((s.readyMs ?? 0) / 1000).toFixed(1)} s (${s.arch}, ${s.accel?.toUpperCase() ?? '?'}${s.accelNote ? `: ${s.accelNote}` : ''}${how})`);
  out(`DOCKER_HOST=${s.dockerHost}`);
  return 0;
}

async function startForeground(p: InstancePaths, params: { arch?: 'x86_64' | 'aarch64'; cpus?: number; memoryGiB?: number }): Promise<number> {
  const hosted = await hostSupervisor(p);
  if (!hosted) {
    err('berth: another Berth process already supervises this instance');
    err('  hint: `berth status` shows it; `berth stop` stops it.');
    return 1;
  }
  const stopPrinting = printSteps(hosted.supervisor);
  const s = await hosted.supervisor.start(params);
  stopPrinting();
  const code = reportStart(s);
  if (code !== 0) {
    await hosted.close();
    return code;
  }
  err('Running in the foreground; Ctrl-C stops the VM.');
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    hosted.supervisor.on('status', (st) => {
      if (st.state === 'error' || st.state === 'stopped') done();
    });
  });
  const final = hosted.supervisor.status();
  if (final.state !== 'error') await hosted.supervisor.stop({});
  await hosted.close();
  if (final.state === 'error') return fail(final);
  err('stopped');
  return 0;
}

async function currentStatus(p: InstancePaths): Promise<Status> {
  const c = await tryAttach(p);
  if (!c) return offlineStatus(p);
  try {
    return unwrap(await c.invoke('vm.status', {}));
  } finally {
    await c.close();
  }
}

async function cmdStop(p: InstancePaths, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { force: { type: 'boolean' }, shutdown: { type: 'boolean' } }, strict: true });
  const c = await tryAttach(p);
  if (!c) {
    const how = await stopOrphan(p, values.force === true);
    offlineStatus(p);
    // A VM whose supervisor died can only be shut down: its saved state (if any) is older than it.
    const discarded = (values.shutdown === true || how !== 'not running') && discardSaved(p);
    if (discarded) new EventLog(p.events).append('saved-discarded', { why: values.shutdown ? 'stop --shutdown' : 'orphan stopped' });
    if (how === 'not running' && discarded) err('berth: not running; the saved state was discarded, the next start boots cold');
    else if (how === 'not running' && savedInfo(p)) err('berth: not running (suspended: `berth start` resumes it, `berth stop --shutdown` discards the saved state)');
    else if (how === 'not running') err('berth: not running');
    else err(`stopped (${how})`);
    return 0;
  }
  const t0 = Date.now();
  const s = unwrap(await c.invoke('vm.stop', { force: values.force === true, shutdown: values.shutdown === true }));
  await c.close();
  if (s.state !== 'stopped') return fail(s);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (s.lastStop?.how === 'suspend') err(`suspended in ${secs} s (saved ${Math.round((s.lastStop.bytes ?? 0) / 2 ** 20)} MB); \`berth start\` resumes it, \`berth stop --shutdown\` discards it`);
  else err(`stopped in ${secs} s`);
  if (s.lastStop?.note) err(`  note: ${s.lastStop.note}`);
  return 0;
}

async function cmdStatus(p: InstancePaths, args: string[], what: 'status' | 'ports' | 'mounts'): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } }, strict: true });
  const s = await currentStatus(p);
  if (what === 'status') out(values.json ? JSON.stringify(s, null, 2) : formatStatus(s));
  else if (what === 'ports') out(values.json ? JSON.stringify(s.ports, null, 2) : formatPorts(s.ports));
  else
    out(
      values.json
        ? JSON.stringify(s.mounts, null, 2)
        : s.mounts.length
          ? s.mounts.map((m) => `${m.location} → ${m.guestPath} (${m.writable ? 'rw' : 'ro'}) ${m.state}${m.reason ? `: ${m.reason}` : ''}`).join('\n')
          : 'no mounts',
    );
  return 0;
}

async function cmdEmulation(p: InstancePaths, args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {}, strict: true });
  const what = positionals[0] ?? 'status';
  if (!['on', 'off', 'status'].includes(what) || positionals.length > 1) throw new UsageError('usage: berth emulation on|off|status');
  const c = await tryAttach(p);
  if (!c) {
    if (what === 'status') {
      const s = offlineStatus(p);
      out(`emulation: ${s.emulation.enabled ? 'on' : 'off'} (VM not running)`);
      return 0;
    }
    err('berth: the VM is not running; start it with `berth start`');
    return 1;
  }
  try {
    const e = unwrap(what === 'status' ? await c.invoke('emulation.status', {}) : await c.invoke('emulation.set', { enabled: what === 'on' }));
    out(`emulation of ${e.foreignArch}: ${e.state}${e.reason ? ` (${e.reason})` : ''}`);
    if (e.selfTest) out(`self-test: ${e.selfTest.ok ? 'passed' : 'FAILED'} — ran a ${e.foreignArch} binary: "${e.selfTest.output}" via ${e.selfTest.interpreter}`);
    return e.state === 'failed' ? 1 : 0;
  } finally {
    await c.close();
  }
}

async function cmdShell(p: InstancePaths, args: string[]): Promise<number> {
  const s = await currentStatus(p);
  if (s.state !== 'running' && s.state !== 'degraded') {
    err(`berth: the VM is ${s.state}; start it with \`berth start\``);
    return 1;
  }
  const cmd = args[0] === '--' ? args.slice(1) : args;
  const tty = process.stdin.isTTY ? ['-t'] : ['-T'];
  // ssh hands the remote shell one string: quote each word so `berth shell -- sh -c 'a b'` keeps its words.
  const remote = cmd.map((w) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
  const child = spawn('ssh', ['-F', p.sshConfig, ...tty, 'berth', ...(remote ? ['--', remote] : [])], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

async function cmdLogs(p: InstancePaths, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { follow: { type: 'boolean', short: 'f' }, source: { type: 'string', default: 'serial' }, lines: { type: 'string', default: '100' } }, strict: true });
  const files: Record<string, string> = { serial: p.serialLog, events: p.events, agent: p.agentLog, supervisor: p.supervisorLog };
  const file = files[values.source ?? 'serial'];
  if (!file) throw new UsageError('--source must be serial, events, agent or supervisor');
  for (const l of tailFile(file, Number(values.lines) || 100)) out(l);
  if (!values.follow) return 0;
  let pos = fs.existsSync(file) ? fs.statSync(file).size : 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
    if (size < pos) pos = 0;
    if (size > pos) {
      const fd = fs.openSync(file, 'r');
      const buf = Buffer.alloc(size - pos);
      fs.readSync(fd, buf, 0, buf.length, pos);
      fs.closeSync(fd);
      process.stdout.write(buf);
      pos = size;
    }
  }
}

/** Restart is a fresh boot everywhere (CLI, tray, dashboard): never a suspend and resume. */
async function cmdRestart(p: InstancePaths, args: string[]): Promise<number> {
  parseArgs({ args, options: {}, strict: true });
  const c = await tryAttach(p);
  if (!c) {
    // Nothing supervises the instance: shut down a VM left without its supervisor, drop a saved state, boot.
    const how = await stopOrphan(p);
    if (how !== 'not running') err(`stopped (${how})`);
    if (discardSaved(p)) {
      new EventLog(p.events).append('saved-discarded', { why: 'restart' });
      err('berth: the saved state was discarded; restart boots cold');
    }
    return cmdStart(p, []);
  }
  await c.subscribe();
  err('berth: shutting down, then booting');
  const stopPrinting = printSteps(c);
  const s = unwrap(await c.invoke('vm.restart', {}));
  stopPrinting();
  await c.close();
  return reportStart(s);
}

/** How long `berth delete` waits for a supervisor to exit once its VM is off (the headless one takes 3 s). */
const SUPERVISOR_EXIT_MS = 15_000;

async function waitExit(pid: number, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; isAlive(pid); ) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** y or yes (any case) deletes; anything else, or end of input, does not. */
function confirm(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
    let answered = false;
    rl.once('close', () => {
      if (!answered) process.stderr.write('\n');
      resolve(answered);
    });
    rl.question(question, (a) => {
      answered = /^\s*y(es)?\s*$/i.test(a);
      rl.close();
    });
  });
}

async function cmdDelete(p: InstancePaths, args: string[], supervisorExitMs: number): Promise<number> {
  const { values } = parseArgs({ args, options: { yes: { type: 'boolean', short: 'y' } }, strict: true });
  if (!fs.existsSync(p.dir)) {
    err(`berth: there is no instance ${p.name} (${p.dir}); nothing to delete`);
    return 0;
  }
  const who = `instance ${p.name} (${p.dir})`;
  const what = `${who}: its disk and all its Docker images, containers and volumes`;
  if (!values.yes) {
    if (!process.stdin.isTTY) {
      err(`berth: delete removes ${what}; without a terminal to ask, it needs --yes`);
      err(`  hint: \`berth delete --yes${p.name === 'default' ? '' : ` --instance ${p.name}`}\` deletes without asking.`);
      return 2;
    }
    if (!(await confirm(`Delete ${what}? [y/N] `))) {
      err('berth: nothing was deleted');
      return 1;
    }
  }
  const c = await tryAttach(p);
  if (c) {
    try {
      unwrap(await c.invoke('vm.stop', { shutdown: true }));
    } finally {
      await c.close();
    }
  } else await stopOrphan(p);
  // Its supervisor still has files open in the directory until it exits; the headless one exits
  // by itself once the VM is off, the app's does not (it supervises until quit).
  const sup = readPid(p.supervisorPid);
  if (sup && sup !== process.pid && !(await waitExit(sup, supervisorExitMs))) {
    err(`berth: the supervisor of ${p.name} (pid ${sup}) still runs after its VM stopped; nothing was deleted`);
    err('  hint: If the Berth app runs this instance, quit the app, then `berth delete` again.');
    return 1;
  }
  await removeDockerContext(p.docker, dockerContextName(p.name)).catch(() => undefined);
  fs.rmSync(p.dir, { recursive: true, force: true });
  err(`deleted ${who}`);
  return 0;
}

export interface MainOptions {
  /** How long `delete` waits for the supervisor to exit (default 15 s). */
  supervisorExitMs?: number;
}

export async function main(argv: string[], opts: MainOptions = {}): Promise<number> {
  let instance = 'default';
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--instance') {
      const v = argv[++i];
      if (!v) return usage('--instance needs a name');
      instance = v;
    } else if (a.startsWith('--instance=')) instance = a.slice('--instance='.length);
    else rest.push(a);
  }
  const [cmd, ...args] = rest;
  if (!cmd) return usage('no command given');
  if (cmd === 'help' || cmd === '--help' || cmd === '-h') {
    out(USAGE);
    return 0;
  }
  try {
    const p = instancePaths(instance);
    switch (cmd) {
      case 'start':
        return await cmdStart(p, args);
      case 'stop':
        return await cmdStop(p, args);
      case 'restart':
        return await cmdRestart(p, args);
      case 'status':
        return await cmdStatus(p, args, 'status');
      case 'ports':
        return await cmdStatus(p, args, 'ports');
      case 'mounts':
        return await cmdStatus(p, args, 'mounts');
      case 'emulation':
        return await cmdEmulation(p, args);
      case 'shell':
        return await cmdShell(p, args);
      case 'logs':
        return await cmdLogs(p, args);
      case 'disk':
        return await cmdDisk(p, args, out, err);
      case 'delete':
        return await cmdDelete(p, args, opts.supervisorExitMs ?? SUPERVISOR_EXIT_MS);
      default:
        return usage(`unknown command ${JSON.stringify(cmd)}`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return usage((e as Error).message);
    if (e instanceof BerthFailure) {
      if (e.code === 'E_USAGE') return usage(e.message);
      err(`berth: ${e.message}`);
      if (e.hint) err(`  hint: ${e.hint}`);
      return 1;
    }
    err(`berth: ${(e as Error).message}`);
    return 1;
  }
}

function usage(msg: string): number {
  err(`berth: ${msg}`);
  err(USAGE);
  return 2;
}

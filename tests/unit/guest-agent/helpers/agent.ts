// The real berth-guestd, built natively once per source tree (keyed by a hash of its sources, so every test file
// and rerun shares the build) and started in its test mode: --connect to a unix socket the test serves.
// BERTH_GUESTD_BIN runs another build of it (e.g. a dynamic -g one), BERTH_GUESTD_WRAP a wrapper such as
// "valgrind --error-exitcode=1 --leak-check=full".
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repo = path.resolve(__dirname, '../../../..');
const srcDir = path.join(repo, 'resources/guest/agent');
const script = path.join(repo, 'build/guest/build-agent.sh');

export function buildAgent(): string {
  if (process.env.BERTH_GUESTD_BIN) return process.env.BERTH_GUESTD_BIN;
  const h = crypto.createHash('sha256');
  for (const f of fs.readdirSync(srcDir).sort()) h.update(f).update(fs.readFileSync(path.join(srcDir, f)));
  h.update(fs.readFileSync(script));
  const dir = path.join(os.tmpdir(), `berth-guestd-${h.digest('hex').slice(0, 16)}`);
  const bin = path.join(dir, 'berth-guestd');
  if (fs.existsSync(bin)) return bin;
  const tmp = fs.mkdtempSync(`${dir}.tmp-`);
  execFileSync(script, [process.arch === 'arm64' ? 'aarch64' : 'x86_64', tmp], { stdio: 'pipe' });
  try {
    fs.renameSync(tmp, dir);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // another test file built it first
  }
  return bin;
}

export interface Agent {
  proc: ChildProcess;
  log: () => string;
  /** SIGTERM, then the exit code (a valgrind wrapper turns its errors into 1) */
  stop: () => Promise<number | null>;
}

export function startAgent(socketPath: string, bootIdFile: string): Agent {
  const wrap = process.env.BERTH_GUESTD_WRAP?.split(' ').filter(Boolean) ?? [];
  const args = [...wrap, buildAgent(), '--connect', socketPath, '--boot-id-file', bootIdFile];
  const proc = spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    proc,
    log: () => log,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

// In the app the host agent runs as an Electron utility process, not child_process.fork
// (Electron's own binary would start a second app). The agent's entry already speaks
// process.parentPort when it has one. Its stdout/stderr go to agent.log like under Node.
import fs from 'node:fs';
import { utilityProcess } from 'electron';
import type { AgentForker, AgentProcess } from '../engine/agent-host.js';
import type { FromAgent } from '../engine/agent/protocol.js';

export const electronForker: AgentForker = (entry, logFile) => {
  const log = fs.createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  const child = utilityProcess.fork(entry, [], { stdio: ['ignore', 'pipe', 'pipe'], serviceName: 'Berth agent' });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  child.on('exit', () => log.end());
  const proc: AgentProcess = {
    get pid() {
      return child.pid;
    },
    send: (m) => child.postMessage(m),
    // utility processes take no signal: kill() is SIGTERM
    kill: () => void child.kill(),
    on: ((e: 'message' | 'exit', fn: (...a: unknown[]) => void) => {
      if (e === 'message') child.on('message', (m: FromAgent) => fn(m));
      else child.on('exit', (code: number) => fn(code, null));
    }) as AgentProcess['on'],
  };
  return proc;
};

// An interactive `docker exec` through the Engine API alone (no docker CLI): create the exec with
// a tty, start it on a hijacked connection (`Upgrade: tcp`), and carry keystrokes and output as
// raw bytes. Shaped like a pty (onData/onExit/write/resize/kill) so the console serves it as one.
import { seg } from './api.js';
import type { DockerApi } from './api.js';

export interface ExecSession {
  onData(cb: (data: string) => void): void;
  onExit(cb: (e: { exitCode: number }) => void): void;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  kill(): void;
}

/** bash when the image has it, else sh: what a user expects of "a shell in the container" */
export const DEFAULT_SHELL = ['/bin/sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi'];

export async function openExec(api: DockerApi, container: string, size: { cols: number; rows: number }, cmd: string[] = DEFAULT_SHELL): Promise<ExecSession> {
  const created = await api.call<{ Id: string }>('POST', `/containers/${seg(container)}/exec`, {
    body: { AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, Cmd: cmd, Env: ['TERM=xterm-256color', 'COLORTERM=truecolor'] },
  });
  const execId = created.Id;
  // ConsoleSize (API 1.42+) sizes the tty from the start; older daemons ignore it, and get the resize below
  const { socket, head } = await api.hijack(`/exec/${seg(execId)}/start`, { Detach: false, Tty: true, ConsoleSize: [size.rows, size.cols] });
  const decoder = new TextDecoder();
  const dataCbs: Array<(d: string) => void> = [];
  const exitCbs: Array<(e: { exitCode: number }) => void> = [];
  const early: string[] = head.length ? [decoder.decode(head, { stream: true })] : [];
  let exited = false;

  socket.on('data', (b: Buffer) => {
    const text = decoder.decode(b, { stream: true });
    if (dataCbs.length) dataCbs.forEach((cb) => cb(text));
    else early.push(text);
  });
  const finish = (): void => {
    if (exited) return;
    exited = true;
    void api
      .call<{ ExitCode?: number | null }>('GET', `/exec/${seg(execId)}/json`, { timeoutMs: 5000 })
      .then((j) => j?.ExitCode ?? 0)
      .catch(() => 0)
      .then((exitCode) => exitCbs.forEach((cb) => cb({ exitCode })));
  };
  socket.on('end', finish);
  socket.on('close', finish);
  socket.on('error', finish);

  let last = { ...size };
  const resize = (cols: number, rows: number): void => {
    last = { cols, rows };
    void api.call('POST', `/exec/${seg(execId)}/resize`, { query: { h: rows, w: cols }, timeoutMs: 5000 }).catch(() => undefined);
  };
  resize(size.cols, size.rows);
  // a resize that lands before the process runs is refused: once more a moment later
  setTimeout(() => !exited && resize(last.cols, last.rows), 300).unref();

  return {
    onData(cb) {
      dataCbs.push(cb);
      if (early.length) cb(early.splice(0).join(''));
    },
    onExit(cb) {
      exitCbs.push(cb);
    },
    write(data) {
      if (!exited) socket.write(data);
    },
    resize,
    kill() {
      socket.destroy();
    },
  };
}

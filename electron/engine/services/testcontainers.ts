// Testcontainers (Node, Java, Go) ignores Docker contexts (Go reads them only in recent versions),
// but all three read `docker.host` from ~/.testcontainers.properties. While this instance runs
// and its docker context is current (or docker.defaultSocket says Berth is the default Docker),
// Berth keeps its own line there, marked as Berth's, and removes exactly that line at stop. A
// docker.host Berth did not write is never touched (the status says so).
//
// Why it cannot break a Docker Desktop on the same Mac: the line exists only while Berth answers on
// it and the user chose Berth (its context current); each Testcontainers checks the socket it found
// (Node and Go call Docker's info, Java pings) and moves on to the next place (/var/run/docker.sock,
// ~/.docker/run/docker.sock) when it does not answer, so even a line left by a crash only costs a
// failed connect; DOCKER_HOST still wins over the file in all three.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Settings } from '../../shared/settings.js';
import type { SocketsStatus, Status } from '../../shared/status.js';
import { writeFileAtomic } from '../atomic.js';
import { dockerContextName } from '../docker-context.js';
import type { Service, ServiceContext } from './service.js';

export const PROPERTIES_FILE = '.testcontainers.properties';
export const MARKER = '# Berth: docker.host while a Berth instance runs; removed when it stops';

export type TestcontainersInfo = NonNullable<SocketsStatus['testcontainers']>;

/** A .properties line's key and value (`key=value`, `key: value`, `key value`), unescaped as Java reads it; undefined for comments and blanks. */
export function parseLine(line: string): { key: string; value: string } | undefined {
  const t = line.replace(/^\s+/, '');
  if (!t || t.startsWith('#') || t.startsWith('!')) return undefined;
  const m = /^((?:\\.|[^\\=:\s])*)\s*[=:\s]?\s*(.*)$/.exec(t);
  if (!m) return undefined;
  const unescape = (s: string) => s.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', f: '\f' })[c] ?? c);
  return { key: unescape(m[1]!), value: unescape(m[2]!.replace(/\s+$/, '')) };
}

/** The docker.host value for a socket path. */
export function socketUrl(socket: string): string {
  return `unix://${socket}`;
}

export type PropertiesPlan = { text?: string; info: Omit<TestcontainersInfo, 'file'> };

/**
 * The file's new text with our line in it (undefined: leave the file as it is). `stale(value)`
 * says whether a docker.host marked as Berth's points at a socket that no longer exists (a crash,
 * another instance that stopped): such a line is replaced. Every other line is kept as it was.
 */
export function withOurLine(text: string, ours: string, stale: (value: string) => boolean): PropertiesPlan {
  const url = socketUrl(ours);
  const lines = text.split('\n');
  const hostAt = lines.findIndex((l) => parseLine(l)?.key === 'docker.host');
  if (hostAt < 0) {
    const body = text === '' || text.endsWith('\n') ? text : `${text}\n`;
    return { text: `${body}${MARKER}\ndocker.host=${url}\n`, info: { state: 'written', note: `docker.host → this instance` } };
  }
  const value = parseLine(lines[hostAt]!)!.value;
  if (value === url) return { info: { state: 'written', note: `docker.host → this instance` } };
  if (lines[hostAt - 1] === MARKER && stale(value)) {
    lines[hostAt] = `docker.host=${url}`;
    return { text: lines.join('\n'), info: { state: 'written', note: `docker.host → this instance (replaced Berth's stale ${value})` } };
  }
  return { info: { state: 'taken', note: `docker.host=${value} was not written by Berth: left as it is, so Testcontainers uses that Docker` } };
}

/** The file's text without our line and its marker (undefined: nothing of ours in it). */
export function withoutOurLine(text: string, ours: string): string | undefined {
  const url = socketUrl(ours);
  const lines = text.split('\n');
  const out: string[] = [];
  let removed = false;
  for (const line of lines) {
    const p = parseLine(line);
    if (p?.key === 'docker.host' && p.value === url) {
      removed = true;
      if (out[out.length - 1] === MARKER) out.pop();
      continue;
    }
    out.push(line);
  }
  return removed ? out.join('\n') : undefined;
}

/** The user's docker config folder. */
export function dockerConfigDir(env: NodeJS.ProcessEnv, home: string): string {
  return env.DOCKER_CONFIG || path.join(home, '.docker');
}

/** Whether `instance`'s docker context is the current one in the user's docker config. */
export function berthContextCurrent(env: NodeJS.ProcessEnv, instance: string, home: string): boolean {
  try {
    const cfg = JSON.parse(fs.readFileSync(path.join(dockerConfigDir(env, home), 'config.json'), 'utf8')) as { currentContext?: string };
    return cfg.currentContext === dockerContextName(instance);
  } catch {
    return false;
  }
}

/** Rewrite the file behind any symlink (a dotfiles checkout), atomically, keeping its mode. */
function writeKeepingLink(file: string, text: string): void {
  let real = file;
  try {
    real = fs.realpathSync(file);
  } catch {
    // a new file
  }
  let mode = 0o644;
  try {
    mode = fs.statSync(real).mode & 0o777;
  } catch {
    // a new file
  }
  if (text.trim() === '' && real === file) fs.rmSync(file, { force: true });
  else writeFileAtomic(real, text, mode);
}

export class TestcontainersService implements Service {
  readonly name = 'testcontainers';
  private info: TestcontainersInfo | undefined;
  private wantLine = false;
  private timer: NodeJS.Timeout | undefined;
  private watcher: fs.FSWatcher | undefined;

  constructor(
    private readonly ctx: ServiceContext,
    /** how often the current docker context is checked again while running */
    private readonly recheckMs = 10_000,
  ) {}

  private get home(): string {
    return this.ctx.env.HOME || os.homedir();
  }

  get file(): string {
    return path.join(this.home, PROPERTIES_FILE);
  }

  async onReady(settings: Settings): Promise<void> {
    this.wantLine = settings.docker.defaultSocket;
    this.apply();
    this.stopWatching();
    // The context is switched beside this (the services get ready together) and the user may
    // switch it at any time: the docker config's folder is watched, and checked every few seconds
    // where watching is not possible.
    try {
      this.watcher = fs.watch(dockerConfigDir(this.ctx.env, this.home), () => this.apply());
      this.watcher.on('error', () => this.watcher?.close());
      this.watcher.unref();
    } catch {
      this.watcher = undefined;
    }
    this.timer = setInterval(() => this.apply(), this.recheckMs);
    this.timer.unref();
  }

  private stopWatching(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** Our line while the user chose this instance (its context current, or the default socket setting); none otherwise. */
  apply(): void {
    const chosen = this.wantLine || berthContextCurrent(this.ctx.env, this.ctx.paths.name, this.home);
    const before = JSON.stringify(this.info);
    try {
      if (chosen) {
        const text = fs.existsSync(this.file) ? fs.readFileSync(this.file, 'utf8') : '';
        const plan = withOurLine(text, this.ctx.paths.docker, (v) => v.startsWith('unix://') && !fs.existsSync(v.slice('unix://'.length)));
        if (plan.text !== undefined) writeKeepingLink(this.file, plan.text);
        this.info = { ...plan.info, file: this.file };
      } else {
        this.removeOurLine();
        this.info = { state: 'off', file: this.file, note: `not written: the berth docker context is not the current one` };
      }
    } catch (e) {
      this.info = { state: 'failed', file: this.file, note: `${this.file}: ${(e as Error).message}` };
    }
    if (JSON.stringify(this.info) !== before) this.ctx.statusChanged();
  }

  private removeOurLine(): void {
    if (!fs.existsSync(this.file)) return;
    const next = withoutOurLine(fs.readFileSync(this.file, 'utf8'), this.ctx.paths.docker);
    if (next !== undefined) writeKeepingLink(this.file, next);
  }

  onStop(): void {
    this.stopWatching();
    try {
      this.removeOurLine();
    } catch {
      // an unreadable file: nothing of ours can be in it
    }
    this.info = undefined;
  }

  status(st: Status): void {
    if (this.info) st.sockets = { ...st.sockets, testcontainers: this.info };
  }
}

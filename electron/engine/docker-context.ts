// The `berth` docker context: created or updated to point at our socket; the current context is
// switched only when the user's current one is missing or broken (users hate stolen contexts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ToolMissing, resolveDocker } from './tools.js';

/** `berth` for the default instance, `berth-<name>` for the others. */
export function dockerContextName(instance: string): string {
  return instance === 'default' ? 'berth' : `berth-${instance}`;
}

/** Remove our context when it points at this socket (berth delete); switch back to default if it was current. */
export async function removeDockerContext(socket: string, name: string, dockerCli?: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // By absolute path: an app opened from the Finder has no Homebrew or Docker folders on PATH.
  const docker = dockerCli ?? (await resolveDocker().catch(() => undefined));
  if (!docker) return;
  // Without DOCKER_HOST and DOCKER_CONTEXT, which would make `context show` name them, not the config's choice.
  const { DOCKER_HOST: _host, DOCKER_CONTEXT: _context, ...rest } = env;
  env = rest;
  const r = await execa(docker, ['context', 'inspect', name, '--format', '{{.Endpoints.docker.Host}}'], { env, extendEnv: false, reject: false });
  if (r.exitCode !== 0 || String(r.stdout).trim() !== `unix://${socket}`) return;
  const cur = await execa(docker, ['context', 'show'], { env, extendEnv: false, reject: false });
  if (String(cur.stdout).trim() === name) await execa(docker, ['context', 'use', 'default'], { env, extendEnv: false, reject: false });
  await execa(docker, ['context', 'rm', '-f', name], { env, extendEnv: false, reject: false });
}

export interface ContextResult {
  created: boolean;
  switched: boolean;
  note?: string;
}

/**
 * Whether the user's current context works, so that it must be left alone: the context exists and
 * its endpoint is a socket (or not a unix socket at all: tcp://, ssh:// are not ours to judge). A
 * context that is missing, or whose socket file is gone, is broken. Nothing is probed beyond that:
 * a Docker Desktop that is merely not running still owns its context.
 */
async function currentContextIsUsable(docker: string, ours: string, dockerConfigDir: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  let cur: string | undefined;
  try {
    cur = (JSON.parse(fs.readFileSync(path.join(dockerConfigDir, 'config.json'), 'utf8')) as { currentContext?: string }).currentContext;
  } catch {
    cur = undefined;
  }
  let host: string;
  if (!cur || cur === 'default') {
    // The default context means DOCKER_HOST, else /var/run/docker.sock.
    host = env.DOCKER_HOST || 'unix:///var/run/docker.sock';
  } else if (cur === ours) {
    return true;
  } else {
    const r = await execa(docker, ['context', 'inspect', cur, '--format', '{{.Endpoints.docker.Host}}'], { env: { ...env, DOCKER_CONFIG: dockerConfigDir }, reject: false });
    if (r.exitCode !== 0) return false; // a current context that does not exist
    host = String(r.stdout).trim();
  }
  if (!host.startsWith('unix://')) return true;
  try {
    return fs.statSync(host.slice('unix://'.length)).isSocket();
  } catch {
    return false;
  }
}

/**
 * Create (or point at `socket`) the context `name`, and make it the current one only when the
 * user's current context is missing or broken. `env` (default process.env) supplies DOCKER_HOST
 * and DOCKER_CONFIG.
 */
export async function ensureDockerContext(socket: string, opts: { name?: string; dockerConfigDir?: string; docker?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ContextResult> {
  const name = opts.name ?? 'berth';
  const userEnv = opts.env ?? process.env;
  const cfgDir = opts.dockerConfigDir ?? userEnv.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker');
  const env = { ...userEnv, DOCKER_CONFIG: cfgDir };
  const endpoint = `host=unix://${socket}`;
  let docker: string;
  try {
    docker = opts.docker ?? (await resolveDocker());
    await execa(docker, ['--version'], { env });
  } catch (e) {
    return { created: false, switched: false, note: `${e instanceof ToolMissing ? e.message : `the docker CLI does not run (${(e as Error).message})`}; use DOCKER_HOST` };
  }
  let created = false;
  const inspect = await execa(docker, ['context', 'inspect', name], { env, reject: false });
  if (inspect.exitCode === 0) {
    await execa(docker, ['context', 'update', name, '--docker', endpoint], { env, reject: false });
  } else {
    const r = await execa(docker, ['context', 'create', name, '--description', 'Berth VM', '--docker', endpoint], { env, reject: false });
    created = r.exitCode === 0;
    if (!created) return { created, switched: false, note: `docker context create failed: ${r.stderr.trim()}` };
  }
  let switched = false;
  if (!(await currentContextIsUsable(docker, name, cfgDir, userEnv))) {
    const r = await execa(docker, ['context', 'use', name], { env, reject: false });
    switched = r.exitCode === 0;
  }
  return { created, switched };
}

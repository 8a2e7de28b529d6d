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
export async function removeDockerContext(socket: string, name: string, dockerCli?: string): Promise<void> {
  // By absolute path: an app opened from the Finder has no Homebrew or Docker folders on PATH.
  const docker = dockerCli ?? (await resolveDocker().catch(() => undefined));
  if (!docker) return;
  const r = await execa(docker, ['context', 'inspect', name, '--format', '{{.Endpoints.docker.Host}}'], { reject: false });
  if (r.exitCode !== 0 || String(r.stdout).trim() !== `unix://${socket}`) return;
  const cur = await execa(docker, ['context', 'show'], { reject: false });
  if (String(cur.stdout).trim() === name) await execa(docker, ['context', 'use', 'default'], { reject: false });
  await execa(docker, ['context', 'rm', '-f', name], { reject: false });
}

export interface ContextResult {
  created: boolean;
  switched: boolean;
  note?: string;
}

function currentContextIsUsable(dockerConfigDir: string): boolean {
  let cur: string | undefined;
  try {
    cur = (JSON.parse(fs.readFileSync(path.join(dockerConfigDir, 'config.json'), 'utf8')) as { currentContext?: string }).currentContext;
  } catch {
    cur = undefined;
  }
  if (!cur || cur === 'default') {
    // The default context means DOCKER_HOST or /var/run/docker.sock: usable only if that socket answers.
    const host = process.env.DOCKER_HOST;
    if (host && !host.startsWith('unix://')) return true;
    const sock = host ? host.slice('unix://'.length) : '/var/run/docker.sock';
    try {
      return fs.statSync(sock).isSocket();
    } catch {
      return false;
    }
  }
  return cur === 'berth' || fs.existsSync(path.join(dockerConfigDir, 'contexts', 'meta'));
}

export async function ensureDockerContext(socket: string, opts: { name?: string; dockerConfigDir?: string; docker?: string } = {}): Promise<ContextResult> {
  const name = opts.name ?? 'berth';
  const cfgDir = opts.dockerConfigDir ?? process.env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker');
  const env = { ...process.env, DOCKER_CONFIG: cfgDir };
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
  if (!currentContextIsUsable(cfgDir)) {
    const r = await execa(docker, ['context', 'use', name], { env, reject: false });
    switched = r.exitCode === 0;
  }
  return { created, switched };
}

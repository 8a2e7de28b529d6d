// `docker compose` and `docker buildx` for the user's own docker CLI, the way Docker Desktop does
// it: the plugin binaries live under Berth's own directory and the CLI is told about it through
// `cliPluginsExtraDirs` in its config file. Nothing goes into the user's or the system's plugin
// folders, and a plugin the user already has wins: the CLI searches the extra dirs *first*
// (before ~/.docker/cli-plugins and the system dirs), so Berth's folder only ever holds the
// plugins the user does not have anywhere else.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { CliPluginInfo, DockerTools } from '../shared/status.js';
import { writeFileAtomic } from './atomic.js';

export const CLI_PLUGINS = ['docker-compose', 'docker-buildx'] as const;
export type CliPluginName = (typeof CLI_PLUGINS)[number];

/** Where the docker CLI looks after the extra dirs and the user's own folder (docker/cli, unix). */
export const SYSTEM_PLUGIN_DIRS = ['/usr/local/lib/docker/cli-plugins', '/usr/local/libexec/docker/cli-plugins', '/usr/lib/docker/cli-plugins', '/usr/libexec/docker/cli-plugins'];

/** A plugin binary Berth can offer: from the image build (Linux) or the app bundle (macOS). */
export interface PluginSource {
  name: string;
  version: string;
  file: string;
  size: number;
  sha256: string;
}

interface ListedPlugin {
  name: string;
  version: string;
  size: number;
  sha256: string;
}

function listed(file: string, key: 'cliPlugins' | 'plugins'): ListedPlugin[] {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    const list = j[key];
    return Array.isArray(list) ? (list as ListedPlugin[]).filter((p) => typeof p?.name === 'string' && typeof p.sha256 === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * The plugins on offer: the image directory's `cli-plugins/` (listed in its manifest.json, built
 * for this host by build/guest/build-image.sh), else the app's `<resources>/cli-plugins/`
 * (listed in its plugins.json, bundled by build/mac/bundle-cli-plugins.sh).
 */
export function pluginSources(opts: { imageDir?: string; resourcesDir?: string }): PluginSource[] {
  const out = new Map<string, PluginSource>();
  const add = (dir: string, list: ListedPlugin[]) => {
    for (const p of list) {
      const file = path.join(dir, p.name);
      if (!out.has(p.name) && CLI_PLUGINS.includes(p.name as CliPluginName) && fs.existsSync(file)) out.set(p.name, { ...p, file });
    }
  };
  if (opts.imageDir) add(path.join(opts.imageDir, 'cli-plugins'), listed(path.join(opts.imageDir, 'manifest.json'), 'cliPlugins'));
  if (opts.resourcesDir) add(path.join(opts.resourcesDir, 'cli-plugins'), listed(path.join(opts.resourcesDir, 'cli-plugins', 'plugins.json'), 'plugins'));
  return [...out.values()];
}

export interface ProvideOptions {
  /** Berth's plugin folder, e.g. $BERTH_HOME/_cli-plugins */
  pluginDir: string;
  /** the docker CLI's config folder: $DOCKER_CONFIG or ~/.docker */
  dockerConfigDir: string;
  sources: PluginSource[];
  /** injectable for tests */
  systemDirs?: string[];
}

export interface ProvideResult {
  /** per plugin: who provides it (Berth or the user) and where */
  plugins: Partial<Record<CliPluginName, CliPluginInfo>>;
  configUpdated: boolean;
  note?: string;
}

function isExecutableFile(f: string): boolean {
  try {
    const st = fs.statSync(f);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The docker CLI's config folder, as the CLI itself computes it. */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
}

interface DockerConfig {
  cliPluginsExtraDirs?: unknown;
  [k: string]: unknown;
}

/** Copy `src` to `dst` through a temporary file unless `dst` already has its size (and was made from the same digest). */
function install(src: PluginSource, dst: string, stamps: Record<string, string>): void {
  const st = fs.statSync(dst, { throwIfNoEntry: false });
  if (st && st.size === src.size && stamps[src.name] === src.sha256) return;
  const tmp = `${dst}.${process.pid}.tmp`;
  fs.copyFileSync(src.file, tmp);
  fs.chmodSync(tmp, 0o755);
  fs.renameSync(tmp, dst);
  stamps[src.name] = src.sha256;
}

/**
 * Put the plugins the user lacks into `pluginDir`, remove from it the ones the user has, and make
 * sure the docker config lists `pluginDir` in `cliPluginsExtraDirs` (written atomically, every
 * other key kept). An unreadable config is left alone and reported.
 */
export function provideCliPlugins(opts: ProvideOptions): ProvideResult {
  const cfgFile = path.join(opts.dockerConfigDir, 'config.json');
  let cfg: DockerConfig = {};
  let cfgText: string | undefined;
  try {
    cfgText = fs.readFileSync(cfgFile, 'utf8');
  } catch {
    cfgText = undefined;
  }
  if (cfgText !== undefined && cfgText.trim() !== '') {
    try {
      const parsed = JSON.parse(cfgText) as unknown;
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      cfg = parsed as DockerConfig;
    } catch (e) {
      return { plugins: {}, configUpdated: false, note: `left ${cfgFile} alone: ${(e as Error).message}; add "cliPluginsExtraDirs": [${JSON.stringify(opts.pluginDir)}] yourself for docker compose/buildx` };
    }
  }
  const extra = Array.isArray(cfg.cliPluginsExtraDirs) ? cfg.cliPluginsExtraDirs.filter((d): d is string => typeof d === 'string') : [];
  const ours = path.resolve(opts.pluginDir);
  const elsewhere = [...extra.filter((d) => path.resolve(d) !== ours), path.join(opts.dockerConfigDir, 'cli-plugins'), ...(opts.systemDirs ?? SYSTEM_PLUGIN_DIRS)];

  fs.mkdirSync(opts.pluginDir, { recursive: true, mode: 0o755 });
  const stampFile = path.join(opts.pluginDir, '.berth-plugins.json');
  let stamps: Record<string, string> = {};
  try {
    stamps = JSON.parse(fs.readFileSync(stampFile, 'utf8')) as Record<string, string>;
  } catch {
    stamps = {};
  }
  const plugins: ProvideResult['plugins'] = {};
  for (const name of CLI_PLUGINS) {
    const mine = path.join(opts.pluginDir, name);
    const theirs = elsewhere.map((d) => path.join(d, name)).find(isExecutableFile);
    const src = opts.sources.find((s) => s.name === name);
    if (theirs) {
      // The user's own plugin: ours must not shadow it.
      fs.rmSync(mine, { force: true });
      delete stamps[name];
      plugins[name] = { source: 'user', path: theirs };
    } else if (src) {
      install(src, mine, stamps);
      plugins[name] = { source: 'berth', path: mine, version: src.version };
    }
  }
  writeFileAtomic(stampFile, JSON.stringify(stamps, null, 2) + '\n', 0o644);

  let configUpdated = false;
  if (!extra.some((d) => path.resolve(d) === ours) && Object.values(plugins).some((p) => p.source === 'berth')) {
    fs.mkdirSync(opts.dockerConfigDir, { recursive: true, mode: 0o700 });
    const mode = fs.statSync(cfgFile, { throwIfNoEntry: false })?.mode;
    const next = { ...cfg, cliPluginsExtraDirs: [...extra, ours] };
    writeFileAtomic(cfgFile, JSON.stringify(next, null, '\t') + '\n', mode !== undefined ? mode & 0o777 : 0o600);
    configUpdated = true;
  }
  return { plugins, configUpdated };
}

/** `<plugin> docker-cli-plugin-metadata` → its Version (for the user's own plugins). */
export async function pluginVersion(file: string): Promise<string | undefined> {
  const r = await execa(file, ['docker-cli-plugin-metadata'], { reject: false, timeout: 10_000 });
  try {
    const v = (JSON.parse(String(r.stdout)) as { Version?: string }).Version;
    return v ? v.replace(/^v/, '') : undefined;
  } catch {
    return undefined;
  }
}

/** GET /version on the Docker socket: the engine's version and API version. */
export function engineVersion(socket: string, timeoutMs = 10_000): Promise<{ version?: string; apiVersion?: string; minApiVersion?: string }> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: '/version', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          const j = JSON.parse(body) as { Version?: string; ApiVersion?: string; MinAPIVersion?: string };
          resolve({ ...(j.Version ? { version: j.Version } : {}), ...(j.ApiVersion ? { apiVersion: j.ApiVersion } : {}), ...(j.MinAPIVersion ? { minApiVersion: j.MinAPIVersion } : {}) });
        } catch {
          resolve({});
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({}));
  });
}

/** The image directory this instance was last started from (written by the supervisor as image.json). */
function imageDirOf(instanceDir: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(instanceDir, 'image.json'), 'utf8')) as { dir?: string }).dir;
  } catch {
    return undefined;
  }
}

/**
 * After Docker answers: offer compose and buildx to the user's CLI and read back the versions
 * `berth status` shows. Never throws: a failure becomes `note`.
 */
export async function setUpDockerTools(opts: { berthHome: string; instanceDir: string; dockerSocket: string; resourcesDir?: string; env?: NodeJS.ProcessEnv }): Promise<DockerTools> {
  const tools: DockerTools = {};
  const engine = await engineVersion(opts.dockerSocket);
  if (engine.version) tools.engine = engine.version;
  if (engine.apiVersion) tools.apiVersion = engine.apiVersion;
  try {
    const imageDir = imageDirOf(opts.instanceDir);
    const sources = pluginSources({ ...(imageDir ? { imageDir } : {}), ...(opts.resourcesDir ? { resourcesDir: opts.resourcesDir } : {}) });
    const r = provideCliPlugins({ pluginDir: path.join(opts.berthHome, '_cli-plugins'), dockerConfigDir: dockerConfigDir(opts.env), sources });
    for (const [name, info] of Object.entries(r.plugins) as [CliPluginName, CliPluginInfo][]) {
      const version = info.version ?? (await pluginVersion(info.path));
      tools[name === 'docker-compose' ? 'compose' : 'buildx'] = { ...info, ...(version ? { version } : {}) };
    }
    if (r.note) tools.note = r.note;
  } catch (e) {
    tools.note = `docker CLI plugins not set up: ${(e as Error).message}`;
  }
  return tools;
}

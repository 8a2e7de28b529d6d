import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDockerContext } from '../../../electron/engine/docker-context.js';
import { BerthFailure } from '../../../electron/engine/errors.js';
import { configureTools, resolveDocker, resolveQemuImg, resolveTool, runLoginShell, toolDirs, ToolMissing, usualToolDirs } from '../../../electron/engine/tools.js';
import type { LoginShellRunner } from '../../../electron/engine/tools.js';

/** What an app opened from the Finder gets from launchd. */
const FINDER_PATH = '/usr/bin:/bin:/usr/sbin:/sbin';

describe('finding external commands as a login shell would', () => {
  let tmp: string;
  const exe = (dir: string, name: string, body = 'echo stand-in'): string => {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return file;
  };
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tools-'));
  });
  afterEach(() => {
    configureTools({});
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('from the Finder’s PATH, finds docker in a Homebrew-like prefix', async () => {
    const homebrew = path.join(tmp, 'opt', 'homebrew', 'bin');
    const docker = exe(homebrew, 'docker');
    const noShell: LoginShellRunner = async () => undefined;
    const found = await resolveDocker({ env: { PATH: FINDER_PATH, SHELL: '/bin/zsh' }, platform: 'darwin', home: tmp, prefixes: [homebrew], loginShell: noShell });
    expect(found).toBe(docker);
  });

  it('from the Finder’s PATH, finds docker on the login shell’s PATH, reading that PATH once', async () => {
    const rd = path.join(tmp, '.rd', 'bin');
    const docker = exe(rd, 'docker');
    const calls: string[] = [];
    const shell: LoginShellRunner = async (sh) => {
      calls.push(sh);
      return `${rd}:/usr/bin:relative/ignored`;
    };
    const opts = { env: { PATH: FINDER_PATH, SHELL: '/bin/bash' }, platform: 'darwin' as const, home: tmp, prefixes: [], loginShell: shell };
    expect(await resolveTool('docker', opts)).toBe(docker);
    expect(await resolveTool('docker', opts)).toBe(docker);
    expect(calls).toEqual(['/bin/bash']);
    expect(await toolDirs(opts)).toEqual(['/usr/bin', '/bin', '/usr/sbin', '/sbin', rd]);
  });

  it('the process’s own PATH comes first', async () => {
    const mine = exe(path.join(tmp, 'mine'), 'docker');
    exe(path.join(tmp, 'prefix'), 'docker');
    const found = await resolveTool('docker', { env: { PATH: path.join(tmp, 'mine') }, platform: 'darwin', home: tmp, prefixes: [path.join(tmp, 'prefix')], loginShell: async () => undefined });
    expect(found).toBe(mine);
  });

  it('a missing tool is an error listing every place looked in', async () => {
    const prefix = path.join(tmp, 'opt', 'homebrew', 'bin');
    let thrown: unknown;
    try {
      await resolveDocker({ env: { PATH: FINDER_PATH }, platform: 'darwin', home: tmp, prefixes: [prefix], loginShell: async () => undefined });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ToolMissing);
    expect(thrown).toBeInstanceOf(BerthFailure);
    const e = thrown as ToolMissing;
    expect(e.code).toBe('E_TOOL_MISSING');
    expect(e.message).toBe(`docker not found (looked in /usr/bin, /bin, /usr/sbin, /sbin, ${prefix})`);
    expect(e.hint).toMatch(/brew install docker/);
  });

  it('a directory or a non-executable file of that name does not count', async () => {
    const d = path.join(tmp, 'd');
    fs.mkdirSync(path.join(d, 'docker'), { recursive: true });
    fs.writeFileSync(path.join(tmp, 'docker'), 'not executable', { mode: 0o644 });
    await expect(resolveTool('docker', { env: { PATH: `${d}:${tmp}` }, platform: 'linux', prefixes: [] })).rejects.toThrow(/docker not found/);
  });

  it('the usual macOS prefixes include Homebrew, Docker Desktop and Rancher Desktop', () => {
    const dirs = usualToolDirs('darwin', '/Users/u');
    for (const d of ['/opt/homebrew/bin', '/usr/local/bin', '/Applications/Docker.app/Contents/Resources/bin', '/Users/u/.docker/bin', '/Users/u/.rd/bin']) expect(dirs).toContain(d);
  });

  it('the login-shell runner reads PATH past whatever the profile prints', async () => {
    // A stand-in login shell: a chatty profile, then the PATH it sets, then the command.
    const shell = exe(tmp, 'fake-zsh', `echo "Last login: Mon Dec  1 on ttys000"\nPATH=/opt/homebrew/bin:/usr/bin\nexport PATH\nshift; shift\neval "$1"`);
    expect(await runLoginShell(shell, { PATH: FINDER_PATH })).toBe('/opt/homebrew/bin:/usr/bin');
  });

  it('a login shell that fails gives no PATH rather than an error', async () => {
    const shell = exe(tmp, 'broken-sh', 'exit 3');
    expect(await runLoginShell(shell, {})).toBeUndefined();
    expect(await runLoginShell(path.join(tmp, 'no-such-shell'), {})).toBeUndefined();
  });

  it('qemu-img: beside BERTH_QEMU, then beside the app’s bundled QEMU, then on the search path', async () => {
    const resources = path.join(tmp, 'Resources');
    const bundled = exe(path.join(resources, 'qemu', 'bin'), 'qemu-img');
    const explicit = exe(path.join(tmp, 'custom'), 'qemu-img');
    const opts = { platform: 'darwin' as const, home: tmp, prefixes: [], loginShell: async () => undefined, resourcesPath: resources };
    expect(await resolveQemuImg({ ...opts, env: { PATH: FINDER_PATH } })).toBe(bundled);
    expect(await resolveQemuImg({ ...opts, env: { PATH: FINDER_PATH, BERTH_QEMU: path.join(tmp, 'custom', 'qemu-system-aarch64') } })).toBe(explicit);
  });

  it('qemu-img missing: the error names the folders, not an empty reason', async () => {
    // (this machine has a qemu-img in /usr/bin, so the PATH here is an empty folder)
    const resources = path.join(tmp, 'Resources');
    const empty = path.join(tmp, 'empty');
    await expect(resolveQemuImg({ env: { PATH: empty }, platform: 'darwin', home: tmp, prefixes: [path.join(tmp, 'opt')], loginShell: async () => undefined, resourcesPath: resources })).rejects.toThrow(
      `qemu-img not found (looked in ${path.join(resources, 'qemu', 'bin')}, ${empty}, ${path.join(tmp, 'opt')})`,
    );
  });

  it('the berth docker context is made from the Finder’s PATH with the docker CLI of a Homebrew-like prefix', async () => {
    const homebrew = path.join(tmp, 'opt', 'homebrew', 'bin');
    const calls = path.join(tmp, 'calls');
    // A stand-in docker CLI: no context yet, creating one succeeds; every call is logged.
    exe(homebrew, 'docker', `echo "$*" >> ${calls}\ncase "$1 $2" in "--version "*) echo "Docker version 28.2.2";; "context inspect") exit 1;; *) exit 0;; esac`);
    configureTools({ env: { PATH: FINDER_PATH, HOME: tmp }, platform: 'darwin', prefixes: [homebrew], loginShell: async () => undefined });
    const r = await ensureDockerContext('/Users/u/.berth/default/docker.sock', { dockerConfigDir: path.join(tmp, '.docker') });
    expect(r.created).toBe(true);
    expect(fs.readFileSync(calls, 'utf8')).toContain('context create berth --description Berth VM --docker host=unix:///Users/u/.berth/default/docker.sock');
  });
  it('without any docker CLI the context step says where it looked', async () => {
    configureTools({ env: { PATH: path.join(tmp, 'empty') }, platform: 'darwin', prefixes: [path.join(tmp, 'opt')], loginShell: async () => undefined });
    const r = await ensureDockerContext('/x/docker.sock', { dockerConfigDir: path.join(tmp, '.docker') });
    expect(r).toEqual({ created: false, switched: false, note: `docker not found (looked in ${path.join(tmp, 'empty')}, ${path.join(tmp, 'opt')}); use DOCKER_HOST` });
  });
});

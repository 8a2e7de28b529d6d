// What a Docker Desktop user brings along, run against a suite's already booted VM with the real
// docker CLI and the compose/buildx plugins Berth gives it: BuildKit builds, a compose project,
// cross-builds under emulation. Offline: every base image is made locally, never pulled.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Instance } from './harness.js';
import { docker, statusOf, until } from './harness.js';

const BUILD_TIMEOUT = 400_000;

function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `bk-${tag}-`));
}

/** A build context whose base is a locally imported image (`from`): no registry is involved. */
function buildkitContext(from: string): string {
  const dir = tmpDir('ctx');
  fs.writeFileSync(path.join(dir, 'greeting.txt'), 'hello from COPY\n');
  fs.writeFileSync(
    path.join(dir, 'Dockerfile'),
    [
      `FROM ${from} AS base`,
      'RUN <<EOF',
      'echo heredoc-line-1 > /heredoc',
      'echo heredoc-line-2 >> /heredoc',
      'EOF',
      'COPY --chmod=0751 greeting.txt /greeting.txt',
      '',
      'FROM base AS final',
      'RUN stat -c %a /greeting.txt > /mode',
      'CMD ["sh", "-c", "cat /heredoc /mode /greeting.txt"]',
      '',
      // Never built: --target final stops before it, and BuildKit skips stages the target does not need.
      'FROM base AS unused',
      'RUN echo this stage must not run && exit 1',
      '',
      `FROM ${from} AS cached`,
      'ARG RUN_ID',
      'RUN --mount=type=cache,id=berth-test-cache,target=/cache echo "$RUN_ID" >> /cache/log && wc -l < /cache/log > /count',
      'CMD ["cat", "/count"]',
      '',
    ].join('\n'),
  );
  return dir;
}

/** BuildKit through the buildx plugin, the plugins' setup and the engine's API version. */
export function describeBuildKit(inst: Instance, from: string): void {
  describe('Docker 26 with BuildKit, compose and buildx for the user’s docker CLI', () => {
    it('the server reports Engine 26 and API ≥ 1.45', async () => {
      const r = await docker(inst, ['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}}']);
      expect(r.exitCode, String(r.stderr)).toBe(0);
      const [engine = '', api = ''] = String(r.stdout).trim().split(' ');
      expect(engine).toMatch(/^26\./);
      const [maj = 0, min = 0] = api.split('.').map(Number);
      expect(maj * 1000 + min).toBeGreaterThanOrEqual(1045);
    });

    it('docker compose and docker buildx are there, from Berth’s own plugin folder, named in the user’s config', async () => {
      const compose = await docker(inst, ['compose', 'version', '--short']);
      expect(compose.exitCode, String(compose.stderr)).toBe(0);
      expect(String(compose.stdout).trim()).toMatch(/^v?2\./);
      const buildx = await docker(inst, ['buildx', 'version']);
      expect(buildx.exitCode, String(buildx.stderr)).toBe(0);
      expect(String(buildx.stdout)).toMatch(/buildx v?0\.\d+/);
      const cfg = JSON.parse(fs.readFileSync(path.join(inst.env.DOCKER_CONFIG!, 'config.json'), 'utf8')) as { cliPluginsExtraDirs?: string[]; currentContext?: string };
      expect(cfg.cliPluginsExtraDirs).toContain(path.join(inst.home, '_cli-plugins'));
      // The context Berth made is still there: the plugin setup kept the other keys.
      expect(cfg.currentContext).toBe('berth');
      for (const p of ['docker-compose', 'docker-buildx']) {
        expect(fs.statSync(path.join(inst.home, '_cli-plugins', p)).mode & 0o111, p).not.toBe(0);
      }
    });

    it('berth status shows the engine, compose and buildx versions', async () => {
      const t = (await statusOf(inst)).dockerTools;
      expect(t?.engine).toMatch(/^26\./);
      expect(t?.compose).toMatchObject({ source: 'berth', version: expect.stringMatching(/^2\./) });
      expect(t?.buildx).toMatchObject({ source: 'berth', version: expect.stringMatching(/^0\./) });
    });

    it('a heredoc RUN, COPY --chmod and a multi-stage target build through BuildKit from a local base, and the result runs', async () => {
      const ctx = buildkitContext(from);
      const b = await docker(inst, ['buildx', 'build', '--load', '--progress', 'plain', '--target', 'final', '-t', 'berth-test/buildkit:1', ctx], { timeout: BUILD_TIMEOUT });
      expect(b.exitCode, String(b.stderr)).toBe(0);
      const log = String(b.stderr);
      expect(log).not.toMatch(/this stage must not run/);
      // The base came from the local store, not a registry (there is none here).
      expect(log).not.toMatch(/registry-1\.docker\.io|failed to resolve/);
      const r = await docker(inst, ['run', '--rm', 'berth-test/buildkit:1']);
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(String(r.stdout).trim().split('\n')).toEqual(['heredoc-line-1', 'heredoc-line-2', '751', 'hello from COPY']);
    }, BUILD_TIMEOUT);

    it('a RUN --mount=type=cache keeps its cache between builds (plain `docker build`, through the buildx plugin)', async () => {
      const ctx = buildkitContext(from);
      for (const id of ['1', '2']) {
        const b = await docker(inst, ['build', '--target', 'cached', '--build-arg', `RUN_ID=${id}`, '-t', 'berth-test/cache:1', ctx], { timeout: BUILD_TIMEOUT });
        expect(b.exitCode, String(b.stderr)).toBe(0);
      }
      const r = await docker(inst, ['run', '--rm', 'berth-test/cache:1']);
      expect(String(r.stdout).trim()).toBe('2');
    }, BUILD_TIMEOUT);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function httpGet(port: number, p: string): Promise<string | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${p}`, { signal: AbortSignal.timeout(3000) });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * docker compose v2: two services, a published port answered on the host's 127.0.0.1, a named
 * volume, a bind mount of a host folder (`share` must be mounted in the VM) and service-name DNS.
 */
export function describeCompose(inst: Instance, share: string, image: string): void {
  describe('docker compose v2', () => {
    const project = path.join(share, 'compose-proj');
    const name = 'berthcompose';
    const compose = (args: string[], timeout = 300_000) => docker(inst, ['compose', '--project-directory', project, '-p', name, ...args], { timeout });
    let port = 0;

    it('up -d brings up both services; the published port answers on the host with the bind-mounted file', async () => {
      port = await freePort();
      fs.mkdirSync(path.join(project, 'site'), { recursive: true });
      fs.writeFileSync(path.join(project, 'site', 'index.html'), 'served from a host folder\n');
      fs.writeFileSync(
        path.join(project, 'compose.yaml'),
        [
          'services:',
          '  web:',
          `    image: ${image}`,
          '    command: ["httpd", "-f", "-p", "80", "-h", "/www"]',
          `    ports: ["${port}:80"]`,
          '    volumes:',
          '      - ./site:/www:ro',
          '  client:',
          `    image: ${image}`,
          // Reaches the other service by its name, and keeps what it got in the named volume.
          '    command: ["sh", "-c", "while true; do wget -q -O /data/fetched.tmp http://web/index.html && mv /data/fetched.tmp /data/fetched; sleep 1; done"]',
          '    volumes:',
          '      - data:/data',
          '    depends_on: [web]',
          'volumes:',
          '  data: {}',
          '',
        ].join('\n'),
      );
      const up = await compose(['up', '-d']);
      expect(up.exitCode, String(up.stderr)).toBe(0);
      const ps = await compose(['ps', '--format', '{{.Service}} {{.State}}']);
      expect(String(ps.stdout).trim().split('\n').sort()).toEqual(['client running', 'web running']);
      expect(await until('the published port to answer on 127.0.0.1', () => httpGet(port, '/index.html'), 120_000, 250)).toBe('served from a host folder\n');
    }, 400_000);

    it('the client reached the web service by its name, and wrote into the named volume', async () => {
      const got = await until(
        'the client to fetch http://web/',
        async () => {
          const r = await compose(['exec', '-T', 'client', 'cat', '/data/fetched']);
          return r.exitCode === 0 && String(r.stdout) ? String(r.stdout) : undefined;
        },
        120_000,
        1000,
      );
      expect(got.trim()).toBe('served from a host folder');
      const vols = await docker(inst, ['volume', 'ls', '--format', '{{.Name}}']);
      expect(String(vols.stdout).split('\n')).toContain(`${name}_data`);
    }, 200_000);

    it('down -v removes the containers, the network and the named volume; the port closes', async () => {
      const down = await compose(['down', '-v', '--timeout', '1']);
      expect(down.exitCode, String(down.stderr)).toBe(0);
      const left = await docker(inst, ['ps', '-a', '--filter', `label=com.docker.compose.project=${name}`, '--format', '{{.Names}}']);
      expect(String(left.stdout).trim()).toBe('');
      expect(String((await docker(inst, ['volume', 'ls', '--format', '{{.Name}}'])).stdout).split('\n')).not.toContain(`${name}_data`);
      expect(String((await docker(inst, ['network', 'ls', '--format', '{{.Name}}'])).stdout).split('\n')).not.toContain(`${name}_default`);
      await until('the published port to close', async () => ((await httpGet(port, '/index.html')) === undefined ? true : undefined), 60_000, 500);
    }, 200_000);
  });
}

const GOARCH = { x86_64: 'amd64', aarch64: 'arm64' } as const;

/**
 * A FROM-scratch context that copies the busybox for the target platform ($TARGETARCH) and runs it:
 * one Dockerfile for any platform, no base image at all.
 */
function crossContext(busyboxes: Record<string, string>): string {
  const dir = tmpDir('cross');
  for (const [goarch, file] of Object.entries(busyboxes)) fs.copyFileSync(file, path.join(dir, `busybox-${goarch}`));
  fs.writeFileSync(
    path.join(dir, 'Dockerfile'),
    [
      'FROM scratch',
      'ARG TARGETARCH',
      'COPY --chmod=0755 busybox-${TARGETARCH} /bin/busybox',
      'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m > /built-on"]',
      'CMD ["/bin/busybox", "cat", "/built-on"]',
      '',
    ].join('\n'),
  );
  return dir;
}

/** With emulation on: a foreign-platform build runs its RUN under qemu-user; a two-platform build gives one image. */
export function describeCrossBuild(inst: Instance, native: 'x86_64' | 'aarch64', foreign: 'x86_64' | 'aarch64', busyboxes: () => Record<'x86_64' | 'aarch64', string>): void {
  describe(`cross-builds under emulation (${foreign} on ${native})`, () => {
    it(`docker buildx build --platform linux/${GOARCH[foreign]} runs RUN under the emulator and the image runs`, async () => {
      const bb = busyboxes();
      const ctx = crossContext({ [GOARCH[foreign]]: bb[foreign] });
      const b = await docker(inst, ['buildx', 'build', '--platform', `linux/${GOARCH[foreign]}`, '--load', '-t', 'berth-test/cross:1', ctx], { timeout: BUILD_TIMEOUT });
      expect(b.exitCode, String(b.stderr)).toBe(0);
      const arch = await docker(inst, ['image', 'inspect', '--format', '{{.Architecture}}', 'berth-test/cross:1']);
      expect(String(arch.stdout).trim()).toBe(GOARCH[foreign]);
      const r = await docker(inst, ['run', '--rm', '--platform', `linux/${GOARCH[foreign]}`, 'berth-test/cross:1']);
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(String(r.stdout).trim()).toBe(foreign);
    }, BUILD_TIMEOUT);

    it('a two-platform build --load gives one multi-platform image in the local store; each platform runs', async () => {
      const bb = busyboxes();
      const ctx = crossContext({ amd64: bb.x86_64, arm64: bb.aarch64 });
      const b = await docker(inst, ['buildx', 'build', '--platform', 'linux/amd64,linux/arm64', '--load', '-t', 'berth-test/multi:1', ctx], { timeout: BUILD_TIMEOUT });
      expect(b.exitCode, String(b.stderr)).toBe(0);
      for (const a of ['x86_64', 'aarch64'] as const) {
        const r = await docker(inst, ['run', '--rm', '--platform', `linux/${GOARCH[a]}`, 'berth-test/multi:1']);
        expect(r.exitCode, String(r.stderr)).toBe(0);
        expect(String(r.stdout).trim()).toBe(a);
      }
    }, BUILD_TIMEOUT);
  });
}

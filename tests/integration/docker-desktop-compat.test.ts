// Tools written for Docker Desktop, unchanged, against the shared VM: Testcontainers for Node finds
// Berth with no DOCKER_HOST (through the ~/.testcontainers.properties line Berth keeps while its
// context is current), and a container given the host-side socket path reaches the VM's dockerd.
// Offline: the images are made here (busybox and this machine's static docker CLI), never pulled.
import { execa } from 'execa';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIND_DOCKER_SOCKET, UNBIND_DOCKER_SOCKET } from '../../electron/engine/guest/socket-scripts.js';
import { ROOT, SHARED_VM, berth, docker, joinSharedVm, leaveSharedVm, sharedInstance, statusOf, until } from './harness.js';

const inst = sharedInstance();
const IMG = 'berth-test/docker-cli:compat';
/** Ryuk's job in busybox and the docker CLI: "Started" only once the mounted socket answers; at the end, remove what the labels name */
const REAPER = 'berth-test/reaper:compat';
const REAP_SH = [
  'docker version --format "{{.Server.Version}}" || exit 1',
  'echo Started',
  // -e: the filters are read until Testcontainers' process goes (a plain nc stops at its own stdin's end)
  'nc -l -p 8080 -e sh -c "cat > /tmp/filters"',
  'for f in $(sed -n "s/^label=//p" /tmp/filters | tr -d "\\r"); do docker ps -aq --filter "label=$f" | grep -v "^$(hostname)" | xargs -r docker rm -f; done',
  '',
].join('\n');
const socket = path.join(inst.dir, 'docker.sock');

/** busybox with every applet, and the docker CLI at /usr/local/bin/docker, imported as IMG (and as REAPER, running /reap.sh). */
async function importToolbox(): Promise<void> {
  const cli = String(spawnSync('sh', ['-c', 'command -v docker']).stdout).trim();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bdc-'));
  try {
    const root = path.join(dir, 'root');
    for (const d of ['bin', 'usr/local/bin', 'tmp', 'data']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
    fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
    for (const a of String(spawnSync('/bin/busybox', ['--list']).stdout).split('\n').filter((a) => a && a !== 'busybox')) fs.symlinkSync('busybox', path.join(root, 'bin', a));
    fs.copyFileSync(cli, path.join(root, 'usr', 'local', 'bin', 'docker'));
    fs.chmodSync(path.join(root, 'usr', 'local', 'bin', 'docker'), 0o755);
    fs.writeFileSync(path.join(root, 'reap.sh'), REAP_SH);
    const tar = path.join(dir, 'rootfs.tar');
    expect(spawnSync('tar', ['-C', root, '-cf', tar, '.']).status).toBe(0);
    for (const [image, cmd] of [[IMG, '["sh"]'], [REAPER, '["sh", "/reap.sh"]']] as const) {
      const r = await docker(inst, ['import', '--change', 'ENV PATH=/usr/local/bin:/bin', '--change', `CMD ${cmd}`, tar, image]);
      if (r.exitCode !== 0) throw new Error(`docker import: ${r.stderr}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A node process that knows nothing of Berth: PATH and HOME (the instance's home, where Berth
 * wrote its line) and nothing else — no DOCKER_HOST, no DOCKER_CONFIG. This machine runs inside a
 * container (/.dockerenv), which makes Testcontainers look for a bridge gateway instead of
 * localhost: TESTCONTAINERS_HOST_OVERRIDE says localhost, as a Mac or a plain Linux host would get.
 */
function testcontainersRun(script: string, extraEnv: Record<string, string>) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'btc-')), 'run.cjs');
  fs.writeFileSync(file, `const tc = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'testcontainers'))});\n(async () => {\n${script}\n})().catch((e) => { console.error(e && e.stack || e); process.exit(1); });\n`);
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: inst.home, ...extraEnv };
  if (fs.existsSync('/.dockerenv')) env.TESTCONTAINERS_HOST_OVERRIDE = 'localhost';
  return execa('node', [file], { env, extendEnv: false, reject: false, timeout: 240_000, cwd: path.dirname(file) });
}

beforeAll(async () => {
  await joinSharedVm(inst);
  await importToolbox();
}, 300_000);

afterAll(() => leaveSharedVm(inst), 120_000);

describe('Testcontainers for Node 10.28 with no environment variables', () => {
  it('while the berth context is current, ~/.testcontainers.properties has docker.host for this instance (berth status says so)', async () => {
    const file = path.join(inst.home, '.testcontainers.properties');
    const text = await until('the docker.host line', () => (fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('docker.host=') ? fs.readFileSync(file, 'utf8') : undefined), 30_000, 200);
    expect(text).toMatch(new RegExp(`^# Berth: .*\\ndocker\\.host=unix://${socket.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\n$`, 'm'));
    expect((await statusOf(inst)).sockets?.testcontainers).toEqual({ state: 'written', file, note: 'docker.host → this instance' });
    expect(String((await berth(inst, ['status'])).stdout)).toContain(`${file}: docker.host → this instance`);
  });

  it('starts a container with an exposed port and a bind mount, and reaches the port (Ryuk disabled: its image cannot be pulled here)', async () => {
    const data = path.join(inst.home, SHARED_VM.share, 'tc-bind');
    fs.mkdirSync(data, { recursive: true });
    fs.writeFileSync(path.join(data, 'index.html'), 'served from a bind mount\n');
    const r = await testcontainersRun(
      `const c = await new tc.GenericContainer(${JSON.stringify(IMG)})
  .withCommand(['httpd', '-f', '-p', '80', '-h', '/data'])
  .withExposedPorts(80)
  .withBindMounts([{ source: ${JSON.stringify(data)}, target: '/data', mode: 'ro' }])
  .start();
const rt = (await tc.getContainerRuntimeClient()).info.containerRuntime;
const body = await (await fetch('http://' + c.getHost() + ':' + c.getMappedPort(80) + '/index.html')).text();
console.log(JSON.stringify({ body, port: c.getMappedPort(80), remoteSocketPath: rt.remoteSocketPath }));
await c.stop();`,
      { TESTCONTAINERS_RYUK_DISABLED: 'true' },
    );
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const out = JSON.parse(String(r.stdout).trim().split('\n').pop()!) as { body: string; port: number; remoteSocketPath: string };
    expect(out.body).toBe('served from a bind mount\n');
    expect(out.port).not.toBe(80);
    // what Testcontainers' reaper would mount into its container: the host-side path
    expect(out.remoteSocketPath).toBe(socket);
  });

  it("its reaper's mount of that path reaches dockerd: a stand-in Ryuk (docker version through it) removes the session's container once the test process is gone", async () => {
    const r = await testcontainersRun(
      `const c = await new tc.GenericContainer(${JSON.stringify(IMG)}).withCommand(['sleep', '600']).start();
console.log(JSON.stringify({ id: c.getId() }));`,
      { RYUK_CONTAINER_IMAGE: REAPER },
    );
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    // Testcontainers waited for "Started": the stand-in's docker CLI reached dockerd through the mounted path
    const { id } = JSON.parse(String(r.stdout).trim().split('\n').pop()!) as { id: string };
    await until('the session container reaped', async () => (String((await docker(inst, ['ps', '-aq', '--no-trunc', '--filter', `id=${id}`])).stdout).trim() === '' ? true : undefined), 60_000, 500);
  }, 300_000);
});

describe("Berth's host-side socket path mounted into a container", () => {
  it('docker run -v <instance>/docker.sock:/var/run/docker.sock … docker version answers from the VM’s dockerd', async () => {
    expect((await statusOf(inst)).sockets?.inContainers).toEqual({ ok: true, path: socket });
    const r = await docker(inst, ['run', '--rm', '-v', `${socket}:/var/run/docker.sock`, IMG, 'docker', 'version', '--format', '{{.Server.Version}} {{.Server.Os}}']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout).trim()).toMatch(/^26\.\d+\.\d+\S* linux$/);
  });

  it('a socket path inside a shared folder (the 9p view of a host socket) is bound over, and unbound again before the shares are unmounted', async () => {
    // what a Mac has by default: the instance folder under the shared home
    const hostSock = path.join(inst.home, SHARED_VM.share, 'inst', 'docker.sock');
    fs.mkdirSync(path.dirname(hostSock), { recursive: true });
    const server = net.createServer((c) => c.end('not the VM\n')).listen(hostSock);
    await new Promise((res) => server.once('listening', res));
    try {
      const sh = (script: string, ...args: string[]) => berth(inst, ['shell', '--', 'sh', '-c', script, 'berth-test', ...args]);
      const before = await docker(inst, ['run', '--rm', '-v', `${hostSock}:/var/run/docker.sock`, IMG, 'docker', 'version', '--format', '{{.Server.Version}}']);
      expect(before.exitCode, 'the 9p view alone does not reach dockerd').not.toBe(0);
      for (let i = 0; i < 2; i++) {
        const bind = await sh(BIND_DOCKER_SOCKET, hostSock); // twice: idempotent
        expect(bind.exitCode, String(bind.stderr)).toBe(0);
        expect(String(bind.stdout).trim().split('\n').pop()).toBe('bound');
      }
      const mounts = await berth(inst, ['shell', '--', 'grep', '-c', ` ${hostSock} `, '/proc/self/mountinfo']);
      expect(String(mounts.stdout).trim(), 'one bind, not two').toBe('1');
      const after = await docker(inst, ['run', '--rm', '-v', `${hostSock}:/var/run/docker.sock`, IMG, 'docker', 'version', '--format', '{{.Server.Version}}']);
      expect(after.exitCode, String(after.stderr)).toBe(0);
      expect(String(after.stdout).trim()).toMatch(/^26\./);
      // nothing was created on the host: the host's own socket is still there, still the host's
      expect(fs.lstatSync(hostSock).isSocket()).toBe(true);
      // a missing path inside a share is refused rather than created on the host through 9p
      const missing = path.join(inst.home, SHARED_VM.share, 'nowhere', 'docker.sock');
      const refused = await sh(BIND_DOCKER_SOCKET, missing);
      expect(refused.exitCode).toBe(3);
      expect(fs.existsSync(path.dirname(missing))).toBe(false);
      // the unbind a save runs before `berth-mounts down`
      expect((await sh(UNBIND_DOCKER_SOCKET)).exitCode).toBe(0);
      const left = await berth(inst, ['shell', '--', 'grep', '-c', ` ${hostSock} `, '/proc/self/mountinfo']);
      expect(String(left.stdout).trim()).toBe('0');
    } finally {
      server.close();
      // the instance's own bind, which the unbind above removed, comes back at the next ready; put it back now for the suites after this one
      await berth(inst, ['shell', '--', 'sh', '-c', BIND_DOCKER_SOCKET, 'berth-test', socket]);
    }
  }, 180_000);
});

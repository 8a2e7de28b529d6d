// `berth disk` and `berth disk reclaim`: the same disk.usage / disk.reclaim requests as the
// dashboard, over the control socket (here to the dev-only fake backend), and offline.
import fs from 'node:fs';
import type net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cmdDisk, formatDisk, reclaimChoice } from '../../../electron/cli/disk.js';
import { serveControl } from '../../../electron/engine/control/server.js';
import { ensureInstanceDir, instancePaths } from '../../../electron/engine/instance.js';
import type { InstancePaths } from '../../../electron/engine/instance.js';
import { dockerFixtureBackend } from '../../fixtures/fake-backend.js';
import type { FakeBackend } from '../../fixtures/fake-backend.js';
import { diskFixture } from '../../fixtures/docker.js';

let home: string;
let p: InstancePaths;
let server: net.Server | null = null;
let backend: FakeBackend | null = null;
const out: string[] = [];
const err: string[] = [];
const run = (args: string[]) => cmdDisk(p, args, (s) => out.push(s), (s) => err.push(s));

beforeEach(() => {
  home = fs.mkdtempSync('/tmp/bdisk-');
  p = instancePaths('t', home);
  ensureInstanceDir(p);
  out.length = 0;
  err.length = 0;
});

afterEach(async () => {
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = null;
  await backend?.close();
  backend = null;
  fs.rmSync(home, { recursive: true, force: true });
});

async function serve(b: FakeBackend): Promise<void> {
  backend = b;
  server = await serveControl(p.control, b);
}

describe('berth disk', () => {
  it('shows the disk file on the host and Docker’s system df', async () => {
    await serve(dockerFixtureBackend());
    expect(await run([])).toBe(0);
    expect(out.join('\n')).toBe(formatDisk(diskFixture()));
    const lines = out[0]!.split('\n');
    expect(lines[0]).toBe('VM disk:  3.4 GB on this host, may grow to 69 GB (/Users/ada/.berth/default/disk.qcow2)');
    expect(lines).toContain('Volumes          3       2    1.1 GB       1.1 GB');
  });

  it('--json gives the disk.usage answer as it is', async () => {
    await serve(dockerFixtureBackend());
    expect(await run(['--json'])).toBe(0);
    expect(JSON.parse(out[0]!)).toEqual(diskFixture());
  });

  it('offline: the disk file still, and that Docker is not running', async () => {
    fs.writeFileSync(p.disk, Buffer.alloc(8192, 1));
    expect(await run([])).toBe(0);
    expect(out[0]).toMatch(/^VM disk: {2}\d+(\.\d)? KB on this host, may grow to \d+ GB/);
    expect(out[0]).toContain('Docker:   not running');
  });

  it('reclaim: by default stopped containers, dangling images and the build cache — never volumes', async () => {
    await serve(dockerFixtureBackend());
    expect(await run(['reclaim'])).toBe(0);
    expect(backend!.calls.find((c) => c.method === 'disk.reclaim')!.params).toEqual({ containers: true, images: 'dangling', buildCache: true });
    expect(out.join('\n')).toContain('Docker freed 405 MB.');
  }, 20_000);

  it('reclaim what was named; --all takes volumes and unused images too', () => {
    expect(reclaimChoice({ volumes: true })).toEqual({ volumes: true });
    expect(reclaimChoice({ 'all-images': true, containers: true })).toEqual({ containers: true, images: 'unused' });
    expect(reclaimChoice({ all: true })).toEqual({ containers: true, images: 'unused', volumes: true, buildCache: true });
  });

  it('reclaim while not running fails with the fix; a wrong word is a usage error', async () => {
    expect(await run(['reclaim'])).toBe(1);
    expect(err.join('')).toContain('berth start');
    await expect(run(['shrink'])).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

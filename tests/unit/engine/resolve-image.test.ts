// Where the guest image comes from when the builder cannot run (a Mac, the packed app): the release
// manifest in Resources → download with progress → a local image directory the engine boots from.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Progress } from '../../../electron/shared/status.js';
import { resolveImage } from '../../../electron/engine/image/local.js';

const files = { vmlinuz: randomBytes(3000), initrd: randomBytes(2000), 'base.qcow2': randomBytes(50_000) };
let server: http.Server;
let base = '';
let requests = 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'resolve-'));
const resources = path.join(tmp, 'resources');
const home = path.join(tmp, 'home');

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests++;
    const name = path.basename(req.url ?? '') as keyof typeof files;
    const body = files[name];
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  fs.mkdirSync(path.join(resources, 'images'), { recursive: true });
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  fs.writeFileSync(
    path.join(resources, 'images', 'aarch64.json'),
    JSON.stringify({
      schema: 1,
      arch: 'aarch64',
      version: 'test-1',
      files: [
        { role: 'kernel', name: 'vmlinuz', url: `${base}/vmlinuz`, size: files.vmlinuz.length, sha256: sha(files.vmlinuz) },
        { role: 'initrd', name: 'initrd', url: `${base}/initrd`, size: files.initrd.length, sha256: sha(files.initrd) },
        { role: 'disk', name: 'base.qcow2', url: `${base}/base.qcow2`, size: files['base.qcow2'].length, sha256: sha(files['base.qcow2']) },
      ],
    }),
  );
});
afterAll(() => server.close());

describe('resolveImage on a Mac (no local builder)', () => {
  it('downloads the release image with progress and lays it out as an image directory', async () => {
    const progress: Progress[] = [];
    const img = await resolveImage('aarch64', (p) => progress.push(p), { env: {}, resourcesDir: resources, berthHome: home, platform: 'darwin' });
    expect(fs.readFileSync(img.kernel)).toEqual(files.vmlinuz);
    expect(fs.readFileSync(img.disk)).toEqual(files['base.qcow2']);
    expect(img.manifest.arch).toBe('aarch64');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((p) => p.task === 'download' && p.step === 'image')).toBe(true);
    expect(progress.at(-1)?.fraction).toBe(1);
  });

  it('a second start uses the cache without a request', async () => {
    const before = requests;
    await resolveImage('aarch64', () => undefined, { env: {}, resourcesDir: resources, berthHome: home, platform: 'darwin' });
    expect(requests).toBe(before);
  });

  it('BERTH_IMAGE_DIR (berth start --image) wins over everything', async () => {
    const img = await resolveImage('aarch64', () => undefined, { env: {}, resourcesDir: resources, berthHome: home, platform: 'darwin' });
    const again = await resolveImage('aarch64', () => undefined, { env: { BERTH_IMAGE_DIR: img.dir }, resourcesDir: '/nonexistent', berthHome: home, platform: 'darwin' });
    expect(again.dir).toBe(img.dir);
  });
});

// A foreign-architecture image made offline: dockerd 20.10 ignores `docker import --platform`, so
// we write a `docker save`-style archive whose config names the architecture, and `docker load` it.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const GOARCH: Record<string, string> = { aarch64: 'arm64', x86_64: 'amd64' };

export function foreignImageArchive(busyboxBinary: string, arch: 'aarch64' | 'x86_64', tag: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'foreign-'));
  const root = path.join(dir, 'root');
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.copyFileSync(busyboxBinary, path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  for (const a of ['sh', 'uname', 'sleep', 'echo', 'cat', 'true']) fs.symlinkSync('busybox', path.join(root, 'bin', a));
  const img = path.join(dir, 'img');
  const layerId = 'layer0';
  fs.mkdirSync(path.join(img, layerId), { recursive: true });
  const layerTar = path.join(img, layerId, 'layer.tar');
  const t = spawnSync('tar', ['-C', root, '-cf', layerTar, '.']);
  if (t.status !== 0) throw new Error(`tar: ${t.stderr}`);
  const diffId = 'sha256:' + createHash('sha256').update(fs.readFileSync(layerTar)).digest('hex');
  const config = JSON.stringify({
    architecture: GOARCH[arch],
    os: 'linux',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: '2026-01-01T00:00:00Z', created_by: 'berth test' }],
    created: '2026-01-01T00:00:00Z',
  });
  const configName = createHash('sha256').update(config).digest('hex') + '.json';
  fs.writeFileSync(path.join(img, configName), config);
  fs.writeFileSync(path.join(img, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: [`${layerId}/layer.tar`] }]));
  const archive = path.join(dir, 'image.tar');
  const a = spawnSync('tar', ['-C', img, '-cf', archive, '.']);
  if (a.status !== 0) throw new Error(`tar: ${a.stderr}`);
  return archive;
}

// `berth disk` (what the VM's disk file takes on the host, what Docker stores in it) and
// `berth disk reclaim` (prune what was chosen, then show the file shrinking back) — the same
// `disk.usage` / `disk.reclaim` requests the dashboard's Disk view makes.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { Envelope } from '../shared/contract.js';
import type { DfCategory, DiskUsage, ReclaimChoice } from '../shared/docker.js';
import { BerthFailure } from '../engine/errors.js';
import { offlineStatus, tryAttach } from '../engine/host.js';
import type { InstancePaths } from '../engine/instance.js';

export const DISK_USAGE = `  disk [--json]          the VM disk file's size on this host and what Docker stores in it
  disk reclaim [--containers] [--images] [--all-images] [--volumes] [--build-cache] [--all]
                         remove what Docker does not use (default: stopped containers,
                         dangling images, build cache; volumes only with --volumes or --all)`;

export function formatSize(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

function unwrap<T>(r: Envelope<T>): T {
  if (r.ok) return r.value;
  throw new BerthFailure(r.error.code, r.error.message, r.error.hint);
}

function allocated(file: string): number | undefined {
  try {
    return fs.statSync(file).blocks * 512;
  } catch {
    return undefined;
  }
}

export function formatDisk(u: DiskUsage): string {
  const lines: string[] = [];
  if (u.vmDisk) lines.push(`VM disk:  ${formatSize(u.vmDisk.allocatedBytes)} on this host, may grow to ${formatSize(u.vmDisk.virtualBytes)} (${u.vmDisk.path})`);
  else lines.push('VM disk:  not created yet (the first start makes it)');
  if (!u.docker) {
    lines.push(`Docker:   ${u.dockerError ? u.dockerError.message : 'unknown'}`);
    return lines.join('\n');
  }
  const rows: Array<[string, DfCategory]> = [
    ['Images', u.docker.images],
    ['Containers', u.docker.containers],
    ['Volumes', u.docker.volumes],
    ['Build cache', u.docker.buildCache],
  ];
  lines.push('', `${'TYPE'.padEnd(12)}${'TOTAL'.padStart(6)}${'ACTIVE'.padStart(8)}${'SIZE'.padStart(10)}${'RECLAIMABLE'.padStart(13)}`);
  for (const [name, c] of rows) lines.push(`${name.padEnd(12)}${String(c.count).padStart(6)}${String(c.active).padStart(8)}${formatSize(c.sizeBytes).padStart(10)}${formatSize(c.reclaimableBytes).padStart(13)}`);
  return lines.join('\n');
}

export function reclaimChoice(values: { containers?: boolean; images?: boolean; 'all-images'?: boolean; volumes?: boolean; 'build-cache'?: boolean; all?: boolean }): ReclaimChoice {
  const any = values.containers || values.images || values['all-images'] || values.volumes || values['build-cache'];
  if (values.all) return { containers: true, images: 'unused', volumes: true, buildCache: true };
  if (!any) return { containers: true, images: 'dangling', buildCache: true };
  return {
    ...(values.containers ? { containers: true } : {}),
    ...(values['all-images'] ? { images: 'unused' as const } : values.images ? { images: 'dangling' as const } : {}),
    ...(values.volumes ? { volumes: true } : {}),
    ...(values['build-cache'] ? { buildCache: true } : {}),
  };
}

/** Waits (a few seconds at most) for the disk file to stop shrinking: freed blocks return within seconds. */
async function settledSize(file: string, maxMs = 8000): Promise<number | undefined> {
  let last = allocated(file);
  for (let t = 0; t < maxMs; t += 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = allocated(file);
    if (now === last) return now;
    last = now;
  }
  return last;
}

export async function cmdDisk(p: InstancePaths, args: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean' },
      containers: { type: 'boolean' },
      images: { type: 'boolean' },
      'all-images': { type: 'boolean' },
      volumes: { type: 'boolean' },
      'build-cache': { type: 'boolean' },
      all: { type: 'boolean' },
    },
  });
  const sub = positionals[0];
  if (positionals.length > 1 || (sub !== undefined && sub !== 'reclaim')) throw new BerthFailure('E_USAGE', 'usage: berth disk [--json] | berth disk reclaim [what…]');
  const c = await tryAttach(p);
  if (!sub) {
    if (!c) {
      const a = allocated(p.disk);
      const u: DiskUsage = { vmDisk: a === undefined ? null : { path: p.disk, allocatedBytes: a, virtualBytes: offlineStatus(p).diskGiB * 2 ** 30 }, docker: null, dockerError: { code: 'E_NOT_RUNNING', message: 'not running (start it with `berth start`)' } };
      out(values.json ? JSON.stringify(u, null, 2) : formatDisk(u));
      return 0;
    }
    try {
      const u = unwrap(await c.invoke('disk.usage', {}));
      out(values.json ? JSON.stringify(u, null, 2) : formatDisk(u));
      return 0;
    } finally {
      await c.close();
    }
  }
  if (!c) {
    err('berth: the VM is not running; start it with `berth start`');
    return 1;
  }
  try {
    const choice = reclaimChoice(values);
    const r = unwrap(await c.invoke('disk.reclaim', choice));
    const after = await settledSize(p.disk);
    if (values.json) {
      out(JSON.stringify({ ...r, ...(after !== undefined ? { allocatedSettled: after } : {}) }, null, 2));
      return 0;
    }
    const names = { containers: 'stopped containers', images: choice.images === 'unused' ? 'unused images' : 'dangling images', volumes: 'unused volumes', buildCache: 'build cache' };
    for (const s of r.steps) out(`${names[s.what].padEnd(20)} ${String(s.deleted).padStart(4)} removed, ${formatSize(s.reclaimedBytes)} freed`);
    out(`Docker freed ${formatSize(r.reclaimedBytes)}.`);
    if (r.allocatedBefore !== undefined && after !== undefined) out(`VM disk file: ${formatSize(r.allocatedBefore)} → ${formatSize(after)} on this host.`);
    return 0;
  } finally {
    await c.close();
  }
}

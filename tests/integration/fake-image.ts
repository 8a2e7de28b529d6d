// A guest image that boots nothing: a small qcow2 base, dummy kernel and initrd, and a manifest
// with their real sizes and digests, laid out like the builder's output. For the tests of what
// happens before QEMU runs the guest (disk checks, saved-state checks), without a VM.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const sha = (f: string): string => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
export const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8' });

export const FAKE_RECIPE = 'f00dfeedf00dfeed';

/** base.qcow2 (64 MB virtual) with its first MiB filled with `pattern`. Rebuilding gives a new file at the same path. */
export function buildFakeImage(dir: string, pattern: number): void {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, 'base.qcow2');
  fs.rmSync(base, { force: true });
  run('qemu-img', ['create', '-q', '-f', 'qcow2', base, '64M']);
  run('qemu-io', ['-c', `write -P ${pattern} 0 1M`, base]);
  for (const f of ['vmlinuz', 'initrd']) fs.writeFileSync(path.join(dir, f), `not a real ${f}\n`);
  const file = (name: string) => ({ name, size: fs.statSync(path.join(dir, name)).size, sha256: sha(path.join(dir, name)) });
  const manifest = { schema: 1, arch: 'x86_64', recipeHash: FAKE_RECIPE, kernelVersion: '6.1.0-test', kernel: file('vmlinuz'), initrd: file('initrd'), disk: file('base.qcow2') };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

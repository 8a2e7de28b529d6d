// A tiny local image for the VM specs (there is no registry here): the host's static busybox with
// a web root, imported with `docker import` through the caller's docker runner.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const APPLETS = ['sh', 'httpd', 'echo', 'uname', 'cat', 'rm', 'sleep', 'test', '['];

export async function importBusybox(docker: (args: string[]) => Promise<string>, image: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-busybox-'));
  const tar = path.join(dir, '..', `${path.basename(dir)}.tar`);
  try {
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.copyFileSync('/bin/busybox', path.join(dir, 'bin', 'busybox'));
    fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
    for (const app of APPLETS) fs.symlinkSync('busybox', path.join(dir, 'bin', app));
    fs.mkdirSync(path.join(dir, 'www'));
    fs.mkdirSync(path.join(dir, 'tmp'));
    fs.writeFileSync(path.join(dir, 'www', 'index.html'), 'hello from berth\n');
    await run('tar', ['-C', dir, '-cf', tar, '.']);
    await docker(['import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV PATH=/bin', tar, image]);
  } finally {
    fs.rmSync(tar, { force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

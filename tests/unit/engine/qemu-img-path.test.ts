// disk.ts runs qemu-img by absolute path, found as a login shell would (not by bare name on the
// process's PATH, which for an app opened from the Finder holds no Homebrew folder).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { qemuImg } from '../../../electron/engine/disk.js';
import { configureTools } from '../../../electron/engine/tools.js';

describe('qemu-img for the disk', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-qemuimg-'));
  afterEach(() => configureTools({}));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the disk code runs qemu-img through the resolver, not by bare name on the process PATH', async () => {
    const dir = path.join(tmp, 'qemu-bin');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'qemu-img'), '#!/bin/sh\necho "stand-in qemu-img $*"\n', { mode: 0o755 });
    configureTools({ env: { PATH: dir } });
    expect(await qemuImg(['--version'])).toEqual({ exitCode: 0, stdout: 'stand-in qemu-img --version', stderr: '' });
  });

  it('no qemu-img anywhere: E_TOOL_MISSING naming the folders, not an empty reason', async () => {
    const empty = path.join(tmp, 'empty');
    configureTools({ env: { PATH: empty }, platform: 'darwin', prefixes: [path.join(tmp, 'opt')], loginShell: async () => undefined, resourcesPath: path.join(tmp, 'Resources') });
    await expect(qemuImg(['create', '-f', 'qcow2', '/x.qcow2', '1G'])).rejects.toMatchObject({
      code: 'E_TOOL_MISSING',
      message: `qemu-img not found (looked in ${path.join(tmp, 'Resources', 'qemu', 'bin')}, ${empty}, ${path.join(tmp, 'opt')})`,
    });
  });
});

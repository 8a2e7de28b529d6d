// The VM's command line as the supervisor launches it, and what a failed launch quotes of qemu.log.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSettings } from '../../../electron/engine/config.js';
import { readImageDir } from '../../../electron/engine/image/local.js';
import { instancePaths } from '../../../electron/engine/instance/index.js';
import { vmCommand } from '../../../electron/engine/vm/choice.js';
import { qemuLogMark, qemuOutputSince } from '../../../electron/engine/vm/qemu-log.js';
import { fakeImage, removeScratch, scratch } from './helpers/stand-ins.js';

afterAll(removeScratch);

describe('the VM command line', () => {
  it("runs the chosen binary, with the bundle's data dir first, on this instance's disk under its name", () => {
    const home = scratch('berth-cmd-');
    const p = instancePaths('cmd', home);
    const image = readImageDir(fakeImage(path.join(home, 'img')), 'x86_64');
    const cmd = vmCommand({ host: { os: 'linux', arch: 'x64' }, paths: p }, { ...defaultSettings(), arch: 'x86_64' }, image, 'tcg', 2222, [], { path: '/opt/qemu/bin/qemu-system-x86_64', dataDir: '/opt/qemu/share/qemu', hvfCpu: 'host' });
    expect(cmd.binary).toBe('/opt/qemu/bin/qemu-system-x86_64');
    expect(cmd.args.slice(0, 2)).toEqual(['-L', '/opt/qemu/share/qemu']);
    expect(cmd.args.join(' ')).toContain(`file=${p.disk}`);
    expect(cmd.args.join(' ')).toContain('hostfwd=tcp:127.0.0.1:2222-:22');
  });

  it("a failed launch quotes only that launch's own lines of qemu.log", () => {
    const log = path.join(scratch('berth-qlog-'), 'qemu.log');
    fs.writeFileSync(log, '--- launch 1\nold error\n');
    const mark = qemuLogMark(log);
    fs.appendFileSync(log, '--- launch 2\nqemu: could not open disk\nqemu: giving up\n');
    expect(qemuOutputSince(log, mark)).toBe('qemu: could not open disk qemu: giving up');
    expect(qemuOutputSince(path.join(path.dirname(log), 'none.log'), 0)).toBe('');
  });
});

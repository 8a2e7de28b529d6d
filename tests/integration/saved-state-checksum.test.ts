// A saved VM state whose bytes are not the ones saved must never be loaded into the guest: the
// start says why and boots cold. No VM boots here: the image is a dummy (QEMU exits at once on its
// kernel), and the record is made to match everything this start would check, except the bytes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../../electron/engine/config.js';
import { EventLog } from '../../electron/engine/event-log.js';
import { ensureInstanceDir, instancePaths } from '../../electron/engine/instance.js';
import type { InstancePaths } from '../../electron/engine/instance.js';
import { findQemu } from '../../electron/engine/qemu-binary.js';
import { binaryDigest } from '../../electron/engine/suspend/binary-digest.js';
import { diskIdentity, RECORD_VERSION } from '../../electron/engine/suspend/saved-state.js';
import type { SavedRecord } from '../../electron/engine/suspend/saved-state.js';
import { Supervisor } from '../../electron/engine/supervisor.js';
import { buildFakeImage, FAKE_RECIPE, sha } from './fake-image.js';

const homes: string[] = [];
afterAll(() => homes.forEach((h) => fs.rmSync(h, { recursive: true, force: true })));

let home: string;
let p: InstancePaths;
let imgDir: string;
let env: NodeJS.ProcessEnv;

async function start() {
  const sup = new Supervisor({ paths: p, env, startTimeoutMs: 30_000 });
  try {
    return await sup.start();
  } finally {
    await sup.close();
  }
}

/** A state file and a record that match this instance exactly, as a suspend would leave them. */
async function suspendedState(): Promise<Buffer> {
  // A cold start that gets as far as launching QEMU leaves the disk, the generation and the
  // command line a resume compares against.
  const first = await start();
  expect(first.state).toBe('error');
  const cmd = JSON.parse(fs.readFileSync(p.qemuArgs, 'utf8')) as { binary: string; args: string[] };
  const sshPort = Number(/hostfwd=tcp:127\.0\.0\.1:(\d+)-:22/.exec(cmd.args.join(' '))![1]);
  const qemu = await findQemu({ arch: 'x86_64' });
  const state = Buffer.alloc(256 * 1024, 0x42);
  fs.writeFileSync(p.savedState, state);
  const rec: SavedRecord = {
    version: RECORD_VERSION,
    savedAt: '2026-12-01T00:00:00.000Z',
    saveMs: 100,
    qemu: { path: cmd.binary, version: qemu.version.text, sha256: await binaryDigest(cmd.binary, p.cache) },
    args: cmd.args,
    accel: 'tcg',
    sshPort,
    bootId: 'b00t',
    imageDir: imgDir,
    recipeHash: FAKE_RECIPE,
    settings: loadSettings(p.settings),
    disk: diskIdentity(p)!,
    stateBytes: state.length,
    stateSha256: sha(p.savedState),
    containersToRestart: [],
  };
  fs.writeFileSync(p.savedRecord, JSON.stringify(rec));
  return state;
}

beforeEach(() => {
  home = fs.mkdtempSync('/tmp/bsum-');
  homes.push(home);
  p = instancePaths('default', home);
  ensureInstanceDir(p);
  imgDir = path.join(home, 'images', `x86_64-${FAKE_RECIPE}`);
  buildFakeImage(imgDir, 0x11);
  env = { ...process.env, BERTH_HOME: home, BERTH_IMAGE_DIR: imgDir, BERTH_ACCEL: 'tcg' };
});

describe('resuming a saved state', () => {
  it('one flipped byte: the resume is skipped with the reason, the state discarded, and the start boots cold', async () => {
    const state = await suspendedState();
    state[1000] ^= 0x01;
    fs.writeFileSync(p.savedState, state);
    const st = await start();
    expect(st.resume).toEqual({ resumed: false, reason: expect.stringMatching(/^the saved state file is damaged \(sha256 [0-9a-f]{12}…, saved as [0-9a-f]{12}…\)$/) });
    for (const f of [p.savedState, p.savedRecord]) expect(fs.existsSync(f), f).toBe(false);
    // The cold boot went through the disk step to QEMU (which cannot boot this dummy kernel).
    expect(st.steps.find((s) => s.name === 'disk')?.state).toBe('done');
    expect(st.error?.step).toMatch(/^(qemu|kernel)$/);
    const kinds = EventLog.readLast(p.events).map((e) => e.kind);
    expect(kinds.lastIndexOf('resume-skipped')).toBeGreaterThan(-1);
  });

  it('an intact state passes the checksum and reaches QEMU (which then fails on the dummy kernel)', async () => {
    await suspendedState();
    const st = await start();
    expect(st.resume).toEqual({ resumed: false, reason: expect.stringMatching(/^QEMU could not resume it/) });
  });
});

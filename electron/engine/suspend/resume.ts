// The resume's own rungs: a saved state on disk is checked against everything it depends on
// (saved-state.ts), QEMU started with `-incoming`, and the state loaded. Any mismatch or failure
// discards the state (it is used once) and gives this way up, so the start boots cold; the reason
// goes to the journal and the status.
import { RESUME_DETAIL } from '../../shared/progress.js';
import { checkDiskBase } from '../disk.js';
import type { GuestImage } from '../image/local.js';
import { readImageDir } from '../image/local.js';
import type { QemuCommand } from '../qemu-args.js';
import { ensureSshMaterial, writeSshConfig } from '../ssh-keys.js';
import type { SshMaterial } from '../ssh-keys.js';
import { pickQemu } from '../lifecycle/boot.js';
import type { Rung, RungResult, Start, StartHost, TaggedMount } from '../lifecycle/ladder.js';
import type { QemuChoice } from '../vm/choice.js';
import { vmCommand } from '../vm/choice.js';
import { binaryDigest } from './binary-digest.js';
import { discardSaved, readSaved, verifyStateFile, whyNotResume } from './saved-state.js';
import type { SavedRecord } from './saved-state.js';

interface Resuming {
  rec: SavedRecord;
  image: GuestImage;
  choice: QemuChoice;
  cmd: QemuCommand;
  ssh: SshMaterial;
  tags: TaggedMount[];
  t0?: number;
  verifying?: Promise<string | null>;
  damaged?: string | null;
}

const resuming = new WeakMap<Start, Resuming>();

/** This way is given up: the reason in the status and the journal, every step pending again. */
function skipResume(host: StartHost, reason: string): 'not-this-way' {
  host.notes().resume = { resumed: false, reason };
  host.journal('resume-skipped', { reason });
  host.steps.reset();
  host.emitStatus();
  return 'not-this-way';
}

const check: Rung = {
  step: 'image',
  async run(s) {
    const { host, settings } = s;
    const { paths } = host;
    const { record: rec, note } = readSaved(paths);
    if (!rec) {
      if (discardSaved(paths)) skipResume(host, note ? `${note}; it was discarded` : 'a saved state without its record (an interrupted save) was found and discarded');
      return 'not-this-way';
    }
    host.steps.update('image', 'running', RESUME_DETAIL.checking);
    try {
      // A disk on the wrong base may be neither resumed nor booted. The state is kept (it is still
      // good with the original base) and the boot path refuses with the whole story.
      await checkDiskBase(paths.disk);
    } catch (e) {
      return skipResume(host, `the disk cannot be used: ${(e as Error).message}`);
    }
    const tags = s.mounts.map((m, i) => ({ ...m, tag: `berth${i}` }));
    let why: string | null;
    let ready: { image: GuestImage; choice: QemuChoice; cmd: QemuCommand } | undefined;
    try {
      const image = readImageDir(rec.imageDir, settings.arch);
      const choice = await pickQemu(host, settings);
      const cmd = vmCommand(host.choiceEnv(), settings, image, choice.accel, rec.sshPort, tags, choice.bin);
      const qemu = { ...choice.qemu, sha256: await binaryDigest(choice.qemu.path, paths.cache), ...(choice.bin.dataDir ? { dataDir: choice.bin.dataDir } : {}) };
      why = whyNotResume(paths, rec, { qemu, recipeHash: image.manifest.recipeHash, settings, accel: choice.accel, args: cmd.args });
      ready = { image, choice, cmd };
    } catch (e) {
      why = `it cannot be checked: ${(e as Error).message}`;
    }
    if (why || !ready) {
      discardSaved(paths);
      return skipResume(host, why ?? 'unknown');
    }
    const ssh = await ensureSshMaterial(paths);
    resuming.set(s, { rec, ...ready, ssh, tags });
    host.steps.update('image', 'done', RESUME_DETAIL.savedAt(rec.savedAt));
    host.steps.update('disk', 'done', RESUME_DETAIL.diskUnchanged(rec.disk.generation));
  },
};

/** The launch or the load failed: QEMU killed, the state discarded, the boot goes on cold. */
async function giveUp(host: StartHost, r: Resuming, e: unknown): Promise<RungResult> {
  // A damaged state is the reason even when QEMU failed first: it could never have loaded.
  r.damaged ??= await r.verifying!;
  const reason = r.damaged ?? `QEMU could not resume it: ${host.qemuOutput() || (e as Error).message}`;
  await host.kill();
  discardSaved(host.paths);
  return skipResume(host, reason);
}

const launch: Rung = {
  step: 'qemu',
  async run(s) {
    const { host, settings } = s;
    const r = resuming.get(s)!;
    const { rec, choice } = r;
    host.steps.update('qemu', 'running', RESUME_DETAIL.launching);
    r.t0 = Date.now();
    // The state's checksum is computed while QEMU starts; nothing is loaded before it matched.
    r.verifying = verifyStateFile(host.paths, rec);
    r.damaged = null;
    try {
      writeSshConfig(host.paths, r.ssh, rec.sshPort);
      await host.launch(r.cmd, { settings, image: r.image, accel: choice.accel, sshPort: rec.sshPort, bootId: rec.bootId, ssh: r.ssh, qemuVersion: choice.qemu.version }, ['-incoming', 'defer']);
      host.steps.update('qemu', 'done', `${choice.accel} pid ${host.run()!.vm.pid}`);
    } catch (e) {
      return giveUp(host, r, e);
    }
  },
};

const load: Rung = {
  step: 'kernel',
  async run(s) {
    const { host } = s;
    const r = resuming.get(s)!;
    const { rec } = r;
    try {
      host.steps.update('kernel', 'running', RESUME_DETAIL.loading);
      r.damaged = await r.verifying!;
      if (r.damaged) throw new Error(r.damaged);
      await host.run()!.vm.load(host.paths.savedState);
    } catch (e) {
      return giveUp(host, r, e);
    }
    // Used once: from now on the disk moves on and this state could only corrupt it.
    discardSaved(host.paths);
    const loadMs = Date.now() - r.t0!;
    const notes = host.notes();
    notes.resume = { resumed: true, loadMs };
    notes.restartAfterResume = rec.containersToRestart;
    host.mounts.expect(r.tags);
    host.journal('resumed', { loadMs, savedAt: rec.savedAt, bytes: rec.stateBytes });
    host.steps.update('kernel', 'done', RESUME_DETAIL.resumedIn(loadMs));
    s.woken = true;
    s.extra = { resumed: true, loadMs };
  },
};

export const resumeRungs = { check, launch, load };

// What a stand-in Electron needs for the pack's fuse step (build/electron-builder.yml
// electronFuses), and how a test reads the result.
//
// Electron's fuse wire as @electron/fuses finds it: the sentinel, the wire version (1), the number
// of fuses, then one byte per fuse ('0' off, '1' on). A stand-in binary carries Electron 45's
// defaults, so the pack has something to flip: RunAsNode on, cookie encryption off, NODE_OPTIONS
// on, --inspect on, embedded asar integrity off, only-load-from-asar off, browser V8 snapshot off,
// file:// privileges on. On macOS the wire lives in
// Contents/Frameworks/Electron Framework.framework/Electron Framework, on Linux in the executable.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { SENTINEL } = require('@electron/fuses/dist/constants') as { SENTINEL: string };
const { FuseV1Options, getCurrentFuseWire } = require('@electron/fuses') as {
  FuseV1Options: Record<string, number>;
  getCurrentFuseWire: (electron: string) => Promise<Record<string, number | string>>;
};

export const STAND_IN_WIRE = '10110001';

/** `head` (a Mach-O magic, a shell script) followed by a fuse wire with Electron's defaults. */
export function fuseCarrier(head: Buffer | string): Buffer {
  return Buffer.concat([Buffer.from(head), Buffer.alloc(64), Buffer.from(SENTINEL), Buffer.from([1, STAND_IN_WIRE.length]), Buffer.from(STAND_IN_WIRE), Buffer.alloc(64)]);
}

/** Where a real Electron.app keeps the wire, relative to the .app. */
export const MAC_FUSE_FILE = path.join('Contents', 'Frameworks', 'Electron Framework.framework', 'Electron Framework');

/** A binary's fuses by name, as '0'/'1' (given an .app, the Electron Framework inside it). */
export async function fusesOf(binary: string): Promise<Record<string, string>> {
  const wire = await getCurrentFuseWire(binary);
  const names = Object.keys(FuseV1Options).filter((k) => Number.isNaN(Number(k)));
  return Object.fromEntries(names.map((n) => [n, String.fromCharCode(Number(wire[FuseV1Options[n]!]))]));
}

/** The wire after the pack, from build/electron-builder.yml. */
export const FLIPPED = {
  RunAsNode: '0',
  EnableCookieEncryption: '0', // as shipped
  EnableNodeOptionsEnvironmentVariable: '0',
  EnableNodeCliInspectArguments: '0',
  EnableEmbeddedAsarIntegrityValidation: '1',
  OnlyLoadAppFromAsar: '1',
  LoadBrowserProcessSpecificV8Snapshot: '0', // as shipped
  GrantFileProtocolExtraPrivileges: '1', // as shipped: the app loads file://
};

/**
 * The fuse flip re-signs the app ad hoc (electronFuses.resetAdHocDarwinSignature) with
 * `codesign`, which only macOS has: a stand-in in `dir` records its arguments in `log` (and, on a
 * Mac, keeps the test away from the real one). Put `dir` first on the pack's PATH.
 */
export function codesignStub(dir: string): { dir: string; log: string; env: (base?: NodeJS.ProcessEnv) => { PATH: string } } {
  const log = path.join(dir, 'codesign.log');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'codesign'), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\n`, { mode: 0o755 });
  return { dir, log, env: (base = process.env) => ({ PATH: `${dir}${path.delimiter}${base.PATH ?? ''}` }) };
}

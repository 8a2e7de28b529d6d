// The supervisor lock: a file holding the pid of the one process that supervises an instance.
// It appears with its content in one step (link(2) of a file already written, so no reader ever
// sees it empty), and a lock left by a dead process is taken over by exactly one of any number of
// processes that find it stale at the same moment (see removeStale). Only Node's fs: the unit test runs it in
// several processes at once.
import fs from 'node:fs';
import path from 'node:path';
import { isAlive } from './pid.js';

const ATTEMPTS = 200;

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

function pause(ms: number): void {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  } catch {
    // a thread that may not block (never Node's or Electron's main): spin instead, it is milliseconds
    for (const end = Date.now() + ms; Date.now() < end; );
  }
}

/** `<lock>.<pid>.new` files of processes that died before they could remove them. */
function removeLeftovers(file: string, self: number): void {
  const base = path.basename(file);
  const re = new RegExp(`^${base.replace(/[.]/g, '\\.')}\\.(\\d+)\\.new$`);
  let names: string[];
  try {
    names = fs.readdirSync(path.dirname(file));
  } catch {
    return;
  }
  for (const n of names) {
    const m = re.exec(n);
    if (m && Number(m[1]) !== self && !isAlive(Number(m[1]))) fs.rmSync(path.join(path.dirname(file), n), { force: true });
  }
}

/**
 * A taker that dies inside the takeover (a few microseconds of work) leaves its directory
 * behind; past this age it is taken to be such a leftover.
 */
const TAKEOVER_STALE_MS = 10_000;

/**
 * Remove the lock file if it still holds `held` (a dead holder's content). Removing is the
 * dangerous step: a taker that saw the stale file could remove the fresh lock another taker
 * has just made in its place (no check of the file's name or links can close that gap, since
 * the name may point at a new file between the check and the unlink). So removal happens only
 * inside a takeover section that one process at a time can enter (mkdir is atomic): there the
 * content is read again, and while it is the dead holder's, nobody else can replace the file
 * (a link onto an existing name fails, and only its dead holder would release it).
 */
function removeStale(file: string, held: string, self: number): boolean {
  removeLeftovers(file, self);
  const section = `${file}.takeover`;
  try {
    fs.mkdirSync(section, { mode: 0o700 });
  } catch (e) {
    if (code(e) !== 'EEXIST') throw e;
    try {
      if (Date.now() - fs.statSync(section).mtimeMs > TAKEOVER_STALE_MS) fs.rmdirSync(section);
    } catch {
      // another taker cleaned it up
    }
    return false;
  }
  try {
    let now: string;
    try {
      now = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if (code(e) === 'ENOENT') return true;
      throw e;
    }
    if (now !== held) return false;
    fs.rmSync(file, { force: true });
    return true;
  } finally {
    fs.rmdirSync(section);
  }
}

function isHeld(content: string): boolean {
  const holder = Number(content.trim());
  return Number.isInteger(holder) && holder > 0 && isAlive(holder);
}

/** Take the lock for `self`; false while a live process holds it. */
export function acquirePidLock(file: string, self: number = process.pid): boolean {
  const mine = `${file}.${self}.new`;
  fs.writeFileSync(mine, String(self), { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        fs.linkSync(mine, file);
        return true;
      } catch (e) {
        if (code(e) !== 'EEXIST') throw e;
      }
      let held: string;
      try {
        held = fs.readFileSync(file, 'utf8');
      } catch (e) {
        if (code(e) === 'ENOENT') continue;
        throw e;
      }
      if (Number(held.trim()) === self) return true;
      if (isHeld(held)) return false;
      if (!removeStale(file, held, self)) pause(1 + Math.random() * 10);
    }
    return false;
  } finally {
    fs.rmSync(mine, { force: true });
  }
}

export function releasePidLock(file: string, self: number = process.pid): void {
  try {
    if (Number(fs.readFileSync(file, 'utf8').trim()) === self) fs.rmSync(file, { force: true });
  } catch {
    // not held
  }
}

/** Remove the lock if its holder is dead (what a status check cleans up); never a live one. */
export function clearStaleLock(file: string, self: number = process.pid): void {
  let held: string;
  try {
    held = fs.readFileSync(file, 'utf8');
  } catch {
    return;
  }
  if (Number(held.trim()) !== self && !isHeld(held)) removeStale(file, held, self);
}

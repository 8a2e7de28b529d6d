// Pure logic of the macOS QEMU bundler (build/mac/bundle-qemu.sh): parse `otool -L` output, walk
// the dylib closure of qemu-system-aarch64 + qemu-img inside a Homebrew prefix, plan the copies and
// the `install_name_tool` rewrites to @executable_path/../lib, and check a finished bundle for
// leftover absolute prefix paths. No I/O here: the driver (bundle-qemu.mjs) runs otool and the
// commands; tests feed recorded otool output (tests/unit/packaging/fixtures/).
//
// Layout of the bundle (every executable lives in bin/, so @executable_path/../lib works for the
// executables and for dylibs loading dylibs alike):
//   bin/qemu-system-aarch64  bin/qemu-img  lib/<leaf name of each dylib>  share/qemu/…
import path from 'node:path';

export const LIB_REF = '@executable_path/../lib';

/**
 * @typedef {{ path: string, compatibilityVersion?: string, currentVersion?: string, weak: boolean }} LoadEntry
 * @typedef {{ file: string, arch?: string, id?: string, deps: LoadEntry[] }} OtoolSection
 */

const HEADER = /^(\S.*?)(?: \(architecture (\w+)\))?:$/;
const ENTRY = /^\s+(.+?) \(compatibility version ([^,]+), current version ([^,)]+)(, weak|, reexport|, upward|, lazy)?\)\s*$/;
const BARE_ENTRY = /^\s+(\S.*?)\s*$/;

/** Whether a Mach-O file is a dylib (its `otool -L` listing starts with its own install name). */
export function looksLikeDylib(file) {
  return /\.(dylib|so)$/.test(file) || /\.framework\/(Versions\/[^/]+\/)?[^/]+$/.test(file);
}

/**
 * Parse the output of `otool -L FILE…` (one or more files; universal binaries give one section
 * per architecture). For a dylib, otool prints its own install name (LC_ID_DYLIB) first: that
 * entry becomes `id` and is not a dependency. `isDylib` overrides the file-name heuristic.
 * @param {string} text
 * @param {{ isDylib?: (file: string) => boolean }} [opts]
 * @returns {OtoolSection[]}
 */
export function parseOtoolL(text, opts = {}) {
  const isDylib = opts.isDylib ?? looksLikeDylib;
  /** @type {OtoolSection[]} */
  const sections = [];
  /** @type {OtoolSection | undefined} */
  let cur;
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === '') continue;
    if (!/^\s/.test(raw)) {
      const m = HEADER.exec(raw.trimEnd());
      if (!m) throw new Error(`otool -L: unexpected line ${JSON.stringify(raw)}`);
      if (/ is not an object file$/.test(raw)) throw new Error(`otool -L: ${raw.trim()}`);
      cur = { file: m[1], deps: [] };
      if (m[2]) cur.arch = m[2];
      sections.push(cur);
      continue;
    }
    if (!cur) throw new Error(`otool -L: entry before any file header: ${JSON.stringify(raw)}`);
    const m = ENTRY.exec(raw) ?? BARE_ENTRY.exec(raw);
    if (!m) continue;
    /** @type {LoadEntry} */
    const entry = { path: m[1], weak: m[4] === ', weak' };
    if (m[2] !== undefined) {
      entry.compatibilityVersion = m[2];
      entry.currentVersion = m[3];
    }
    if (cur.id === undefined && cur.deps.length === 0 && isDylib(cur.file)) cur.id = entry.path;
    else cur.deps.push(entry);
  }
  return sections;
}

/**
 * Parse `otool -l FILE` for LC_RPATH entries.
 * @param {string} text
 * @returns {string[]}
 */
export function parseOtoolRpaths(text) {
  const out = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*cmd LC_RPATH\s*$/.test(lines[i])) continue;
    for (let j = i + 1; j < Math.min(lines.length, i + 4); j++) {
      const m = /^\s*path (.+?) \(offset \d+\)\s*$/.exec(lines[j]);
      if (m) {
        out.push(m[1]);
        break;
      }
    }
  }
  return out;
}

/**
 * 'system' (shipped with macOS: /usr/lib, /System), 'prefix' (inside the Homebrew prefix),
 * 'relative' (@rpath/@loader_path/@executable_path) or 'foreign' (any other absolute path).
 */
export function classifyRef(ref, prefix) {
  if (ref.startsWith('/usr/lib/') || ref.startsWith('/System/')) return 'system';
  if (ref.startsWith('@')) return 'relative';
  if (ref.startsWith(trimSlash(prefix) + '/')) return 'prefix';
  return 'foreign';
}

/** The Homebrew formula a path belongs to: <prefix>/opt/<f>/… or <prefix>/Cellar/<f>/<version>/…; undefined for <prefix>/lib/…. */
export function formulaOf(ref, prefix) {
  const rel = ref.slice(trimSlash(prefix).length + 1);
  const m = /^(?:opt|Cellar)\/([^/]+)\//.exec(rel);
  return m ? m[1] : undefined;
}

function trimSlash(p) {
  return p.replace(/\/+$/, '');
}

/**
 * Resolve an @-relative reference to the absolute path otool should be run on.
 * @loader_path → the loading file's directory; @executable_path → the first root's directory;
 * @rpath → each LC_RPATH of the loading file (after the same substitutions), else <prefix>/lib.
 * Returns the candidates in order; the caller (or the recorded outputs) picks the first known one.
 */
export function candidatesFor(ref, fromFile, { prefix, rootDir, rpaths = [] }) {
  const subst = (p) =>
    p.startsWith('@loader_path/')
      ? path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), p.slice('@loader_path/'.length)))
      : p.startsWith('@executable_path/')
        ? path.posix.normalize(path.posix.join(rootDir, p.slice('@executable_path/'.length)))
        : p;
  if (ref.startsWith('@rpath/')) {
    const leaf = ref.slice('@rpath/'.length);
    const dirs = rpaths.map(subst);
    dirs.push(trimSlash(prefix) + '/lib');
    return [...new Set(dirs.map((d) => path.posix.join(d, leaf)))];
  }
  return [subst(ref)];
}

/**
 * Walk the dependency closure from `binaries` through recorded `otool -L` outputs.
 * @param {string[]} binaries absolute paths inside the prefix (e.g. <prefix>/bin/qemu-system-aarch64)
 * @param {Record<string, string>} otoolOutputs file → `otool -L file` text
 * @param {string} prefix the Homebrew prefix, e.g. /opt/homebrew
 * @param {{ rpaths?: Record<string, string[]> }} [opts] file → its LC_RPATH entries (from `otool -l`)
 */
export function walkClosure(binaries, otoolOutputs, prefix, opts = {}) {
  const rpathsOf = opts.rpaths ?? {};
  const rootDir = path.posix.dirname(binaries[0] ?? prefix + '/bin/x');
  /** leaf name → { ref (first path seen), formula } */
  const libs = new Map();
  /** file → parsed section */
  const parsed = new Map();
  const missing = new Set();
  const system = new Set();
  const problems = [];
  /** every (file, original reference string, leaf) that must be rewritten */
  const rewrites = [];

  const sectionFor = (file) => {
    if (parsed.has(file)) return parsed.get(file);
    const text = otoolOutputs[file];
    if (text === undefined) return undefined;
    const sections = parseOtoolL(text);
    // A universal binary gives one section per arch; prefer arm64, else the first.
    const sec = sections.find((s) => s.arch === 'arm64') ?? sections[0];
    if (!sec) throw new Error(`no otool -L section for ${file}`);
    parsed.set(file, sec);
    return sec;
  };

  const queue = [...binaries];
  const seenFiles = new Set();
  while (queue.length) {
    const file = /** @type {string} */ (queue.shift());
    if (seenFiles.has(file)) continue;
    seenFiles.add(file);
    const sec = sectionFor(file);
    if (!sec) {
      missing.add(file);
      continue;
    }
    for (const dep of sec.deps) {
      const kind = classifyRef(dep.path, prefix);
      if (kind === 'system') {
        system.add(dep.path);
        continue;
      }
      if (kind === 'foreign') {
        problems.push(`${file} loads ${dep.path}, which is neither a macOS system library nor inside ${prefix}`);
        continue;
      }
      let target = dep.path;
      if (kind === 'relative') {
        const cands = candidatesFor(dep.path, file, { prefix, rootDir, rpaths: rpathsOf[file] });
        target = cands.find((c) => otoolOutputs[c] !== undefined) ?? cands[0];
        if (classifyRef(target, prefix) === 'system') {
          system.add(target);
          continue;
        }
      }
      const leaf = path.posix.basename(target);
      const formula = classifyRef(target, prefix) === 'prefix' ? formulaOf(target, prefix) : undefined;
      const known = libs.get(leaf);
      if (known) {
        if (known.formula && formula && known.formula !== formula) {
          problems.push(`two different libraries named ${leaf}: ${known.ref} and ${target}`);
        }
        if (!known.formula && formula) known.formula = formula;
      } else {
        libs.set(leaf, { ref: target, formula });
        queue.push(target);
      }
      rewrites.push({ file, from: dep.path, leaf });
    }
  }
  return { libs, parsed, missing: [...missing], system: [...system].sort(), problems, rewrites, rootDir };
}

/**
 * The files whose `otool -L` output is still needed to finish the walk (the driver runs otool on
 * them and calls again until this is empty).
 */
export function missingOutputs(binaries, otoolOutputs, prefix, opts = {}) {
  return walkClosure(binaries, otoolOutputs, prefix, opts).missing;
}

/**
 * Plan the bundle: which files to copy where, and the install_name_tool invocations.
 * @param {string[]} binaries absolute paths of the executables to bundle (copied to bin/)
 * @param {Record<string, string>} otoolOutputs `otool -L` text for every file in the closure
 * @param {string} prefix Homebrew prefix
 * @param {{ rpaths?: Record<string, string[]>, libRef?: string }} [opts]
 */
export function planRelocation(binaries, otoolOutputs, prefix, opts = {}) {
  const libRef = opts.libRef ?? LIB_REF;
  const walk = walkClosure(binaries, otoolOutputs, prefix, opts);
  if (walk.missing.length) {
    throw new Error(`no otool -L output recorded for: ${walk.missing.join(', ')}`);
  }
  if (walk.problems.length) throw new Error(walk.problems.join('\n'));

  const binLeaves = new Set();
  /** @type {{ from: string, to: string, kind: 'binary' | 'dylib', formula?: string }[]} */
  const copies = [];
  for (const bin of binaries) {
    const leaf = path.posix.basename(bin);
    if (binLeaves.has(leaf)) throw new Error(`two binaries named ${leaf}`);
    binLeaves.add(leaf);
    copies.push({ from: bin, to: `bin/${leaf}`, kind: 'binary', formula: formulaOf(bin, prefix) });
  }
  const leaves = [...walk.libs.keys()].sort();
  for (const leaf of leaves) {
    const { ref, formula } = /** @type {{ ref: string, formula?: string }} */ (walk.libs.get(leaf));
    copies.push({ from: ref, to: `lib/${leaf}`, kind: 'dylib', ...(formula ? { formula } : {}) });
  }

  /** @type {{ file: string, args: string[] }[]} */
  const commands = [];
  for (const c of copies) {
    const args = [];
    if (c.kind === 'dylib') args.push('-id', `${libRef}/${path.posix.basename(c.to)}`);
    const seen = new Set();
    for (const r of walk.rewrites) {
      if (r.file !== c.from) continue;
      if (seen.has(r.from)) continue;
      seen.add(r.from);
      args.push('-change', r.from, `${libRef}/${r.leaf}`);
    }
    for (const rp of (opts.rpaths ?? {})[c.from] ?? []) {
      if (classifyRef(rp, prefix) === 'prefix') args.push('-delete_rpath', rp);
    }
    if (args.length) commands.push({ file: c.to, args: ['install_name_tool', ...args, c.to] });
  }

  return {
    copies,
    commands,
    /** codesign order: libraries before the executables that load them */
    signOrder: [...copies.filter((c) => c.kind === 'dylib'), ...copies.filter((c) => c.kind === 'binary')].map((c) => c.to),
    formulae: [...new Set(copies.map((c) => c.formula).filter(Boolean))].sort(),
    system: walk.system,
  };
}

/**
 * Every load command (or install name) in a finished bundle that still points into the prefix.
 * @param {Record<string, string>} otoolOutputs bundle file → `otool -L` text
 * @param {string} prefix
 * @returns {{ file: string, ref: string, kind: 'id' | 'load' }[]}
 */
export function findAbsolutePrefixLeaks(otoolOutputs, prefix) {
  const p = trimSlash(prefix) + '/';
  const leaks = [];
  for (const [file, text] of Object.entries(otoolOutputs)) {
    for (const sec of parseOtoolL(text)) {
      if (sec.id?.startsWith(p)) leaks.push({ file, ref: sec.id, kind: /** @type {const} */ ('id') });
      for (const d of sec.deps) if (d.path.startsWith(p)) leaks.push({ file, ref: d.path, kind: /** @type {const} */ ('load') });
    }
  }
  return leaks;
}

/**
 * Everything wrong with a finished bundle, beyond prefix leaks: references to libraries that are
 * not in lib/, @rpath references (the bundle has no LC_RPATH), foreign absolute paths, and
 * dylibs whose install name is not @executable_path/../lib/<own name>.
 * @param {Record<string, string>} otoolOutputs bundle-relative file (bin/x, lib/y.dylib) → `otool -L` text
 * @param {string} prefix
 * @param {{ libRef?: string }} [opts]
 * @returns {string[]}
 */
export function verifyBundle(otoolOutputs, prefix, opts = {}) {
  const libRef = opts.libRef ?? LIB_REF;
  const present = new Set(Object.keys(otoolOutputs).filter((f) => f.startsWith('lib/')).map((f) => f.slice(4)));
  const errors = findAbsolutePrefixLeaks(otoolOutputs, prefix).map(
    (l) => `${l.file}: ${l.kind === 'id' ? 'install name' : 'loads'} ${l.ref} (absolute path into ${prefix})`,
  );
  for (const [file, text] of Object.entries(otoolOutputs)) {
    for (const sec of parseOtoolL(text, { isDylib: () => file.startsWith('lib/') })) {
      if (file.startsWith('lib/') && sec.id !== `${libRef}/${path.posix.basename(file)}`) {
        errors.push(`${file}: install name is ${sec.id ?? '(none)'}, expected ${libRef}/${path.posix.basename(file)}`);
      }
      for (const d of sec.deps) {
        const kind = classifyRef(d.path, prefix);
        if (kind === 'system' || kind === 'prefix') continue;
        if (d.path.startsWith(libRef + '/')) {
          const leaf = d.path.slice(libRef.length + 1);
          if (!present.has(leaf) && !d.weak) errors.push(`${file}: loads ${d.path}, but lib/${leaf} is not in the bundle`);
        } else if (kind === 'relative') {
          errors.push(`${file}: loads ${d.path}, which the bundle cannot resolve (only ${libRef}/… is used)`);
        } else {
          errors.push(`${file}: loads ${d.path}, a non-system library outside the bundle`);
        }
      }
    }
  }
  return errors;
}

/** Parse "QEMU emulator version 9.2.0 (…)" → [9, 2, 0]; undefined when absent. */
export function qemuVersionOf(text) {
  const m = /QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/** a >= b for [major, minor, micro] triples. */
export function versionAtLeast(a, b) {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

/**
 * The minimum macOS of each Mach-O file (and architecture) in `otool -l FILE…` output: the
 * `minos` of LC_BUILD_VERSION for platform 1 (macOS), or the `version` of the older
 * LC_VERSION_MIN_MACOSX. dyld refuses to load a file whose minimum is newer than the running
 * macOS, so one such dylib in the bundle breaks QEMU on every older Mac.
 * @param {string} text
 * @returns {{ file: string, arch?: string, minos?: string }[]}
 */
export function parseOtoolMinOS(text) {
  /** @type {{ file: string, arch?: string, minos?: string }[]} */
  const out = [];
  /** @type {{ file: string, arch?: string, minos?: string } | undefined} */
  let cur;
  let cmd = '';
  let platform = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (line === '') continue;
    const header = /^(\S.*?)(?: \(architecture (\w+)\))?:$/.exec(line);
    if (header && !/^(Load command|Section)\b/.test(line)) {
      cur = { file: header[1] };
      if (header[2]) cur.arch = header[2];
      out.push(cur);
      cmd = '';
      continue;
    }
    if (!cur) continue;
    if (/^Load command \d+$/.test(line)) {
      cmd = '';
      platform = '';
      continue;
    }
    const kv = /^\s*(\S+) (.+)$/.exec(line);
    if (!kv) continue;
    const [, key, value] = kv;
    if (key === 'cmd') cmd = value.trim();
    else if (cmd === 'LC_BUILD_VERSION' && key === 'platform') platform = value.trim();
    else if (cmd === 'LC_BUILD_VERSION' && key === 'minos' && (platform === '1' || /^macos$/i.test(platform))) cur.minos = maxVersion(cur.minos, value.trim());
    else if (cmd === 'LC_VERSION_MIN_MACOSX' && key === 'version') cur.minos = maxVersion(cur.minos, value.trim());
  }
  return out;
}

/** Compare dotted versions numerically ("14.0" < "14.0.1" < "14.2" < "15.0"); missing parts are 0. */
export function compareVersions(a, b) {
  const pa = String(a).split('.').map(Number);
  const pb = String(b).split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function maxVersion(a, b) {
  return a === undefined || compareVersions(b, a) > 0 ? b : a;
}

/**
 * Every file in a finished bundle that needs a newer macOS than `floor` (the app's
 * minimumSystemVersion), or whose minimum cannot be read. For a universal file only the arm64
 * slice counts (Berth runs on Apple Silicon only).
 * @param {Record<string, string>} otoolOutputs bundle-relative file → `otool -l` text
 * @param {string} floor e.g. "14.0"
 * @returns {string[]}
 */
export function checkMinOS(otoolOutputs, floor) {
  const errors = [];
  for (const [file, text] of Object.entries(otoolOutputs)) {
    const sections = parseOtoolMinOS(text);
    const arm = sections.filter((s) => s.arch === undefined || s.arch === 'arm64');
    const minos = arm.map((s) => s.minos).filter((v) => v !== undefined);
    if (minos.length === 0) {
      errors.push(`${file}: no LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX in \`otool -l\`, so its minimum macOS is unknown`);
      continue;
    }
    const need = minos.reduce((a, b) => maxVersion(a, b));
    if (compareVersions(need, floor) > 0) {
      errors.push(
        `${file}: needs macOS ${need} (LC_BUILD_VERSION minos), newer than the app's minimumSystemVersion ${floor}: ` +
          `it would not load on macOS ${floor}. Bundle on a Mac running macOS ${floor} (Homebrew bottles are built per macOS version), ` +
          'or raise mac.minimumSystemVersion in build/electron-builder.yml',
      );
    }
  }
  return errors;
}

/** mac.minimumSystemVersion from the text of build/electron-builder.yml. */
export function minimumSystemVersionOf(ymlText) {
  const m = /^\s+minimumSystemVersion:\s*['"]?(\d+(?:\.\d+){0,2})['"]?\s*(?:#.*)?$/m.exec(ymlText);
  if (!m) throw new Error('no mac.minimumSystemVersion in build/electron-builder.yml');
  return m[1];
}

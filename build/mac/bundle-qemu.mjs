#!/usr/bin/env node
// Driver for build/mac/bundle-qemu.sh (macOS only): runs otool / install_name_tool around the pure
// planning logic in ./dylibs.mjs.
//   node build/mac/bundle-qemu.mjs plan   --prefix P BIN…            print the plan as JSON
//   node build/mac/bundle-qemu.mjs apply  --prefix P --out DIR BIN…  copy into DIR/{bin,lib}, rewrite
//   node build/mac/bundle-qemu.mjs verify --prefix P --out DIR [--min-os X.Y]
//        exit 1 on any leftover path, or on any Mach-O that needs a newer macOS than X.Y (default:
//        mac.minimumSystemVersion in build/electron-builder.yml)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  checkMinOS,
  findAbsolutePrefixLeaks,
  formulaOf,
  minimumSystemVersionOf,
  missingOutputs,
  parseOtoolRpaths,
  planRelocation,
  verifyBundle,
} from './dylibs.mjs';

const run = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function parseArgs(argv) {
  const out = { cmd: argv[0], prefix: '', dir: '', files: [], minOS: '' };
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--prefix') out.prefix = argv[++i].replace(/\/+$/, '');
    else if (argv[i] === '--out') out.dir = argv[++i];
    else if (argv[i] === '--min-os') out.minOS = argv[++i];
    else out.files.push(argv[i]);
  }
  if (!out.prefix) throw new Error('--prefix is required');
  return out;
}

/** otool -L for the whole closure, plus LC_RPATHs, fetched until nothing is missing. */
function collect(binaries, prefix) {
  const outputs = {};
  const rpaths = {};
  for (;;) {
    const missing = missingOutputs(binaries, outputs, prefix, { rpaths });
    if (missing.length === 0) return { outputs, rpaths };
    for (const file of missing) {
      if (!fs.existsSync(file)) throw new Error(`${file} is referenced but does not exist`);
      outputs[file] = run('otool', ['-L', file]);
      rpaths[file] = parseOtoolRpaths(run('otool', ['-l', file]));
    }
  }
}

function plan(binaries, prefix) {
  const { outputs, rpaths } = collect(binaries, prefix);
  return planRelocation(binaries, outputs, prefix, { rpaths });
}

/** Licence-like files at the top of a Homebrew keg (Cellar/<formula>/<version>/). */
function copyLicenses(from, prefix, dest, formula) {
  const real = fs.realpathSync(from);
  const m = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/Cellar/([^/]+)/([^/]+)/`).exec(real);
  if (!m) return undefined;
  const keg = path.join(prefix, 'Cellar', m[1], m[2]);
  const dir = path.join(dest, 'licenses', formula ?? m[1]);
  for (const name of fs.readdirSync(keg)) {
    if (!/^(COPYING|LICEN[CS]E|NOTICE|AUTHORS|COPYRIGHT)/i.test(name)) continue;
    const src = path.join(keg, name);
    if (!fs.statSync(src).isFile()) continue;
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(src, path.join(dir, name));
  }
  return m[2];
}

function apply(binaries, prefix, out) {
  const p = plan(binaries, prefix);
  fs.mkdirSync(path.join(out, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(out, 'lib'), { recursive: true });
  const versions = {};
  for (const c of p.copies) {
    const dest = path.join(out, c.to);
    // copyFileSync follows symlinks: <prefix>/bin/x and <prefix>/opt/… are links into Cellar/, and
    // on macOS ≥ 12 @executable_path of a symlinked executable is the link target's directory.
    fs.rmSync(dest, { force: true });
    fs.copyFileSync(c.from, dest);
    // Homebrew installs files read-only; install_name_tool and later updates need owner-write.
    fs.chmodSync(dest, c.kind === 'binary' ? 0o755 : 0o644);
    const formula = c.formula ?? formulaOf(fs.realpathSync(c.from), prefix);
    const version = copyLicenses(c.from, prefix, out, formula);
    if (formula && version) versions[formula] = version;
  }
  for (const cmd of p.commands) {
    // install_name_tool warns that the change invalidates the signature: expected, we re-sign.
    execFileSync(cmd.args[0], [...cmd.args.slice(1, -1), path.join(out, cmd.file)], { stdio: ['ignore', 'inherit', 'pipe'] });
  }
  fs.writeFileSync(
    path.join(out, 'BUNDLE.json'),
    JSON.stringify(
      {
        createdAt: new Date().toISOString(),
        binaries: p.copies.filter((c) => c.kind === 'binary').map((c) => c.to),
        libraries: p.copies.filter((c) => c.kind === 'dylib').map((c) => c.to),
        formulae: versions,
        signOrder: p.signOrder,
      },
      null,
      2,
    ) + '\n',
  );
  return p;
}

/** The app's declared macOS floor (the bundle must load there). */
function appMinimumOS() {
  return minimumSystemVersionOf(fs.readFileSync(path.join(import.meta.dirname, '..', 'electron-builder.yml'), 'utf8'));
}

function verify(prefix, out, minOS) {
  const outputs = {};
  const loadCommands = {};
  for (const sub of ['bin', 'lib']) {
    const dir = path.join(out, sub);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      outputs[`${sub}/${name}`] = run('otool', ['-L', path.join(dir, name)]);
      loadCommands[`${sub}/${name}`] = run('otool', ['-l', path.join(dir, name)]);
    }
  }
  const errors = verifyBundle(outputs, prefix);
  // Belt and braces: no LC_RPATH may point into the prefix either.
  for (const [file, text] of Object.entries(loadCommands)) {
    for (const rp of parseOtoolRpaths(text)) {
      if (rp.startsWith(prefix + '/')) errors.push(`${file}: LC_RPATH ${rp} points into ${prefix}`);
    }
  }
  // Homebrew bottles carry the macOS they were built for as their minimum: a bundle made on a
  // newer Mac than the app's floor would not load on the older ones the app claims to support.
  errors.push(...checkMinOS(loadCommands, minOS));
  return { errors, leaks: findAbsolutePrefixLeaks(outputs, prefix), files: Object.keys(outputs).length };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.cmd === 'plan') {
    console.log(JSON.stringify(plan(args.files, args.prefix), null, 2));
  } else if (args.cmd === 'apply') {
    const p = apply(args.files, args.prefix, args.dir);
    console.log(`bundle-qemu: ${p.copies.length} files (${p.formulae.length} formulae), ${p.commands.length} rewrites`);
  } else if (args.cmd === 'verify') {
    const minOS = args.minOS || appMinimumOS();
    const v = verify(args.prefix, args.dir, minOS);
    if (v.errors.length) {
      for (const e of v.errors) console.error(`bundle-qemu: ${e}`);
      process.exit(1);
    }
    console.log(`bundle-qemu: verified ${v.files} Mach-O files, no path into ${args.prefix} left, all load on macOS ${minOS}`);
  } else {
    console.error('usage: bundle-qemu.mjs plan|apply|verify --prefix P [--out DIR] [--min-os X.Y] [BIN…]');
    process.exit(2);
  }
}

main();

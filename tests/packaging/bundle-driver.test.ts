// build/mac/bundle-qemu.mjs (the Mac-only driver) end to end on a fake Homebrew prefix, with
// stand-ins for otool and install_name_tool on PATH: the stand-in otool prints the recorded
// `otool -L` of Homebrew's qemu 9.2.2 (re-rooted into the fake prefix), and the stand-in
// install_name_tool records its edits in a sidecar file that the stand-in otool then reports,
// so `verify` sees what the real tools would show after the rewrite. ~100 tool spawns: 2–10 s,
// hence in the packaging suite (tests/vitest.packaging.mts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const fixture = fs.readFileSync(path.join(repo, 'tests/unit/packaging/fixtures/otool-L-homebrew-qemu-9.2.2-arm64.txt'), 'utf8');

let tmp: string;
let prefix: string;
let out: string;
let tools: string;

// POSIX sh + awk (a node script per call would make ~100 spawns take a minute on a busy machine).
// `otool -l` prints one LC_BUILD_VERSION: minos 14.0, or what <side dir>/<file>.minos says.
const OTOOL = `#!/bin/sh
f=$2
if [ "$1" = -l ]; then
  mo=$(cat "$FAKE_SIDE_DIR/$(printf '%s' "$f" | tr / _).minos" 2>/dev/null || echo 14.0)
  printf '%s:\\nLoad command 0\\n      cmd LC_BUILD_VERSION\\n  cmdsize 32\\n platform 1\\n    minos %s\\n      sdk 15.2\\n   ntools 1\\n     tool 3\\n  version 1115.7.3\\n' "$f" "$mo"
  exit 0
fi
side="$FAKE_SIDE_DIR/$(printf '%s' "$f" | tr / _)"
if [ -f "$side" ]; then cat "$side"; exit 0; fi
out=$(awk -v want="$f:" '/^[^\t]/ { on = ($0 == want) } on && NF' "$FAKE_OTOOL_FIXTURE")
[ -n "$out" ] || { echo "$f: is not an object file" >&2; exit 1; }
printf '%s\n' "$out"
`;

const INSTALL_NAME_TOOL = `#!/bin/sh
eval "file=\\\${$#}"
side="$FAKE_SIDE_DIR/$(printf '%s' "$file" | tr / _)"
if [ -f "$side" ]; then text=$(cat "$side"); else text=$(otool -L "$(cat "$file")"); fi
printf '%s\n' "$*" >> "$FAKE_INT_LOG"
printf '%s\n' "$text" | awk -v file="$file" -v args="$*" '
BEGIN { n = split(args, a, " ")
        for (i = 1; i < n; i++) {
          if (a[i] == "-change") { ch[a[i+1]] = a[i+2]; i += 2 }
          else if (a[i] == "-id") { id = a[i+1]; i++ }
          else if (a[i] == "-delete_rpath") i++ } }
NR == 1 { print file ":"; next }
{ p = $1; if (NR == 2 && id != "") sub(/^\t[^ ]+/, "\t" id); else if (p in ch) sub(/^\t[^ ]+/, "\t" ch[p]); print }' > "$side"
`;

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repo, 'build/mac/bundle-qemu.mjs'), ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${tools}${path.delimiter}${process.env.PATH}`,
      FAKE_OTOOL_FIXTURE: path.join(tmp, 'fixture.txt'),
      FAKE_INT_LOG: path.join(tmp, 'int.log'),
      FAKE_SIDE_DIR: path.join(tmp, 'side'),
    },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bundle-'));
  prefix = path.join(tmp, 'homebrew');
  out = path.join(tmp, 'qemu');
  tools = path.join(tmp, 'tools');
  fs.mkdirSync(tools);
  fs.mkdirSync(path.join(tmp, 'side'));
  fs.writeFileSync(path.join(tools, 'otool'), OTOOL, { mode: 0o755 });
  fs.writeFileSync(path.join(tools, 'install_name_tool'), INSTALL_NAME_TOOL, { mode: 0o755 });
  const text = fixture.replaceAll('/opt/homebrew', prefix);
  fs.writeFileSync(path.join(tmp, 'fixture.txt'), text);

  // A Homebrew-like tree: Cellar/<formula>/<version>/{lib,bin,COPYING}, opt/<formula> → Cellar,
  // bin/qemu-* → Cellar. Each "binary" holds its own source path (read by the fake tools).
  const refs = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\t?(\S+?)(?::| \()/.exec(line);
    if (m && m[1].startsWith(prefix)) refs.add(m[1]);
  }
  for (const ref of refs) {
    const rel = path.relative(prefix, ref);
    const opt = /^opt\/([^/]+)\/(.*)$/.exec(rel);
    const cellar = /^Cellar\/([^/]+)\/([^/]+)\/(.*)$/.exec(rel);
    if (opt) {
      const keg = path.join(prefix, 'Cellar', opt[1], '1.0');
      fs.mkdirSync(path.join(keg, path.dirname(opt[2])), { recursive: true });
      fs.writeFileSync(path.join(keg, opt[2]), ref, { mode: 0o444 });
      fs.writeFileSync(path.join(keg, 'COPYING'), `licence of ${opt[1]}`);
      fs.mkdirSync(path.join(prefix, 'opt'), { recursive: true });
      if (!fs.existsSync(path.join(prefix, 'opt', opt[1]))) fs.symlinkSync(`../Cellar/${opt[1]}/1.0`, path.join(prefix, 'opt', opt[1]));
    } else if (cellar) {
      // the Cellar path of nettle: the same keg as opt/nettle, under another version directory
      fs.mkdirSync(path.dirname(ref), { recursive: true });
      fs.writeFileSync(ref, ref, { mode: 0o444 });
    } else if (rel.startsWith('bin/')) {
      const keg = path.join(prefix, 'Cellar', 'qemu', '9.2.2');
      fs.mkdirSync(path.join(keg, 'bin'), { recursive: true });
      fs.writeFileSync(path.join(keg, rel), ref, { mode: 0o555 });
      fs.writeFileSync(path.join(keg, 'LICENSE'), 'GPL-2.0');
      fs.mkdirSync(path.join(prefix, 'bin'), { recursive: true });
      fs.symlinkSync(`../Cellar/qemu/9.2.2/${rel}`, path.join(prefix, rel));
    }
  }
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('build/mac/bundle-qemu.mjs with stand-in tools', () => {
  const bins = (): string[] => [path.join(prefix, 'bin/qemu-system-aarch64'), path.join(prefix, 'bin/qemu-img')];

  it('plans the bundle by running otool over the whole closure', () => {
    const r = run(['plan', '--prefix', prefix, ...bins()]);
    expect(r.status, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { copies: { to: string }[]; signOrder: string[] };
    expect(plan.copies).toHaveLength(30);
    expect(plan.signOrder.at(-1)).toBe('bin/qemu-img');
  });

  it('applies it: copies (dereferenced, owner-writable), rewrites, licences, BUNDLE.json', () => {
    const r = run(['apply', '--prefix', prefix, '--out', out, ...bins()]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/bundle-qemu: 30 files \(\d+ formulae\), 30 rewrites/);
    expect(fs.lstatSync(path.join(out, 'bin/qemu-system-aarch64')).isSymbolicLink()).toBe(false);
    expect(fs.statSync(path.join(out, 'bin/qemu-system-aarch64')).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(out, 'lib/libglib-2.0.0.dylib')).mode & 0o777).toBe(0o644);
    expect(fs.readdirSync(path.join(out, 'lib'))).toHaveLength(28);
    expect(fs.readFileSync(path.join(out, 'licenses/glib/COPYING'), 'utf8')).toBe('licence of glib');
    expect(fs.readFileSync(path.join(out, 'licenses/qemu/LICENSE'), 'utf8')).toBe('GPL-2.0');
    const bundle = JSON.parse(fs.readFileSync(path.join(out, 'BUNDLE.json'), 'utf8')) as { formulae: Record<string, string>; binaries: string[] };
    expect(bundle.binaries).toEqual(['bin/qemu-system-aarch64', 'bin/qemu-img']);
    expect(bundle.formulae).toMatchObject({ qemu: '9.2.2', glib: '1.0', 'openssl@3': '1.0' });
    const log = fs.readFileSync(path.join(tmp, 'int.log'), 'utf8').trim().split('\n').map((l) => l.split(' '));
    expect(log).toHaveLength(30);
    expect(log.find((a) => a.at(-1)!.endsWith('lib/libzstd.1.dylib'))).toEqual(['-id', '@executable_path/../lib/libzstd.1.dylib', path.join(out, 'lib/libzstd.1.dylib')]);
  });

  it('verifies the result, and catches a leftover prefix path', () => {
    const ok = run(['verify', '--prefix', prefix, '--out', out]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`verified 30 Mach-O files, no path into ${prefix} left`);

    const side = path.join(tmp, 'side', path.join(out, 'lib/libssh.4.dylib').split('/').join('_'));
    fs.writeFileSync(side, fs.readFileSync(side, 'utf8').replace('@executable_path/../lib/libcrypto.3.dylib', `${prefix}/opt/openssl@3/lib/libcrypto.3.dylib`));
    const bad = run(['verify', '--prefix', prefix, '--out', out]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`lib/libssh.4.dylib: loads ${prefix}/opt/openssl@3/lib/libcrypto.3.dylib (absolute path into ${prefix})`);
  });

  it('fails verify when a bundled Mach-O needs a newer macOS than the app declares', () => {
    const minosFile = (rel: string): string => path.join(tmp, 'side', `${path.join(out, rel).split('/').join('_')}.minos`);
    const clean = run(['verify', '--prefix', prefix, '--out', out]);
    expect(clean.stderr).not.toMatch(/needs macOS/);
    // a dylib from a macOS 15 bottle, as on a Mac running Sequoia
    fs.writeFileSync(minosFile('lib/libglib-2.0.0.dylib'), '15.0');
    const bad = run(['verify', '--prefix', prefix, '--out', out]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("bundle-qemu: lib/libglib-2.0.0.dylib: needs macOS 15.0 (LC_BUILD_VERSION minos), newer than the app's minimumSystemVersion 14.0");
    expect(bad.stderr.match(/needs macOS/g)).toHaveLength(1);
    // the floor comes from build/electron-builder.yml unless given
    const raised = run(['verify', '--prefix', prefix, '--out', out, '--min-os', '15.0']);
    expect(raised.stderr).not.toMatch(/needs macOS/);
    fs.rmSync(minosFile('lib/libglib-2.0.0.dylib'));
  });
});

// The pure half of the macOS QEMU bundler (build/mac/dylibs.mjs), fed with recorded `otool -L`
// output of Homebrew's qemu 9.2.2 on Apple Silicon (fixtures/otool-L-homebrew-qemu-9.2.2-arm64.txt).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  candidatesFor,
  checkMinOS,
  classifyRef,
  compareVersions,
  findAbsolutePrefixLeaks,
  formulaOf,
  minimumSystemVersionOf,
  missingOutputs,
  parseOtoolL,
  parseOtoolMinOS,
  parseOtoolRpaths,
  planRelocation,
  qemuVersionOf,
  verifyBundle,
  versionAtLeast,
} from '../../../build/mac/dylibs.mjs';

const PREFIX = '/opt/homebrew';
const QEMU = `${PREFIX}/bin/qemu-system-aarch64`;
const IMG = `${PREFIX}/bin/qemu-img`;
const fixture = readFileSync(path.join(import.meta.dirname, 'fixtures', 'otool-L-homebrew-qemu-9.2.2-arm64.txt'), 'utf8');

/** What the driver would have collected: file → its own `otool -L` section. */
function recordedOutputs(): Record<string, string> {
  const out: Record<string, string> = {};
  let cur = '';
  for (const line of fixture.split('\n')) {
    if (line && !line.startsWith('\t')) {
      cur = line.slice(0, -1);
      out[cur] = '';
    }
    if (cur && line) out[cur] += line + '\n';
  }
  return out;
}

type Plan = ReturnType<typeof planRelocation>;

/** Apply the planned install_name_tool commands to otool text, as the real tool would. */
function simulate(plan: Plan, outputs: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const c of plan.copies) {
    let text = outputs[c.from].replace(/^.*:\n/, `${c.to}:\n`);
    const cmd = plan.commands.find((x) => x.file === c.to);
    const args = cmd ? cmd.args.slice(1, -1) : [];
    const lines = text.split('\n');
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '-change') {
        const [from, to] = [args[i + 1], args[i + 2]];
        for (let j = 1; j < lines.length; j++) if (lines[j].startsWith(`\t${from} (`)) lines[j] = lines[j].replace(from, to);
        i += 2;
      } else if (args[i] === '-id') {
        lines[1] = lines[1].replace(/^\t\S+/, `\t${args[i + 1]}`);
        i += 1;
      }
    }
    text = lines.join('\n');
    result[c.to] = text;
  }
  return result;
}

describe('parseOtoolL', () => {
  it('parses an executable: no install name, every entry a dependency', () => {
    const [sec] = parseOtoolL(recordedOutputs()[QEMU]);
    expect(sec.file).toBe(QEMU);
    expect(sec.id).toBeUndefined();
    expect(sec.deps).toHaveLength(36);
    expect(sec.deps[0]).toEqual({
      path: '/System/Library/Frameworks/Hypervisor.framework/Versions/A/Hypervisor',
      compatibilityVersion: '1.0.0',
      currentVersion: '1.0.0',
      weak: false,
    });
    expect(sec.deps.map((d) => d.path)).toContain('/opt/homebrew/opt/glib/lib/libglib-2.0.0.dylib');
  });

  it('takes a dylib’s first entry as its install name', () => {
    const [sec] = parseOtoolL(recordedOutputs()[`${PREFIX}/opt/glib/lib/libglib-2.0.0.dylib`]);
    expect(sec.id).toBe('/opt/homebrew/opt/glib/lib/libglib-2.0.0.dylib');
    expect(sec.deps.map((d) => d.path)).toEqual([
      '/opt/homebrew/opt/gettext/lib/libintl.8.dylib',
      '/opt/homebrew/opt/pcre2/lib/libpcre2-8.0.dylib',
      '/usr/lib/libiconv.2.dylib',
      '/System/Library/Frameworks/CoreFoundation.framework/Versions/A/CoreFoundation',
      '/System/Library/Frameworks/Carbon.framework/Versions/A/Carbon',
      '/System/Library/Frameworks/Foundation.framework/Versions/C/Foundation',
      '/usr/lib/libSystem.B.dylib',
      '/usr/lib/libobjc.A.dylib',
    ]);
  });

  it('parses the whole multi-file listing, universal binaries and weak imports', () => {
    expect(parseOtoolL(fixture)).toHaveLength(30);
    const fat = [
      '/opt/homebrew/bin/qemu-img (architecture x86_64):',
      '\t/usr/local/opt/glib/lib/libglib-2.0.0.dylib (compatibility version 8201.0.0, current version 8201.4.0)',
      '/opt/homebrew/bin/qemu-img (architecture arm64):',
      '\t/opt/homebrew/opt/glib/lib/libglib-2.0.0.dylib (compatibility version 8201.0.0, current version 8201.4.0)',
      '\t/System/Library/Frameworks/Hypervisor.framework/Versions/A/Hypervisor (compatibility version 1.0.0, current version 1.0.0, weak)',
    ].join('\n');
    const secs = parseOtoolL(fat);
    expect(secs.map((s) => s.arch)).toEqual(['x86_64', 'arm64']);
    expect(secs[1].deps[1].weak).toBe(true);
  });

  it('rejects output that is not otool’s', () => {
    expect(() => parseOtoolL('/tmp/x: is not an object file\n')).toThrow(/not an object file/);
  });
});

describe('classification helpers', () => {
  it('classifies references', () => {
    expect(classifyRef('/usr/lib/libz.1.dylib', PREFIX)).toBe('system');
    expect(classifyRef('/System/Library/Frameworks/vmnet.framework/Versions/A/vmnet', PREFIX)).toBe('system');
    expect(classifyRef('/opt/homebrew/opt/zstd/lib/libzstd.1.dylib', PREFIX)).toBe('prefix');
    expect(classifyRef('/opt/homebrew/opt/zstd/lib/libzstd.1.dylib', PREFIX + '/')).toBe('prefix');
    expect(classifyRef('@rpath/libcapstone.5.dylib', PREFIX)).toBe('relative');
    expect(classifyRef('/usr/local/lib/libfoo.dylib', PREFIX)).toBe('foreign');
    expect(classifyRef('/opt/homebrewx/lib/libfoo.dylib', PREFIX)).toBe('foreign');
  });

  it('finds the formula of a path', () => {
    expect(formulaOf('/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib', PREFIX)).toBe('openssl@3');
    expect(formulaOf('/opt/homebrew/Cellar/nettle/3.10.1/lib/libnettle.8.dylib', PREFIX)).toBe('nettle');
    expect(formulaOf('/opt/homebrew/lib/libnettle.8.dylib', PREFIX)).toBeUndefined();
  });

  it('resolves @rpath, @loader_path and @executable_path candidates', () => {
    const from = '/opt/homebrew/opt/capstone/lib/libfoo.dylib';
    expect(candidatesFor('@loader_path/../lib/libbar.dylib', from, { prefix: PREFIX, rootDir: '/opt/homebrew/bin' })).toEqual([
      '/opt/homebrew/opt/capstone/lib/libbar.dylib',
    ]);
    expect(
      candidatesFor('@rpath/libcapstone.5.dylib', QEMU, {
        prefix: PREFIX,
        rootDir: '/opt/homebrew/bin',
        rpaths: ['@loader_path/../opt/capstone/lib'],
      }),
    ).toEqual(['/opt/homebrew/opt/capstone/lib/libcapstone.5.dylib', '/opt/homebrew/lib/libcapstone.5.dylib']);
  });

  it('parses LC_RPATH from otool -l', () => {
    const text = [
      'Load command 17',
      '          cmd LC_RPATH',
      '      cmdsize 32',
      '         path /opt/homebrew/lib (offset 12)',
      'Load command 18',
      '          cmd LC_LOAD_DYLIB',
    ].join('\n');
    expect(parseOtoolRpaths(text)).toEqual(['/opt/homebrew/lib']);
  });

  it('compares QEMU versions', () => {
    expect(qemuVersionOf('QEMU emulator version 9.2.2\nCopyright (c) 2003-2024')).toEqual([9, 2, 2]);
    expect(versionAtLeast([8, 2, 1], [8, 2, 1])).toBe(true);
    expect(versionAtLeast([8, 2, 0], [8, 2, 1])).toBe(false);
    expect(versionAtLeast([10, 0, 0], [8, 2, 1])).toBe(true);
  });
});

describe('planRelocation (Homebrew qemu 9.2.2, arm64)', () => {
  const outputs = recordedOutputs();
  const plan = planRelocation([QEMU, IMG], outputs, PREFIX);

  it('collects every non-system dylib, recursively, once', () => {
    const libs = plan.copies.filter((c) => c.kind === 'dylib').map((c) => c.to);
    expect(libs).toEqual(
      [
        'libcapstone.5.dylib', 'libcrypto.3.dylib', 'libfdt.1.dylib', 'libgio-2.0.0.dylib', 'libglib-2.0.0.dylib',
        'libgmodule-2.0.0.dylib', 'libgmp.10.dylib', 'libgnutls.30.dylib', 'libgobject-2.0.0.dylib',
        'libhogweed.6.dylib', 'libidn2.0.dylib', 'libintl.8.dylib', 'libjpeg.8.dylib', 'liblzo2.2.dylib',
        'libncursesw.6.dylib', 'libnettle.8.dylib', 'libp11-kit.0.dylib', 'libpcre2-8.0.dylib',
        'libpixman-1.0.dylib', 'libpng16.16.dylib', 'libslirp.0.dylib', 'libsnappy.1.dylib',
        'libssh.4.dylib', 'libtasn1.6.dylib', 'libunistring.5.dylib', 'libusb-1.0.0.dylib',
        'libvdeplug.3.dylib', 'libzstd.1.dylib',
      ].map((l) => `lib/${l}`),
    );
    // second-level dependencies came in through the walk, not from the binaries
    expect(plan.copies.find((c) => c.to === 'lib/libpcre2-8.0.dylib')).toMatchObject({
      from: '/opt/homebrew/opt/pcre2/lib/libpcre2-8.0.dylib',
      formula: 'pcre2',
    });
    expect(plan.copies.find((c) => c.to === 'lib/libcrypto.3.dylib')?.formula).toBe('openssl@3');
    expect(plan.copies.filter((c) => c.kind === 'binary')).toEqual([
      { from: QEMU, to: 'bin/qemu-system-aarch64', kind: 'binary', formula: undefined },
      { from: IMG, to: 'bin/qemu-img', kind: 'binary', formula: undefined },
    ]);
  });

  it('keeps system libraries and frameworks where they are', () => {
    expect(plan.system).toContain('/System/Library/Frameworks/Hypervisor.framework/Versions/A/Hypervisor');
    expect(plan.system).toContain('/usr/lib/libffi.dylib');
    expect(plan.copies.some((c) => c.from.startsWith('/usr/') || c.from.startsWith('/System/'))).toBe(false);
  });

  it('rewrites every reference of a binary to @executable_path/../lib in one install_name_tool call', () => {
    const cmd = plan.commands.find((c) => c.file === 'bin/qemu-system-aarch64');
    expect(cmd?.args[0]).toBe('install_name_tool');
    expect(cmd?.args.at(-1)).toBe('bin/qemu-system-aarch64');
    expect(cmd?.args).not.toContain('-id');
    const changes = cmd!.args.filter((a) => a === '-change').length;
    expect(changes).toBe(20);
    const i = cmd!.args.indexOf('/opt/homebrew/opt/glib/lib/libglib-2.0.0.dylib');
    expect(cmd!.args.slice(i - 1, i + 2)).toEqual([
      '-change',
      '/opt/homebrew/opt/glib/lib/libglib-2.0.0.dylib',
      '@executable_path/../lib/libglib-2.0.0.dylib',
    ]);
  });

  it('sets each dylib’s install name and rewrites its own dependencies', () => {
    const cmd = plan.commands.find((c) => c.file === 'lib/libgnutls.30.dylib')!;
    expect(cmd.args.slice(0, 3)).toEqual(['install_name_tool', '-id', '@executable_path/../lib/libgnutls.30.dylib']);
    expect(cmd.args.filter((a) => a === '-change')).toHaveLength(8);
    // a leaf library gets only its -id
    expect(plan.commands.find((c) => c.file === 'lib/libzstd.1.dylib')!.args).toEqual([
      'install_name_tool', '-id', '@executable_path/../lib/libzstd.1.dylib', 'lib/libzstd.1.dylib',
    ]);
  });

  it('maps a Cellar path to the same bundled library as its opt/ path', () => {
    const cmd = plan.commands.find((c) => c.file === 'lib/libhogweed.6.dylib')!;
    const i = cmd.args.indexOf('/opt/homebrew/Cellar/nettle/3.10.1/lib/libnettle.8.dylib');
    expect(cmd.args[i + 1]).toBe('@executable_path/../lib/libnettle.8.dylib');
    expect(plan.copies.filter((c) => c.to === 'lib/libnettle.8.dylib')).toHaveLength(1);
  });

  it('signs libraries before binaries', () => {
    expect(plan.signOrder.slice(-2)).toEqual(['bin/qemu-system-aarch64', 'bin/qemu-img']);
    expect(plan.signOrder.slice(0, -2).every((f) => f.startsWith('lib/'))).toBe(true);
    expect(plan.formulae).toContain('glib');
    expect(plan.formulae).toContain('libslirp');
  });

  it('produces a bundle with no absolute Homebrew path left', () => {
    const after = simulate(plan, outputs);
    expect(findAbsolutePrefixLeaks(after, PREFIX)).toEqual([]);
    expect(verifyBundle(after, PREFIX)).toEqual([]);
  });
});

describe('collection and failure modes', () => {
  it('reports which otool outputs are still needed, level by level', () => {
    const all = recordedOutputs();
    const first = missingOutputs([QEMU], {}, PREFIX);
    expect(first).toEqual([QEMU]);
    const second = missingOutputs([QEMU], { [QEMU]: all[QEMU] }, PREFIX);
    expect(second).toContain('/opt/homebrew/opt/glib/lib/libglib-2.0.0.dylib');
    expect(second).not.toContain('/opt/homebrew/opt/pcre2/lib/libpcre2-8.0.dylib');
    // the driver's loop terminates with the recorded set
    const have: Record<string, string> = {};
    for (let round = 0; round < 10; round++) {
      const m = missingOutputs([QEMU, IMG], have, PREFIX);
      if (m.length === 0) break;
      for (const f of m) have[f] = all[f];
    }
    expect(missingOutputs([QEMU, IMG], have, PREFIX)).toEqual([]);
    expect(Object.keys(have)).toHaveLength(30);
  });

  it('fails when an output is missing, naming the file', () => {
    const outputs = recordedOutputs();
    delete outputs['/opt/homebrew/opt/pcre2/lib/libpcre2-8.0.dylib'];
    expect(() => planRelocation([QEMU], outputs, PREFIX)).toThrow(/libpcre2-8\.0\.dylib/);
  });

  it('refuses a library outside the prefix that is not part of macOS', () => {
    const outputs = recordedOutputs();
    outputs[QEMU] += '\t/usr/local/lib/libfoo.1.dylib (compatibility version 1.0.0, current version 1.0.0)\n';
    expect(() => planRelocation([QEMU], outputs, PREFIX)).toThrow(/\/usr\/local\/lib\/libfoo\.1\.dylib.*neither a macOS system library/);
  });

  it('resolves @rpath references and deletes prefix rpaths', () => {
    const outputs = {
      [QEMU]: `${QEMU}:\n\t@rpath/libcapstone.5.dylib (compatibility version 5.0.0, current version 5.0.0)\n\t/usr/lib/libSystem.B.dylib (compatibility version 1.0.0, current version 1351.0.0)\n`,
      '/opt/homebrew/lib/libcapstone.5.dylib':
        '/opt/homebrew/lib/libcapstone.5.dylib:\n\t@rpath/libcapstone.5.dylib (compatibility version 5.0.0, current version 5.0.0)\n\t/usr/lib/libSystem.B.dylib (compatibility version 1.0.0, current version 1351.0.0)\n',
    };
    const plan = planRelocation([QEMU], outputs, PREFIX, { rpaths: { [QEMU]: ['/opt/homebrew/lib'] } });
    expect(plan.copies.map((c) => c.to)).toEqual(['bin/qemu-system-aarch64', 'lib/libcapstone.5.dylib']);
    expect(plan.commands.find((c) => c.file === 'bin/qemu-system-aarch64')!.args).toEqual([
      'install_name_tool',
      '-change', '@rpath/libcapstone.5.dylib', '@executable_path/../lib/libcapstone.5.dylib',
      '-delete_rpath', '/opt/homebrew/lib',
      'bin/qemu-system-aarch64',
    ]);
  });

  it('finds leftover absolute paths, missing libraries and wrong install names in a finished bundle', () => {
    const plan = planRelocation([QEMU, IMG], recordedOutputs(), PREFIX);
    const after = simulate(plan, recordedOutputs());
    after['lib/libssh.4.dylib'] = after['lib/libssh.4.dylib'].replace(
      '@executable_path/../lib/libcrypto.3.dylib',
      '/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib',
    );
    delete after['lib/libpcre2-8.0.dylib'];
    after['lib/libzstd.1.dylib'] = after['lib/libzstd.1.dylib'].replace('@executable_path/../lib/libzstd.1.dylib', '/opt/homebrew/opt/zstd/lib/libzstd.1.dylib');
    expect(findAbsolutePrefixLeaks(after, PREFIX)).toEqual([
      { file: 'lib/libssh.4.dylib', ref: '/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib', kind: 'load' },
      { file: 'lib/libzstd.1.dylib', ref: '/opt/homebrew/opt/zstd/lib/libzstd.1.dylib', kind: 'id' },
    ]);
    const errors = verifyBundle(after, PREFIX);
    expect(errors).toContain('lib/libglib-2.0.0.dylib: loads @executable_path/../lib/libpcre2-8.0.dylib, but lib/libpcre2-8.0.dylib is not in the bundle');
    expect(errors.some((e) => e.startsWith('lib/libzstd.1.dylib: install name is /opt/homebrew/opt/zstd/lib/libzstd.1.dylib'))).toBe(true);
    expect(errors.some((e) => e.includes('absolute path into /opt/homebrew'))).toBe(true);
  });
});

// `otool -l` output in the layout cctools prints it (hand-written for the test: an executable from
// a macOS 15 bottle, a dylib from a macOS 14 bottle, a universal dylib whose x86_64 slice has the
// older LC_VERSION_MIN_MACOSX): fixtures/otool-l-load-commands-arm64.txt.
const loadCommands = readFileSync(path.join(import.meta.dirname, 'fixtures', 'otool-l-load-commands-arm64.txt'), 'utf8');

/** Split multi-file `otool -l` output into bundle-relative file → its own text, as verify collects it. */
function byFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let cur = '';
  for (const line of text.split('\n')) {
    const m = /^(\/\S+?)(?: \(architecture \w+\))?:$/.exec(line);
    if (m) cur = `${m[1].includes('/bin/') ? 'bin' : 'lib'}/${path.basename(m[1])}`;
    if (cur) out[cur] = (out[cur] ?? '') + line + '\n';
  }
  return out;
}

describe('minimum macOS of the bundled Mach-O files (otool -l)', () => {
  it('reads LC_BUILD_VERSION minos and LC_VERSION_MIN_MACOSX, per file and architecture', () => {
    expect(parseOtoolMinOS(loadCommands)).toEqual([
      { file: '/opt/homebrew/Cellar/qemu/9.2.2/bin/qemu-system-aarch64', minos: '15.0' },
      { file: '/opt/homebrew/opt/glib/lib/libglib-2.0.0.dylib', minos: '14.0' },
      { file: '/opt/homebrew/opt/libusb/lib/libusb-1.0.0.dylib', arch: 'x86_64', minos: '10.13' },
      { file: '/opt/homebrew/opt/libusb/lib/libusb-1.0.0.dylib', arch: 'arm64', minos: '11.0' },
    ]);
  });

  it('ignores the tool versions, source version and dylib versions that otool prints as "version"', () => {
    const [qemu] = parseOtoolMinOS(loadCommands);
    expect(qemu.minos).toBe('15.0'); // not 1115.7.3 (the ld tool entry) nor 0.0 (LC_SOURCE_VERSION)
  });

  it('fails a file that needs a newer macOS than the floor, and one whose minimum is unknown', () => {
    const files = byFile(loadCommands);
    expect(Object.keys(files).sort()).toEqual(['bin/qemu-system-aarch64', 'lib/libglib-2.0.0.dylib', 'lib/libusb-1.0.0.dylib']);
    const errors = checkMinOS(files, '14.0');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^bin\/qemu-system-aarch64: needs macOS 15\.0 \(LC_BUILD_VERSION minos\), newer than the app's minimumSystemVersion 14\.0/);
    expect(errors[0]).toMatch(/Homebrew bottles are built per macOS version/);
    expect(checkMinOS(files, '15.0')).toEqual([]);
    expect(checkMinOS(files, '13.0')).toHaveLength(2);
    expect(checkMinOS({ 'lib/x.dylib': 'lib/x.dylib:\nLoad command 0\n      cmd LC_UUID\n' }, '14.0')).toEqual([
      'lib/x.dylib: no LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX in `otool -l`, so its minimum macOS is unknown',
    ]);
  });

  it('compares versions numerically', () => {
    expect(compareVersions('14.0', '14')).toBe(0);
    expect(compareVersions('14.0.1', '14.0')).toBe(1);
    expect(compareVersions('9.0', '10.13')).toBe(-1);
    expect(compareVersions('15.0', '14.6')).toBe(1);
  });

  it('takes the floor from build/electron-builder.yml, the same value electron-builder writes as LSMinimumSystemVersion', () => {
    const text = readFileSync(path.join(import.meta.dirname, '../../../build/electron-builder.yml'), 'utf8');
    expect(minimumSystemVersionOf(text)).toBe((YAML.parse(text) as { mac: { minimumSystemVersion: string } }).mac.minimumSystemVersion);
    expect(() => minimumSystemVersionOf('mac:\n  target: dmg\n')).toThrow(/no mac.minimumSystemVersion/);
  });
});

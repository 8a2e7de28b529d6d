// berth.yaml proxy and caCertificates: what a bad value is reported as, what the guest is handed in
// its seed (a proxy on the host's loopback rewritten to 10.0.2.2), and what `berth status` shows.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCaCertificates } from '../../../electron/engine/ca-certificates.js';
import { defaultSettings, parseSettings, saveSettings, validateSettings } from '../../../electron/engine/config.js';
import type { HostInfo } from '../../../electron/engine/config.js';
import { BerthFailure } from '../../../electron/engine/errors.js';
import { ensureInstanceDir, instancePaths } from '../../../electron/engine/instance/index.js';
import { effectiveProxy, forGuest, maskCredentials } from '../../../electron/engine/proxy.js';
import { readSeed, seedText, writeSeed } from '../../../electron/engine/seed.js';
import type { SeedInput } from '../../../electron/engine/seed.js';
import { ProxyService } from '../../../electron/engine/services/proxy.js';
import { formatProxy, formatStatus } from '../../../electron/cli/format.js';
import { RESTART_KEYS } from '../../../electron/shared/settings.js';
import type { Settings } from '../../../electron/shared/settings.js';
import type { Status } from '../../../electron/shared/status.js';
import { removeScratch, scratch } from './helpers/stand-ins.js';
import { serviceContext } from './helpers/service-context.js';

const host: HostInfo = { platform: 'linux', arch: 'x64', cpus: 8, memoryBytes: 16 * 2 ** 30, home: '/home/u' };

function failure(fn: () => unknown): BerthFailure {
  try {
    fn();
  } catch (e) {
    if (e instanceof BerthFailure) return e;
    throw e;
  }
  throw new Error('did not throw');
}

let dir = '';
let caPem = '';
let otherPem = '';
beforeAll(() => {
  dir = scratch('berth-ca-');
  for (const name of ['ca', 'other']) {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=berth test ${name}`, '-keyout', path.join(dir, `${name}.key`), '-out', path.join(dir, `${name}.pem`)], { stdio: 'ignore' });
  }
  caPem = fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
  otherPem = fs.readFileSync(path.join(dir, 'other.pem'), 'utf8');
});
afterAll(removeScratch);

describe('berth.yaml proxy', () => {
  it('is absent by default, and caCertificates is an empty list', () => {
    const d = defaultSettings(host);
    expect(d.proxy).toBeUndefined();
    expect(d.caCertificates).toEqual([]);
    expect('proxy' in parseSettings('cpus: 2\n', 'berth.yaml', host)).toBe(false);
  });

  it('takes http, https and noProxy', () => {
    const s = parseSettings('proxy:\n  http: http://proxy.corp:3128\n  https: " http://u:p@proxy.corp:3128 "\n  noProxy: localhost,.corp,10.0.0.0/8\n', 'berth.yaml', host);
    expect(s.proxy).toEqual({ http: 'http://proxy.corp:3128', https: 'http://u:p@proxy.corp:3128', noProxy: 'localhost,.corp,10.0.0.0/8' });
  });

  const bad: [string, RegExp][] = [
    ['proxy:\n  https: "http://proxy.corp:3128\\nX-Evil: 1"\n', /proxy\.https \(line 2\): contains a newline, space or other control character/],
    ['proxy:\n  http: proxy.corp:3128\n', /proxy\.http \(line 2\): "proxy\.corp:3128" must start with http:\/\/, https:\/\/, socks5:\/\/ or socks5h:\/\//],
    ['proxy:\n  http: not a url\n', /proxy\.http \(line 2\): contains a newline, space/],
    ['proxy:\n  https: "http://"\n', /proxy\.https \(line 2\): "http:\/\/" is not a URL/],
    ['proxy:\n  https: 3128\n', /proxy\.https \(line 2\): must be a string, got number/],
    ['proxy:\n  ftp: http://proxy:21\n', /proxy\.ftp \(line 2\): unknown key \(known: http, https, noProxy\)/],
    ['proxy:\n  noProxy: "a,\\nb"\n', /proxy\.noProxy \(line 2\): contains a newline/],
    ['proxy: http://proxy.corp:3128\n', /proxy \(line 1\): must be a object, got string/],
    ['caCertificates: /etc/ca.pem\n', /caCertificates \(line 1\): must be a array, got string/],
    ['caCertificates:\n  - 7\n', /caCertificates\[0\] \(line 2\): must be the path of a PEM file/],
    ['caCertificates:\n  - "/tmp/a\\tb.pem"\n', /caCertificates\[0\] \(line 2\): contains a control character \(U\+0009\)/],
  ];
  for (const [yaml, re] of bad) {
    it(`rejects ${JSON.stringify(yaml)} naming the key and line`, () => {
      const f = failure(() => parseSettings(yaml, 'berth.yaml', host));
      expect(f.code).toBe('E_CONFIG');
      expect(f.message).toMatch(re);
      expect(f.hint).toMatch(/nothing was changed or started/);
    });
  }

  it('a settings.set patch is checked the same way', () => {
    expect(() => validateSettings({ ...defaultSettings(host), proxy: { https: 'http://a\r\nb' } }, host)).toThrow(/proxy\.https: contains a newline/);
  });

  it('both keys need a restart: they reach the guest only at boot', () => {
    expect(RESTART_KEYS).toEqual(expect.arrayContaining(['proxy', 'caCertificates']));
  });
});

describe('the proxy in effect', () => {
  const env = { HTTP_PROXY: 'http://upper:3128', http_proxy: 'http://lower:3128', https_proxy: 'proxy.corp:8443', no_proxy: 'localhost,.corp' };

  it('absent from berth.yaml: the engine environment’s, uppercase first, lowercase otherwise, a bare host:port read as http://', () => {
    expect(effectiveProxy({}, env)).toEqual({ proxy: { http: 'http://upper:3128', https: 'http://proxy.corp:8443', noProxy: 'localhost,.corp' }, source: 'environment' });
    expect(effectiveProxy({}, {})).toEqual({ proxy: {}, source: 'none' });
  });

  it('set in berth.yaml: only berth.yaml’s, and `proxy: {}` turns the environment’s off', () => {
    expect(effectiveProxy({ proxy: { https: 'http://yaml:1' } }, env)).toEqual({ proxy: { https: 'http://yaml:1' }, source: 'berth.yaml' });
    expect(effectiveProxy({ proxy: {} }, env)).toEqual({ proxy: {}, source: 'berth.yaml' });
  });

  it('a broken environment proxy fails the start naming the variable', () => {
    const f = failure(() => effectiveProxy({}, { https_proxy: 'http://a b' }));
    expect(f.code).toBe('E_CONFIG');
    expect(f.message).toMatch(/^https_proxy in Berth's environment: contains a newline, space/);
    expect(f.hint).toMatch(/proxy: \{\} uses none/);
  });

  it('a proxy on the host’s loopback is reached at 10.0.2.2 from the VM; others stay as written', () => {
    expect(forGuest('http://127.0.0.1:3128')).toBe('http://10.0.2.2:3128');
    expect(forGuest('http://user:p%40ss@localhost:3128/')).toBe('http://user:p%40ss@10.0.2.2:3128/');
    expect(forGuest('socks5://127.8.9.10:1080')).toBe('socks5://10.0.2.2:1080');
    expect(forGuest('http://[::1]:3128')).toBe('http://10.0.2.2:3128');
    expect(forGuest('http://LOCALHOST')).toBe('http://10.0.2.2');
    expect(forGuest('http://proxy.corp:3128')).toBe('http://proxy.corp:3128');
    expect(forGuest('http://127.0.0.1.nip.io:3128')).toBe('http://127.0.0.1.nip.io:3128');
  });

  it('credentials are masked for display', () => {
    expect(maskCredentials('http://alice:s3cret@proxy:3128')).toBe('http://***@proxy:3128');
    expect(maskCredentials('http://TOKEN@proxy:3128')).toBe('http://***@proxy:3128');
    expect(maskCredentials('http://proxy:3128/a@b')).toBe('http://proxy:3128/a@b');
  });
});

describe('caCertificates files', () => {
  it('each must exist and hold a certificate; the error names the file', () => {
    const missing = failure(() => resolveCaCertificates([path.join(dir, 'nope.pem')], host.home));
    expect(missing.code).toBe('E_CONFIG');
    expect(missing.message).toBe(`caCertificates[0]: ${path.join(dir, 'nope.pem')} does not exist`);
    expect(missing.hint).toMatch(/PEM file/);

    fs.writeFileSync(path.join(dir, 'key-only.pem'), fs.readFileSync(path.join(dir, 'ca.key')));
    const keyOnly = failure(() => resolveCaCertificates([path.join(dir, 'ca.pem'), path.join(dir, 'key-only.pem')], host.home));
    expect(keyOnly.message).toBe(`caCertificates[1]: ${path.join(dir, 'key-only.pem')} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    expect(keyOnly.hint).toMatch(/openssl x509 -inform der/);

    fs.writeFileSync(path.join(dir, 'garbage.pem'), '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n');
    expect(failure(() => resolveCaCertificates([path.join(dir, 'garbage.pem')], host.home)).message).toMatch(/^caCertificates\[0\]: certificate 1 in .*garbage\.pem cannot be parsed/);

    expect(failure(() => resolveCaCertificates(['certs/ca.pem'], host.home)).message).toMatch(/"certs\/ca.pem" is a relative path/);
    const dirAsFile = failure(() => resolveCaCertificates([dir], host.home));
    expect(dirAsFile.message).toMatch(/^caCertificates\[0\]: cannot read .* \(EISDIR\)/);
  });

  it('a bundle of two and a single file give three certificates, with the text around them dropped; ~ is the home folder', () => {
    fs.writeFileSync(path.join(dir, 'bundle.pem'), `# corporate roots\n${caPem}some text\n${otherPem}`);
    const b = resolveCaCertificates(['~/bundle.pem', path.join(dir, 'other.pem')], dir);
    expect(b.count).toBe(3);
    expect(b.pem).not.toMatch(/corporate|some text/);
    expect(b.pem.trim()).toBe([caPem.trim(), otherPem.trim(), otherPem.trim()].join('\n'));
    expect(resolveCaCertificates([], dir)).toEqual({ pem: '', count: 0 });
  });
});

const seedBase: SeedInput = { hostname: 'berth', bootId: 'b1', authorizedKey: 'ssh-ed25519 AAAA', hostKey: 'K', hostKeyPub: 'P', mounts: [], emulation: false, guestArch: 'x86_64' };

describe('the seed keys berth-boot reads', () => {
  it('HTTP_PROXY, HTTPS_PROXY, NO_PROXY and CA_CERTS, base64, empty when unset', () => {
    const lines = Object.fromEntries(seedText(seedBase).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'CA_CERTS']) expect(lines[k], k).toBe('');
    const text = seedText({ ...seedBase, proxy: { http: '', https: 'http://10.0.2.2:3128', noProxy: 'localhost,.corp' }, proxySource: 'berth.yaml', caCertificates: caPem });
    const decoded = Object.fromEntries(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), Buffer.from(l.slice(l.indexOf('=') + 1), 'base64').toString()]));
    expect(decoded).toMatchObject({ HTTP_PROXY: '', HTTPS_PROXY: 'http://10.0.2.2:3128', NO_PROXY: 'localhost,.corp', CA_CERTS: caPem, PROXY_SOURCE: 'berth.yaml' });
    // one line per key: the guest's `sed -n s/^KEY=//p` must see the whole PEM bundle on its line
    expect(text.split('\n').filter((l) => l.startsWith('CA_CERTS=')).length).toBe(1);
    expect(text.split('\n').length).toBe(Object.keys(decoded).length + 1);
  });
});

describe('the proxy service', () => {
  function service(env: NodeJS.ProcessEnv, settings: Partial<Settings>) {
    const p = instancePaths('px', scratch('berth-px-'));
    ensureInstanceDir(p);
    const s = { ...defaultSettings(), ...settings };
    saveSettings(p.settings, s);
    const ctx = serviceContext(p, { exec: async () => ({ code: 0, stdout: '', stderr: '' }), env });
    return { p, s, svc: new ProxyService(ctx) };
  }

  it('a cold boot: the seed gets the guest’s view, the status the masked one with the CA count', async () => {
    const { p, s, svc } = service({ HTTPS_PROXY: 'http://ignored:1' }, { proxy: { https: 'http://bob:hunter2@127.0.0.1:3128', noProxy: 'host.docker.internal' }, caCertificates: [path.join(dir, 'ca.pem'), path.join(dir, 'other.pem')] });
    svc.onStart(s);
    const part = svc.seed(s);
    expect(part.proxy).toEqual({ http: '', https: 'http://bob:hunter2@10.0.2.2:3128', noProxy: 'host.docker.internal' });
    expect(part.caCertificates.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    writeSeed(p.seed, { ...seedBase, ...part });
    const st = { proxy: undefined } as unknown as Status;
    svc.status(st);
    expect(st.proxy).toBeUndefined(); // not before the VM answers
    await svc.onReady();
    svc.status(st);
    expect(st.proxy).toEqual({ https: 'http://***@10.0.2.2:3128', noProxy: 'host.docker.internal', source: 'berth.yaml', note: "the host's loopback is 10.0.2.2 from the VM", caCertificates: 2 });
    expect(JSON.stringify(st)).not.toContain('hunter2');
    expect(formatProxy(st.proxy!)).toBe("HTTPS http://***@10.0.2.2:3128, not for host.docker.internal (berth.yaml; the host's loopback is 10.0.2.2 from the VM)");
    svc.onStop();
    const after = {} as Status;
    svc.status(after);
    expect(after.proxy).toBeUndefined();
  });

  it('a resumed VM shows what it booted with (the seed), not a newer environment', async () => {
    const { p, s, svc } = service({ http_proxy: 'http://old.corp:8080' }, {});
    svc.onStart(s);
    writeSeed(p.seed, { ...seedBase, ...svc.seed(s) });
    const resumed = service({ http_proxy: 'http://new.corp:8080' }, {});
    fs.copyFileSync(p.seed, resumed.p.seed);
    resumed.svc.onStart(resumed.s);
    await resumed.svc.onReady();
    const st = {} as Status;
    resumed.svc.status(st);
    expect(st.proxy).toEqual({ http: 'http://old.corp:8080', source: 'environment', caCertificates: 0 });
    expect(readSeed(resumed.p.seed)?.HTTP_PROXY).toBe('http://old.corp:8080');
  });

  it('a start with a missing CA file fails before anything runs, naming the file', () => {
    const { s, svc } = service({}, { caCertificates: ['/nowhere/corp-root.pem'] });
    expect(() => svc.onStart(s)).toThrow(/caCertificates\[0\]: \/nowhere\/corp-root\.pem does not exist/);
  });

  it('berth status prints the proxy and the CA count', () => {
    const st = { instance: 'default', state: 'running', restartNeeded: false, arch: 'x86_64', cpus: 2, memoryGiB: 2, diskGiB: 64, emulation: { foreignArch: 'aarch64', state: 'disabled', enabled: false }, ports: [], mounts: [], pids: {}, serialLog: '/x/serial.log', dockerHost: 'unix:///x', steps: [], proxy: { source: 'none', caCertificates: 1 } } as unknown as Status;
    const out = formatStatus(st);
    expect(out).toMatch(/^proxy: +none$/m);
    expect(out).toMatch(/^CAs: +1 extra \(caCertificates\)$/m);
  });
});

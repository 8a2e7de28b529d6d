// The guest-image downloader against a real HTTP server on 127.0.0.1: progress, resume after a
// cut (automatic and across calls), servers that ignore Range, wrong digests, 404, unreachable
// hosts, and the cache (no request at all, offline).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  cacheDirFor,
  downloadFile,
  downloadReleaseImage,
  imageCacheRoot,
  toProgressEvent,
} from '../../../electron/engine/image/download.js';
import type { DownloadProgress } from '../../../electron/engine/image/download.js';
import { ImageError, loadReleaseManifest, parseReleaseManifest } from '../../../electron/engine/image/manifest.js';
import type { ReleaseManifest } from '../../../electron/engine/image/manifest.js';

const SIZE = 1_500_000;
const BODY = randomBytes(SIZE);
const SHA = createHash('sha256').update(BODY).digest('hex');
const CUT = 600_000;
const CHUNK = 64 * 1024;

interface Seen {
  path: string;
  range?: string;
  status: number;
  sent: number;
}

let server: http.Server;
let base: string;
let seen: Seen[] = [];
/** per-path count of requests, so "first request cuts" works per test */
const hits = new Map<string, number>();

/** Poll until `ok()` (a cap keeps a broken test from hanging: it then fails on its assertions). */
async function waitFor(ok: () => boolean, capMs = 10_000): Promise<void> {
  for (const t0 = Date.now(); !ok() && Date.now() - t0 < capMs; ) await new Promise((r) => setTimeout(r, 5));
}

const partialSize = (file: string): number => {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
};

/**
 * Write `buf` in chunks, yielding between them (so the client sees many progress steps). A cut
 * (`stopAt` short of the length) waits until the client has all `stopAt` bytes in its .partial
 * file before closing: a client that notices the close first drops what it has not read yet, so
 * a fixed delay made "resumes from byte N" depend on how loaded the machine was.
 */
async function send(res: http.ServerResponse, buf: Buffer, rec: Seen, stopAt = buf.length, stall = false, delayMs = 0, partial = ''): Promise<void> {
  for (let i = 0; i < stopAt; i += CHUNK) {
    const piece = buf.subarray(i, Math.min(i + CHUNK, stopAt));
    rec.sent += piece.length;
    await new Promise<void>((r, reject) => res.write(piece, (e) => (e ? reject(e) : r())));
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
  }
  if (stall) return; // keep the socket open and silent
  if (stopAt < buf.length) {
    await waitFor(() => partialSize(partial) >= stopAt); // cuts happen on a first request, from byte 0
    res.socket?.destroy();
    return;
  }
  res.end();
}

function serveRange(req: http.IncomingMessage, res: http.ServerResponse, rec: Seen, body: Buffer, honourRange = true, delayMs = 0): Promise<void> {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m && honourRange) {
    const start = Number(m[1]);
    if (start >= body.length) {
      rec.status = 416;
      res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
      return Promise.resolve();
    }
    rec.status = 206;
    res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
    return send(res, body.subarray(start), rec, body.length - start, false, delayMs);
  }
  rec.status = 200;
  res.writeHead(200, { 'Content-Length': body.length, 'Accept-Ranges': 'bytes' });
  return send(res, body, rec, body.length, false, delayMs);
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const n = (hits.get(url.pathname) ?? 0) + 1;
    hits.set(url.pathname, n);
    const rec: Seen = { path: url.pathname, range: req.headers.range, status: 0, sent: 0 };
    seen.push(rec);
    const [, mode] = url.pathname.split('/');
    // Where the client under test keeps this file while it downloads it.
    const partial = path.join(cacheDirFor(home, `${base}${url.pathname}`), `${path.basename(url.pathname)}.partial`);
    switch (mode) {
      case 'good':
        return void serveRange(req, res, rec, BODY);
      case 'slow': // ~5 ms per 64 KiB: long enough to measure a rate
        return void serveRange(req, res, rec, BODY, true, 5);
      case 'cut': // the first request dies after CUT bytes; later ones serve ranges
        if (n === 1) {
          rec.status = 200;
          res.writeHead(200, { 'Content-Length': SIZE });
          return void send(res, BODY, rec, CUT, false, 0, partial);
        }
        return void serveRange(req, res, rec, BODY);
      case 'norange': // cut first, then ignore Range and send everything again
        if (n === 1) {
          rec.status = 200;
          res.writeHead(200, { 'Content-Length': SIZE });
          return void send(res, BODY, rec, CUT, false, 0, partial);
        }
        return void serveRange(req, res, rec, BODY, false);
      case 'stall': // the first request goes silent after CUT bytes
        if (n === 1) {
          rec.status = 200;
          res.writeHead(200, { 'Content-Length': SIZE });
          return void send(res, BODY, rec, CUT, true);
        }
        return void serveRange(req, res, rec, BODY);
      case 'wrong': {
        const other = Buffer.from(BODY);
        other[SIZE - 1] ^= 0xff;
        return void serveRange(req, res, rec, other);
      }
      case 'toolong':
        rec.status = 200;
        res.writeHead(200, { 'Content-Length': SIZE + 10 });
        return void res.end(Buffer.concat([BODY, Buffer.alloc(10)]));
      case 'redirect':
        rec.status = 302;
        return void res.writeHead(302, { Location: `/good${url.pathname.slice('/redirect'.length)}` }).end();
      case 'boom':
        rec.status = 503;
        return void res.writeHead(503).end('busy');
      default:
        rec.status = 404;
        return void res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dl-'));
  seen = [];
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

const entry = (p: string, extra: Partial<{ size: number; sha256: string; name: string }> = {}) => ({
  url: `${base}${p}`,
  size: SIZE,
  sha256: SHA,
  ...extra,
});

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name));
}

function expectMonotonicEndingAt(events: DownloadProgress[], total: number): void {
  expect(events.length).toBeGreaterThan(0);
  for (let i = 1; i < events.length; i++) expect(events[i].done).toBeGreaterThanOrEqual(events[i - 1].done);
  for (const e of events) {
    expect(e.total).toBe(total);
    expect(e.fraction).toBeCloseTo(e.done / total, 10);
    expect(e.rateBps).toBeGreaterThanOrEqual(0);
  }
  const last = events.at(-1)!;
  expect(last).toMatchObject({ done: total, fraction: 1, etaS: 0 });
}

describe('downloadFile', () => {
  it('downloads with monotonic progress into _cache/images/<sha256(url)>/, then serves from the cache with no request', async () => {
    const events: DownloadProgress[] = [];
    const e = entry('/slow/vmlinuz');
    const r = await downloadFile(e, { berthHome: home, onProgress: (p) => events.push(p), progressIntervalMs: 0 });
    const dir = path.join(home, '_cache', 'images', createHash('sha256').update(e.url).digest('hex'));
    expect(cacheDirFor(home, e.url)).toBe(dir);
    expect(r).toEqual({ path: path.join(dir, 'vmlinuz'), cached: false, requests: 1, resumedFrom: 0, bytesDownloaded: SIZE });
    expect(fs.readFileSync(r.path).equals(BODY)).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual(['vmlinuz', 'vmlinuz.verified.json']);
    expectMonotonicEndingAt(events, SIZE);
    expect(events.length).toBeGreaterThan(5);
    expect(events.some((p) => p.rateBps > 0 && p.etaS !== undefined && p.etaS > 0)).toBe(true);

    // second start: the cache, no request
    const n = seen.length;
    const again: DownloadProgress[] = [];
    const r2 = await downloadFile(e, { berthHome: home, onProgress: (p) => again.push(p) });
    expect(r2).toMatchObject({ path: r.path, cached: true, requests: 0 });
    expect(seen.length).toBe(n);
    expect(again).toEqual([{ done: SIZE, total: SIZE, fraction: 1, rateBps: 0, etaS: 0 }]);
  });

  it('works offline from the cache once the server is gone', async () => {
    const own = http.createServer((_req, res) => res.writeHead(200, { 'Content-Length': SIZE }).end(BODY));
    await new Promise<void>((r) => own.listen(0, '127.0.0.1', r));
    const e = { url: `http://127.0.0.1:${(own.address() as AddressInfo).port}/initrd`, size: SIZE, sha256: SHA };
    expect((await downloadFile(e, { berthHome: home })).cached).toBe(false);
    own.closeAllConnections();
    await new Promise((r) => own.close(r));
    const offline = await downloadFile(e, { berthHome: home, verifyCached: 'full' });
    expect(offline).toMatchObject({ cached: true, requests: 0 });
    expect(fs.readFileSync(offline.path).equals(BODY)).toBe(true);
    // …while anything not cached fails as unreachable
    await expect(downloadFile({ ...e, url: e.url + '2' }, { berthHome: home })).rejects.toMatchObject({ reason: 'unreachable' });
  });

  it('resumes after a cut within the same call, without fetching the first part again', async () => {
    const events: DownloadProgress[] = [];
    const r = await downloadFile(entry('/cut/vmlinuz'), { berthHome: home, onProgress: (p) => events.push(p), progressIntervalMs: 0, retryDelayMs: 10 });
    expect(fs.readFileSync(r.path).equals(BODY)).toBe(true);
    expect(r).toMatchObject({ cached: false, requests: 2, resumedFrom: 0, bytesDownloaded: SIZE });
    expect(seen.map((s) => [s.range, s.status])).toEqual([
      [undefined, 200],
      [`bytes=${CUT}-`, 206],
    ]);
    expect(seen[0].sent).toBe(CUT);
    expect(seen[1].sent).toBe(SIZE - CUT);
    expectMonotonicEndingAt(events, SIZE);
  });

  it('keeps the .partial file when the cut is final, and the next call resumes from it', async () => {
    const e = entry('/cut/initrd', { name: 'initrd' });
    const err = (await downloadFile(e, { berthHome: home, retries: 0 }).catch((x: unknown) => x)) as ImageError;
    expect(err).toBeInstanceOf(ImageError);
    expect(err).toMatchObject({ code: 'E_IMAGE', reason: 'interrupted' });
    expect(err.message).toContain(`stopped after ${CUT} of ${SIZE} bytes`);
    expect(err.hint).toMatch(/resumes/);
    const partial = path.join(cacheDirFor(home, e.url), 'initrd.partial');
    expect(fs.statSync(partial).size).toBe(CUT);

    const events: DownloadProgress[] = [];
    const r = await downloadFile(e, { berthHome: home, onProgress: (p) => events.push(p), progressIntervalMs: 0 });
    expect(r).toMatchObject({ cached: false, requests: 1, resumedFrom: CUT, bytesDownloaded: SIZE - CUT });
    expect(seen.at(-1)).toMatchObject({ range: `bytes=${CUT}-`, status: 206, sent: SIZE - CUT });
    expect(fs.readFileSync(r.path).equals(BODY)).toBe(true);
    expect(fs.existsSync(partial)).toBe(false);
    expect(events[0].done).toBe(CUT);
    expectMonotonicEndingAt(events, SIZE);
  });

  it('starts over when the server ignores Range (200), keeping progress monotonic', async () => {
    const events: DownloadProgress[] = [];
    const r = await downloadFile(entry('/norange/vmlinuz'), { berthHome: home, onProgress: (p) => events.push(p), progressIntervalMs: 0, retryDelayMs: 10 });
    expect(fs.readFileSync(r.path).equals(BODY)).toBe(true);
    expect(seen.map((s) => [s.range, s.status])).toEqual([
      [undefined, 200],
      [`bytes=${CUT}-`, 200],
    ]);
    expect(r.bytesDownloaded).toBe(CUT + SIZE);
    expectMonotonicEndingAt(events, SIZE);
  });

  it('gives up on a silent connection after the idle timeout and resumes', async () => {
    const r = await downloadFile(entry('/stall/vmlinuz'), { berthHome: home, idleTimeoutMs: 300, retryDelayMs: 10 });
    expect(fs.readFileSync(r.path).equals(BODY)).toBe(true);
    expect(seen.map((s) => s.range?.replace(/\d+/, 'N'))).toEqual([undefined, 'bytes=N-']);
    // It resumed from what it had kept (a loaded client may not have read all CUT bytes before giving up).
    const from = Number(/\d+/.exec(seen[1].range!)![0]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(CUT);
  });

  it('follows redirects (GitHub release assets redirect to a CDN)', async () => {
    const r = await downloadFile(entry('/redirect/base.qcow2'), { berthHome: home });
    expect(r.requests).toBe(2);
    expect(path.basename(r.path)).toBe('base.qcow2');
    expect(fs.readFileSync(r.path).equals(BODY)).toBe(true);
  });

  it('rejects a wrong digest and leaves no file in the cache', async () => {
    const e = entry('/wrong/vmlinuz');
    const err = (await downloadFile(e, { berthHome: home }).catch((x: unknown) => x)) as ImageError;
    expect(err).toMatchObject({ code: 'E_IMAGE', reason: 'digest' });
    expect(err.message).toContain(`expected ${SHA}`);
    expect(err.message).toContain('it was deleted');
    expect(err.toJSON().hint).toMatch(/download it afresh/);
    expect(filesUnder(imageCacheRoot(home))).toEqual([]);
    expect(fs.existsSync(cacheDirFor(home, e.url))).toBe(false);
  });

  it('rejects a file of the wrong size before downloading it, leaving nothing', async () => {
    const err = (await downloadFile(entry('/toolong/vmlinuz'), { berthHome: home }).catch((x: unknown) => x)) as ImageError;
    expect(err).toMatchObject({ code: 'E_IMAGE', reason: 'size' });
    expect(err.message).toContain(`${SIZE + 10} bytes, but the manifest says ${SIZE}`);
    expect(filesUnder(imageCacheRoot(home))).toEqual([]);
  });

  it('explains a 404 and points at --image', async () => {
    const err = (await downloadFile(entry('/nope/vmlinuz'), { berthHome: home }).catch((x: unknown) => x)) as ImageError;
    expect(err.toJSON()).toMatchObject({ code: 'E_IMAGE', message: `the guest image file ${base}/nope/vmlinuz does not exist (HTTP 404)` });
    expect(err.reason).toBe('not-found');
    expect(err.hint).toContain('--image PATH');
    expect(filesUnder(imageCacheRoot(home))).toEqual([]);
  });

  it('reports other HTTP errors with the status', async () => {
    const err = (await downloadFile(entry('/boom/vmlinuz'), { berthHome: home }).catch((x: unknown) => x)) as ImageError;
    expect(err).toMatchObject({ code: 'E_IMAGE', reason: 'http' });
    expect(err.message).toContain('HTTP 503');
    expect(err.hint).toMatch(/try again later/);
  });

  it('explains an unreachable host, without retrying', async () => {
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    // No retry: one would first wait retryDelayMs (10 min), far past this test's timeout.
    const err = (await downloadFile({ url: `http://127.0.0.1:${port}/vmlinuz`, size: SIZE, sha256: SHA }, { berthHome: home, retryDelayMs: 600_000 }).catch((x: unknown) => x)) as ImageError;
    expect(err).toMatchObject({ code: 'E_IMAGE', reason: 'unreachable' });
    expect(err.message).toBe(`cannot reach 127.0.0.1:${port} to download the guest image (ECONNREFUSED)`);
    expect(err.hint).toMatch(/network/);
    expect(err.hint).toMatch(/starts offline/);
    expect(filesUnder(imageCacheRoot(home))).toEqual([]);
  });

  it('re-downloads a cached file that was damaged on disk', async () => {
    const e = entry('/good/vmlinuz');
    const r = await downloadFile(e, { berthHome: home });
    const fd = fs.openSync(r.path, 'r+');
    fs.writeSync(fd, Buffer.from([BODY[0] ^ 0xff]), 0, 1, 0);
    fs.closeSync(fd);
    fs.utimesSync(r.path, new Date(), new Date(Date.now() + 5000));
    const r2 = await downloadFile(e, { berthHome: home });
    expect(r2.cached).toBe(false);
    expect(fs.readFileSync(r2.path).equals(BODY)).toBe(true);
  });

  it('shares one download between concurrent callers', async () => {
    const e = entry('/good/vmlinuz');
    const [a, b] = await Promise.all([downloadFile(e, { berthHome: home }), downloadFile(e, { berthHome: home })]);
    expect(a).toBe(b);
    expect(seen).toHaveLength(1);
  });

  it('can be cancelled, keeping what it has', async () => {
    const ac = new AbortController();
    const e = entry('/good/vmlinuz');
    const err = (await downloadFile(e, {
      berthHome: home,
      signal: ac.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.done > 200_000) ac.abort();
      },
    }).catch((x: unknown) => x)) as ImageError;
    expect(err).toMatchObject({ code: 'E_IMAGE', reason: 'aborted' });
    expect(fs.statSync(path.join(cacheDirFor(home, e.url), 'vmlinuz.partial')).size).toBeGreaterThan(200_000);
  });

  it('maps progress to the contract’s progress event', () => {
    expect(toProgressEvent({ done: 5, total: 10, fraction: 0.5, rateBps: 100 }, 'Downloading')).toEqual({
      task: 'download',
      step: 'image',
      label: 'Downloading',
      done: 5,
      total: 10,
      fraction: 0.5,
      rateBps: 100,
    });
  });
});

describe('downloadReleaseImage', () => {
  it('fetches kernel, initrd and disk with one progress stream, then uses the cache', async () => {
    const manifest: ReleaseManifest = {
      schema: 1,
      arch: 'x86_64',
      version: 'test',
      files: [
        { role: 'kernel', name: 'vmlinuz', url: `${base}/good/k/vmlinuz`, size: SIZE, sha256: SHA },
        { role: 'initrd', name: 'initrd', url: `${base}/cut/i/initrd`, size: SIZE, sha256: SHA },
        { role: 'disk', name: 'base.qcow2', url: `${base}/redirect/d/base.qcow2`, size: SIZE, sha256: SHA },
      ],
    };
    const events: DownloadProgress[] = [];
    const img = await downloadReleaseImage(manifest, { berthHome: home, onProgress: (p) => events.push(p), progressIntervalMs: 0, retryDelayMs: 10 });
    expect(path.basename(img.kernel)).toBe('vmlinuz');
    expect(path.basename(img.initrd)).toBe('initrd');
    expect(path.basename(img.disk)).toBe('base.qcow2');
    expect(img.cached).toBe(false);
    expectMonotonicEndingAt(events, 3 * SIZE);
    const n = seen.length;
    const again = await downloadReleaseImage(manifest, { berthHome: home });
    expect(again).toMatchObject({ cached: true, requests: 0, kernel: img.kernel });
    expect(seen.length).toBe(n);
  });
});

describe('release manifests', () => {
  const resources = path.resolve(import.meta.dirname, '../../../resources');

  it('ships a valid x86_64 manifest pointing at the release host', () => {
    const m = loadReleaseManifest(resources, 'x86_64');
    expect(m.files.map((f) => f.role).sort()).toEqual(['disk', 'initrd', 'kernel']);
    for (const f of m.files) expect(f.url).toMatch(/^https:\/\/github\.com\/berth-app\/berth-images\/releases\/download\//);
  });

  it('has an aarch64 manifest that is either valid or clearly not published yet', () => {
    try {
      expect(loadReleaseManifest(resources, 'aarch64').arch).toBe('aarch64');
    } catch (e) {
      expect(e).toMatchObject({ code: 'E_IMAGE', reason: 'manifest' });
      expect((e as Error).message).toMatch(/not published yet/);
    }
  });

  it('rejects malformed manifests with a clear message', () => {
    const good = { schema: 1, arch: 'x86_64', version: 'v', files: [
      { role: 'kernel', name: 'vmlinuz', url: 'https://h/k', size: 1, sha256: SHA },
      { role: 'initrd', name: 'initrd', url: 'https://h/i', size: 1, sha256: SHA },
      { role: 'disk', name: 'base.qcow2', url: 'https://h/d', size: 1, sha256: SHA },
    ] };
    expect(parseReleaseManifest(good).files).toHaveLength(3);
    expect(() => parseReleaseManifest({ ...good, schema: 2 }, 'x.json')).toThrow('invalid image manifest x.json: unsupported schema 2 (expected 1)');
    expect(() => parseReleaseManifest({ ...good, files: good.files.slice(1) })).toThrow(/exactly one file with role "kernel"/);
    expect(() => parseReleaseManifest({ ...good, files: [{ ...good.files[0], sha256: 'PENDING' }, ...good.files.slice(1)] })).toThrow(/not published yet/);
    expect(() => parseReleaseManifest({ ...good, files: [{ ...good.files[0], name: '../x' }, ...good.files.slice(1)] })).toThrow(/plain file name/);
    expect(() => loadReleaseManifest(path.join(home, 'none'), 'x86_64')).toThrow(/no image manifest for x86_64/);
  });
});

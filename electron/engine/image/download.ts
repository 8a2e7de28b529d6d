// Guest-image downloader: fetch one file named by a release manifest entry {url, size, sha256}
// into $BERTH_HOME/_cache/images/<sha256(url)>/<name>, with
//  - progress {done, total, fraction, rateBps, etaS}: `done` never decreases and the last event
//    has done === total;
//  - resume: bytes land in <name>.partial; after a cut the next attempt (automatic, `retries`
//    times, or the next call) sends `Range: bytes=<have>-`. A 206 whose Content-Range starts
//    there is appended; a 200 (server ignores ranges) restarts from zero;
//  - the sha256 computed while streaming (a resumed .partial is hashed first) and checked before
//    the file is renamed into place; a wrong digest or size deletes everything: no file is left;
//  - a verified file is remembered (<name>.verified.json: size, mtime, digest), so a later call
//    makes no request and needs no network, and does not re-hash hundreds of MB either.
// Errors are ImageError (E_IMAGE) with a hint and a reason: not-found, http, unreachable,
// interrupted (partial kept), size, digest, aborted, io.
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { CACHE_DIR } from '../../shared/files.js';
import type { Progress } from '../../shared/status.js';
import { ImageError } from './manifest.js';
import type { ImageRole, ReleaseManifest } from './manifest.js';

export interface DownloadEntry {
  url: string;
  size: number;
  sha256: string;
  /** file name in the cache directory (default: the URL's last path segment) */
  name?: string;
}

export interface DownloadProgress {
  done: number;
  total: number;
  /** done / total, 0…1 */
  fraction: number;
  /** bytes per second over the last few seconds of this session (0 until measurable) */
  rateBps: number;
  /** seconds left at that rate; undefined while the rate is unknown, 0 at the end */
  etaS?: number;
}

export interface DownloadOptions {
  /** $BERTH_HOME: the cache is <berthHome>/_cache/images/ */
  berthHome: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** automatic resumes after a cut, within this call (default 3) */
  retries?: number;
  /** pause before an automatic resume (default 500 ms) */
  retryDelayMs?: number;
  /** an attempt fails (resumably) when no byte arrives for this long (default 30 s) */
  idleTimeoutMs?: number;
  /** minimum time between progress events (default 250 ms; 0 = every chunk) */
  progressIntervalMs?: number;
  /** 'stat' (default): trust a cached file whose size and mtime match its verification record; 'full': hash it again */
  verifyCached?: 'stat' | 'full';
}

export interface DownloadResult {
  path: string;
  /** true when the file came from the cache without any request */
  cached: boolean;
  /** HTTP requests made (redirects included) */
  requests: number;
  /** bytes already in a .partial file when this call started */
  resumedFrom: number;
  /** bytes received over the network in this call */
  bytesDownloaded: number;
}

const MAX_REDIRECTS = 5;
const RATE_WINDOW_MS = 5000;

/** The page a user can get a working Berth from: the GitHub releases page the image URL belongs to, else its host. */
export function releasesPageOf(url: string): string {
  const m = /^(https:\/\/github\.com\/[^/]+\/[^/]+)\/releases\/download\//.exec(url);
  if (m) return `${m[1]}/releases`;
  try {
    return new URL(url).origin;
  } catch {
    return 'the Berth releases page';
  }
}

export function imageCacheRoot(berthHome: string): string {
  return path.join(berthHome, CACHE_DIR, 'images');
}

/** $BERTH_HOME/_cache/images/<sha256(url)>: images are cached by the sha256 of their URL, verified by digest. */
export function cacheDirFor(berthHome: string, url: string): string {
  return path.join(imageCacheRoot(berthHome), createHash('sha256').update(url).digest('hex'));
}

function fileNameOf(entry: DownloadEntry): string {
  const name = entry.name ?? decodeURIComponent(new URL(entry.url).pathname.split('/').filter(Boolean).pop() ?? '');
  if (!name || !/^[A-Za-z0-9._-]+$/.test(name)) return 'image';
  return name;
}

/** Where the verified file of `entry` lives (whether or not it is there yet). */
export function cachedPathFor(berthHome: string, entry: DownloadEntry): string {
  return path.join(cacheDirFor(berthHome, entry.url), fileNameOf(entry));
}

/** A shared `progress` event payload (contract) for a download. */
export function toProgressEvent(p: DownloadProgress, label: string): Progress {
  return {
    task: 'download',
    step: 'image',
    label,
    done: p.done,
    total: p.total,
    fraction: p.fraction,
    rateBps: p.rateBps,
    ...(p.etaS !== undefined ? { etaS: p.etaS } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Progress

class ProgressMeter {
  private emitted = -1;
  private lastEmitAt = 0;
  private sessionBytes = 0;
  private samples: [number, number][] = [];

  constructor(
    private readonly total: number,
    private readonly cb: ((p: DownloadProgress) => void) | undefined,
    private readonly minIntervalMs: number,
  ) {}

  private rate(): number {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 - t0 >= 20 ? Math.round(((b1 - b0) * 1000) / (t1 - t0)) : 0;
  }

  /** `done`: bytes on disk now; `added`: bytes received since the last call. */
  update(done: number, added = 0): void {
    const now = performance.now();
    this.sessionBytes += added;
    this.samples.push([now, this.sessionBytes]);
    while (this.samples.length > 2 && now - this.samples[0][0] > RATE_WINDOW_MS) this.samples.shift();
    const d = Math.max(this.emitted, Math.min(done, this.total));
    if (!this.cb) return;
    if (this.emitted >= 0 && d < this.total && now - this.lastEmitAt < this.minIntervalMs) return;
    if (d === this.emitted && d === this.total) return;
    this.emit(d, now);
  }

  finish(): void {
    if (this.emitted === this.total || !this.cb) return;
    this.emit(this.total, performance.now());
  }

  private emit(done: number, now: number): void {
    this.emitted = done;
    this.lastEmitAt = now;
    const rateBps = this.rate();
    const left = this.total - done;
    const etaS = left === 0 ? 0 : rateBps > 0 ? Math.ceil(left / rateBps) : undefined;
    this.cb?.({ done, total: this.total, fraction: this.total ? done / this.total : 1, rateBps, ...(etaS !== undefined ? { etaS } : {}) });
  }
}

// ---------------------------------------------------------------------------------------------
// Cache

interface VerifiedRecord {
  url: string;
  sha256: string;
  size: number;
  mtimeMs: number;
  verifiedAt: string;
}

async function hashFile(file: string, hash: Hash = createHash('sha256')): Promise<Hash> {
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash;
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
  await fsp.rename(tmp, file);
}

async function recordVerified(file: string, entry: DownloadEntry): Promise<void> {
  const st = await fsp.stat(file);
  const rec: VerifiedRecord = { url: entry.url, sha256: entry.sha256, size: st.size, mtimeMs: st.mtimeMs, verifiedAt: new Date().toISOString() };
  await writeJsonAtomic(`${file}.verified.json`, rec);
}

/** True when `file` is a verified copy of `entry` (re-hashing it when there is no matching record). */
async function isCachedVerified(file: string, entry: DownloadEntry, mode: 'stat' | 'full'): Promise<boolean> {
  const st = await fsp.stat(file).catch(() => undefined);
  if (!st) return false;
  const recordFile = `${file}.verified.json`;
  if (st.size === entry.size) {
    if (mode === 'stat') {
      try {
        const rec = JSON.parse(await fsp.readFile(recordFile, 'utf8')) as VerifiedRecord;
        if (rec.sha256 === entry.sha256 && rec.size === st.size && rec.mtimeMs === st.mtimeMs) return true;
      } catch {
        // no or unreadable record: hash below
      }
    }
    if ((await hashFile(file)).digest('hex') === entry.sha256) {
      await recordVerified(file, entry);
      return true;
    }
  }
  // Wrong size or digest: a damaged or stale cache entry. Drop it and download again.
  await fsp.rm(file, { force: true });
  await fsp.rm(recordFile, { force: true });
  return false;
}

/** Remove the partial file and, if nothing else is in it, the cache directory. */
async function discard(dir: string, partial: string): Promise<void> {
  await fsp.rm(partial, { force: true });
  await fsp.rmdir(dir).catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// HTTP

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL']);

function unreachable(url: string, e: NodeJS.ErrnoException, haveBytes: number): ImageError {
  const code = e.code ?? e.message;
  const kept = haveBytes > 0 ? ` The ${haveBytes} bytes already downloaded are kept; the next start resumes from there.` : '';
  return new ImageError(
    'unreachable',
    `cannot reach ${hostOf(url)} to download the guest image (${code})`,
    `Check the network connection (and any proxy or firewall). Once downloaded, the image is cached and Berth starts offline.${kept} To use an image built locally, start with \`--image PATH\`.`,
  );
}

function interrupted(url: string, have: number, size: number, why: string): ImageError {
  return new ImageError(
    'interrupted',
    `the download of ${url} stopped after ${have} of ${size} bytes (${why})`,
    'Start again: the download resumes where it stopped.',
  );
}

/** GET with redirects; resolves with the final response (status not checked). */
async function get(
  url: string,
  headers: Record<string, string>,
  opts: DownloadOptions,
  count: () => void,
): Promise<{ res: IncomingMessage; url: string }> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const u = new URL(current);
    const mod = u.protocol === 'https:' ? https : http;
    const idle = opts.idleTimeoutMs ?? 30_000;
    count();
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = mod.get(u, { headers, ...(opts.signal ? { signal: opts.signal } : {}) }, resolve);
      req.setTimeout(idle, () => req.destroy(Object.assign(new Error(`no data for ${Math.round(idle / 1000)} s`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
    });
    const status = res.statusCode ?? 0;
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new ImageError('http', `too many redirects downloading ${url}`, 'The download host is misconfigured; try again later.');
      current = new URL(res.headers.location, current).toString();
      continue;
    }
    return { res, url: current };
  }
}

interface State {
  offset: number;
  hash: Hash;
  requests: number;
  downloaded: number;
}

/** One request: append to `partial` from state.offset. Throws ImageError; 'interrupted' is resumable. */
async function attempt(entry: DownloadEntry, dir: string, partial: string, state: State, meter: ProgressMeter, opts: DownloadOptions): Promise<void> {
  for (let restarts = 0; ; restarts++) {
    const headers: Record<string, string> = { 'User-Agent': 'Berth', 'Accept-Encoding': 'identity' };
    if (state.offset > 0) headers.Range = `bytes=${state.offset}-`;
    let res: IncomingMessage;
    try {
      ({ res } = await get(entry.url, headers, opts, () => state.requests++));
    } catch (e) {
      if (e instanceof ImageError) throw e;
      const err = e as NodeJS.ErrnoException;
      if (opts.signal?.aborted || err.name === 'AbortError') throw new ImageError('aborted', `download of ${entry.url} cancelled`, 'Start again to resume it.');
      if (err.code && UNREACHABLE.has(err.code)) throw unreachable(entry.url, err, state.offset);
      throw interrupted(entry.url, state.offset, entry.size, err.code ?? err.message);
    }

    const status = res.statusCode ?? 0;
    const restart = async (): Promise<void> => {
      state.offset = 0;
      state.hash = createHash('sha256');
      await fsp.rm(partial, { force: true });
    };
    if (status === 404 || status === 410) {
      res.resume();
      throw new ImageError(
        'not-found',
        `the guest image file ${entry.url} does not exist (HTTP ${status})`,
        `The guest image this version of Berth names is not published (yet): install the latest Berth from ${releasesPageOf(entry.url)}. From a terminal, \`berth start --image PATH\` boots an image you built.`,
      );
    }
    if (status === 416 && state.offset > 0 && restarts === 0) {
      // Range not satisfiable: our partial file does not fit what the server has. Start over.
      res.resume();
      await restart();
      continue;
    }
    if (status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
      if (!m || Number(m[1]) !== state.offset) {
        res.destroy();
        if (restarts > 0) throw new ImageError('http', `${hostOf(entry.url)} answered a range request with the wrong range (${res.headers['content-range'] ?? 'none'})`, 'Try again later.');
        await restart();
        continue;
      }
      if (m[3] !== '*' && Number(m[3]) !== entry.size) {
        res.destroy();
        await discard(dir, partial);
        throw new ImageError('size', `${entry.url} is ${m[3]} bytes, but the manifest says ${entry.size}`, 'The published image does not match this Berth version’s manifest; update Berth or use `--image PATH`.');
      }
    } else if (status === 200) {
      if (state.offset > 0) await restart(); // the server ignored the Range header
      const len = res.headers['content-length'];
      if (len !== undefined && Number(len) !== entry.size) {
        res.destroy();
        await discard(dir, partial);
        throw new ImageError('size', `${entry.url} is ${len} bytes, but the manifest says ${entry.size}`, 'The published image does not match this Berth version’s manifest; update Berth or use `--image PATH`.');
      }
    } else {
      res.resume();
      throw new ImageError(
        'http',
        `downloading ${entry.url} failed: HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`,
        status >= 500 || status === 429 ? `${hostOf(entry.url)} has a problem; try again later.` : 'Check the URL in the image manifest, or start with `--image PATH`.',
      );
    }

    const fh = await fsp.open(partial, state.offset === 0 ? 'w' : 'a');
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        if (state.offset + chunk.length > entry.size) {
          res.destroy();
          await fh.close().catch(() => undefined);
          await discard(dir, partial);
          throw new ImageError('size', `${entry.url} sent more than the ${entry.size} bytes the manifest says`, 'The published image does not match this Berth version’s manifest; update Berth or use `--image PATH`.');
        }
        for (let off = 0; off < chunk.length; ) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        state.hash.update(chunk);
        state.offset += chunk.length;
        state.downloaded += chunk.length;
        meter.update(state.offset, chunk.length);
      }
      if (state.offset === entry.size) await fh.sync();
    } catch (e) {
      if (e instanceof ImageError) throw e;
      const err = e as NodeJS.ErrnoException;
      if (opts.signal?.aborted || err.name === 'AbortError') throw new ImageError('aborted', `download of ${entry.url} cancelled after ${state.offset} bytes`, 'Start again to resume it.');
      if (err.code === 'ENOSPC' || err.code === 'EACCES' || err.code === 'EROFS') {
        throw new ImageError('io', `cannot write ${partial}: ${err.code}`, 'Free some disk space (the image needs about 1 GB) or check the permissions of $BERTH_HOME.');
      }
      throw interrupted(entry.url, state.offset, entry.size, err.code ?? err.message);
    } finally {
      await fh.close().catch(() => undefined);
    }
    if (state.offset < entry.size) throw interrupted(entry.url, state.offset, entry.size, 'connection closed early');
    return;
  }
}

const inflight = new Map<string, Promise<DownloadResult>>();

/**
 * Make sure the verified file for `entry` is in the cache and return its path. Concurrent calls
 * for the same file in this process share one download.
 */
export function downloadFile(entry: DownloadEntry, opts: DownloadOptions): Promise<DownloadResult> {
  const key = cachedPathFor(opts.berthHome, entry);
  const running = inflight.get(key);
  if (running) return running;
  const p = doDownload(entry, opts).finally(() => inflight.delete(key));
  inflight.set(key, p);
  return p;
}

async function doDownload(entry: DownloadEntry, opts: DownloadOptions): Promise<DownloadResult> {
  if (!/^https?:\/\//.test(entry.url)) throw new ImageError('manifest', `not an http(s) URL: ${entry.url}`);
  if (!Number.isSafeInteger(entry.size) || entry.size <= 0) throw new ImageError('manifest', `invalid size ${entry.size} for ${entry.url}`);
  if (!/^[0-9a-f]{64}$/.test(entry.sha256)) throw new ImageError('manifest', `invalid sha256 for ${entry.url}`);

  const dir = cacheDirFor(opts.berthHome, entry.url);
  const final = path.join(dir, fileNameOf(entry));
  const partial = `${final}.partial`;
  const meter = new ProgressMeter(entry.size, opts.onProgress, opts.progressIntervalMs ?? 250);

  if (await isCachedVerified(final, entry, opts.verifyCached ?? 'stat')) {
    meter.finish();
    return { path: final, cached: true, requests: 0, resumedFrom: 0, bytesDownloaded: 0 };
  }

  await fsp.mkdir(dir, { recursive: true });
  const state: State = { offset: 0, hash: createHash('sha256'), requests: 0, downloaded: 0 };
  const have = await fsp.stat(partial).catch(() => undefined);
  if (have && have.size > 0 && have.size <= entry.size) {
    state.offset = have.size;
    state.hash = await hashFile(partial);
  } else if (have) {
    await fsp.rm(partial, { force: true });
  }
  const resumedFrom = state.offset;
  if (state.offset > 0) meter.update(state.offset);

  let retries = opts.retries ?? 3;
  for (;;) {
    try {
      if (state.offset < entry.size) await attempt(entry, dir, partial, state, meter, opts);
      break;
    } catch (e) {
      if (e instanceof ImageError && e.reason === 'interrupted' && retries > 0 && !opts.signal?.aborted) {
        retries--;
        await new Promise((r) => setTimeout(r, opts.retryDelayMs ?? 500));
        continue;
      }
      if (e instanceof ImageError && e.reason === 'interrupted' && state.offset === 0) await discard(dir, partial);
      throw e;
    }
  }

  const digest = state.hash.digest('hex');
  if (digest !== entry.sha256) {
    await discard(dir, partial);
    throw new ImageError(
      'digest',
      `the downloaded ${path.basename(final)} is corrupt: sha256 ${digest}, expected ${entry.sha256} (${entry.url}); it was deleted`,
      'Start again to download it afresh. If this repeats, something between you and the server alters the file (a proxy?), or the release does not match this Berth version.',
    );
  }
  await fsp.rename(partial, final);
  await recordVerified(final, entry);
  meter.finish();
  return { path: final, cached: false, requests: state.requests, resumedFrom, bytesDownloaded: state.downloaded };
}

export interface ReleaseImage {
  kernel: string;
  initrd: string;
  disk: string;
  /** true when every file came from the cache without a request */
  cached: boolean;
  requests: number;
}

/**
 * Download (or take from the cache) every file of a release manifest, one after the other, with
 * one progress stream over the total size.
 */
export async function downloadReleaseImage(manifest: ReleaseManifest, opts: DownloadOptions): Promise<ReleaseImage> {
  const total = manifest.files.reduce((n, f) => n + f.size, 0);
  const paths: Partial<Record<ImageRole, string>> = {};
  let base = 0;
  let cached = true;
  let requests = 0;
  let last = -1;
  for (const f of manifest.files) {
    const r = await downloadFile(
      { url: f.url, size: f.size, sha256: f.sha256, name: f.name },
      {
        ...opts,
        onProgress: (p) => {
          const done = Math.max(last, base + p.done);
          if (done <= last) return;
          last = done;
          const etaS = done === total ? 0 : p.rateBps > 0 ? Math.ceil((total - done) / p.rateBps) : undefined;
          opts.onProgress?.({ done, total, fraction: done / total, rateBps: p.rateBps, ...(etaS !== undefined ? { etaS } : {}) });
        },
      },
    );
    paths[f.role] = r.path;
    cached &&= r.cached;
    requests += r.requests;
    base += f.size;
  }
  return { kernel: paths.kernel!, initrd: paths.initrd!, disk: paths.disk!, cached, requests };
}

// The guest channel's wire format (docs/guest-channel.md, Framing): the frame encoder and an incremental decoder that
// also does the sync-marker scan, since a session starts (and restarts after a reset) by finding the marker.
export const SYNC_MARKER = Buffer.from('BERTH-SYNC-v1\r\n\0', 'latin1');
export const HEADER_LEN = 12;
export const MAX_PAYLOAD = 65536;
/** Per direction per stream: the most DATA payload bytes in flight without a CREDIT. */
export const WINDOW = 262144;
const CHECK0 = 0xb3;
const CHECK1 = 0x27;

export const T = {
  HELLO: 1,
  OPEN: 2,
  OPEN_OK: 3,
  OPEN_FAIL: 4,
  DATA: 5,
  EOF: 6,
  CLOSE: 7,
  CREDIT: 8,
  EXIT: 9,
  PING: 10,
  PONG: 11,
  RESYNC: 12,
} as const;
const MAX_TYPE = 12;

/** DATA flag: the bytes are an exec's stderr. */
export const FLAG_STDERR = 1;

export interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

const EMPTY = Buffer.alloc(0);

export function encodeHeader(type: number, stream: number, length: number, flags = 0): Buffer {
  if (length > MAX_PAYLOAD) throw new Error(`frame payload of ${length} bytes exceeds ${MAX_PAYLOAD}`);
  const h = Buffer.allocUnsafe(HEADER_LEN);
  h[0] = CHECK0;
  h[1] = CHECK1;
  h[2] = type;
  h[3] = flags;
  h.writeUInt32BE(stream >>> 0, 4);
  h.writeUInt32BE(length, 8);
  return h;
}

export function encodeFrame(type: number, stream: number, payload: Buffer = EMPTY, flags = 0): Buffer {
  const h = encodeHeader(type, stream, payload.length, flags);
  return payload.length === 0 ? h : Buffer.concat([h, payload]);
}

export function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** Why a header is not one (wrong check bytes, unknown type, oversized), or null when it is. */
export function badHeader(b: Buffer, off: number): string | null {
  if (b[off] !== CHECK0 || b[off + 1] !== CHECK1) return 'bad check bytes';
  const type = b[off + 2]!;
  if (type < 1 || type > MAX_TYPE) return `unknown frame type ${type}`;
  const len = b.readUInt32BE(off + 8);
  if (len > MAX_PAYLOAD) return `frame length ${len} over ${MAX_PAYLOAD}`;
  return null;
}

export interface DecoderSink {
  /** afterMarker: this frame directly followed a sync marker (only a HELLO there starts a session). */
  frame(f: Frame, afterMarker: boolean): void;
  /** A bad header; the decoder has already gone back to scanning for the marker. */
  bad(reason: string): void;
}

/**
 * Incremental: chunks may split or merge frames anywhere. Starts out scanning, because everything before the peer's
 * marker is a previous session's leftovers.
 */
export class FrameDecoder {
  /** bytes not decoded yet: the start of a frame (or of a marker) */
  private rest: Buffer[] = [];
  private restLen = 0;
  /** bytes the frame at the head of rest needs in all; pushes below it are only queued, not copied together */
  private need = 0;
  private scanning = true;
  private afterMarker = false;

  constructor(private readonly sink: DecoderSink) {}

  /** Drop everything up to the next sync marker. */
  scan(): void {
    this.scanning = true;
    this.afterMarker = false;
    this.need = 0;
  }

  get isScanning(): boolean {
    return this.scanning;
  }

  push(chunk: Buffer): void {
    if (this.restLen > 0 && this.restLen + chunk.length < this.need) {
      this.rest.push(chunk);
      this.restLen += chunk.length;
      return;
    }
    const buf = this.restLen === 0 ? chunk : Buffer.concat([...this.rest, chunk]);
    let off = 0;
    for (;;) {
      if (this.scanning) {
        const i = buf.indexOf(SYNC_MARKER, off);
        if (i < 0) {
          // the marker may straddle this chunk and the next
          off = Math.max(off, buf.length - (SYNC_MARKER.length - 1));
          break;
        }
        off = i + SYNC_MARKER.length;
        this.scanning = false;
        this.afterMarker = true;
        continue;
      }
      if (buf.length - off < HEADER_LEN) break;
      const bad = badHeader(buf, off);
      if (bad) {
        this.scan();
        this.sink.bad(bad);
        continue;
      }
      const len = buf.readUInt32BE(off + 8);
      if (buf.length - off < HEADER_LEN + len) break;
      const f: Frame = {
        type: buf[off + 2]!,
        flags: buf[off + 3]!,
        stream: buf.readUInt32BE(off + 4),
        payload: buf.subarray(off + HEADER_LEN, off + HEADER_LEN + len),
      };
      off += HEADER_LEN + len;
      const am = this.afterMarker;
      this.afterMarker = false;
      this.sink.frame(f, am);
    }
    const left = buf.length - off;
    // a small remainder is copied so it does not pin a large chunk
    this.rest = left === 0 ? [] : [left < 4096 ? Buffer.from(buf.subarray(off)) : buf.subarray(off)];
    this.restLen = left;
    this.need = !this.scanning && left >= HEADER_LEN ? HEADER_LEN + buf.readUInt32BE(off + 8) : 0;
  }
}

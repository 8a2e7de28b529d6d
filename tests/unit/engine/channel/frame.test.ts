// The guest channel's framing (docs/guest-channel.md, Framing): the bytes on the wire, frames split or merged at any
// point, the sync-marker scan past junk, and bad headers sending the decoder back to scanning.
import { describe, expect, it } from 'vitest';
import { FrameDecoder, SYNC_MARKER, T, encodeFrame, encodeHeader } from '../../../../electron/engine/channel/frame.js';
import type { Frame } from '../../../../electron/engine/channel/frame.js';

function collect() {
  const frames: { type: number; flags: number; stream: number; payload: string; afterMarker: boolean }[] = [];
  const bad: string[] = [];
  const dec = new FrameDecoder({
    frame: (f: Frame, afterMarker) => frames.push({ type: f.type, flags: f.flags, stream: f.stream, payload: f.payload.toString('latin1'), afterMarker }),
    bad: (r) => bad.push(r),
  });
  return { dec, frames, bad };
}

describe('frame encoding', () => {
  it('writes check bytes, type, flags, stream id and length big-endian before the payload', () => {
    const b = encodeFrame(T.DATA, 0x01020304, Buffer.from('hi'), 1);
    expect([...b]).toEqual([0xb3, 0x27, 5, 1, 1, 2, 3, 4, 0, 0, 0, 2, 0x68, 0x69]);
  });

  it('is the 16-byte marker the spec names', () => {
    expect(SYNC_MARKER.length).toBe(16);
    expect(SYNC_MARKER.toString('latin1')).toBe('BERTH-SYNC-v1\r\n\0');
  });

  it('refuses a payload over 65536 bytes', () => {
    expect(() => encodeHeader(T.DATA, 1, 65537)).toThrow(/65536/);
    expect(encodeHeader(T.DATA, 1, 65536).readUInt32BE(8)).toBe(65536);
  });
});

describe('frame decoding', () => {
  const big = Buffer.alloc(65536, 0x61);
  const wire = Buffer.concat([
    Buffer.from('leftovers of an old session'),
    SYNC_MARKER,
    encodeFrame(T.HELLO, 0, Buffer.from('nonce123{}')),
    encodeFrame(T.DATA, 7, Buffer.from('abc'), 1),
    encodeFrame(T.EOF, 7),
    encodeFrame(T.DATA, 9, big),
  ]);
  const expected = [
    { type: T.HELLO, flags: 0, stream: 0, payload: 'nonce123{}', afterMarker: true },
    { type: T.DATA, flags: 1, stream: 7, payload: 'abc', afterMarker: false },
    { type: T.EOF, flags: 0, stream: 7, payload: '', afterMarker: false },
    { type: T.DATA, flags: 0, stream: 9, payload: big.toString('latin1'), afterMarker: false },
  ];

  it('skips junk before the marker and decodes the frames after it in one chunk', () => {
    const c = collect();
    c.dec.push(wire);
    expect(c.frames).toEqual(expected);
    expect(c.bad).toEqual([]);
  });

  it('gives the same frames whatever the chunk boundaries (every split point of the small frames, random splits)', () => {
    const small = wire.subarray(0, wire.length - big.length - 12);
    for (let i = 1; i < small.length; i++) {
      const c = collect();
      c.dec.push(small.subarray(0, i));
      c.dec.push(small.subarray(i));
      expect(c.frames).toEqual(expected.slice(0, 3));
    }
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 20; round++) {
      const c = collect();
      let off = 0;
      while (off < wire.length) {
        const n = 1 + Math.floor(rnd() * 9000);
        c.dec.push(wire.subarray(off, off + n));
        off += n;
      }
      expect(c.frames).toEqual(expected);
    }
  });

  it('decodes nothing without the marker, even valid frames', () => {
    const c = collect();
    c.dec.push(encodeFrame(T.DATA, 1, Buffer.from('x')));
    expect(c.frames).toEqual([]);
  });

  it('goes back to scanning on wrong check bytes, an unknown type or an oversized length', () => {
    for (const [hdr, why] of [
      [Buffer.from([0xb3, 0x28, 5, 0, 0, 0, 0, 1, 0, 0, 0, 0]), /check bytes/],
      [Buffer.from([0xb3, 0x27, 13, 0, 0, 0, 0, 1, 0, 0, 0, 0]), /unknown frame type 13/],
      [Buffer.from([0xb3, 0x27, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), /unknown frame type 0/],
      [Buffer.from([0xb3, 0x27, 5, 0, 0, 0, 0, 1, 0, 1, 0, 1]), /over 65536/],
    ] as const) {
      const c = collect();
      c.dec.push(Buffer.concat([SYNC_MARKER, encodeFrame(T.PONG, 0), hdr, encodeFrame(T.DATA, 1, Buffer.from('lost'))]));
      expect(c.bad).toHaveLength(1);
      expect(c.bad[0]).toMatch(why);
      expect(c.frames.map((f) => f.type)).toEqual([T.PONG]);
      expect(c.dec.isScanning).toBe(true);
      // and picks up again at the next marker
      c.dec.push(Buffer.concat([SYNC_MARKER, encodeFrame(T.HELLO, 0, Buffer.from('n'))]));
      expect(c.frames.at(-1)).toMatchObject({ type: T.HELLO, afterMarker: true });
    }
  });

  it('finds a marker split across chunks, byte by byte', () => {
    const c = collect();
    for (const byte of Buffer.concat([Buffer.from('junk'), SYNC_MARKER, encodeFrame(T.PONG, 0, Buffer.from('p'))])) c.dec.push(Buffer.from([byte]));
    expect(c.frames).toEqual([{ type: T.PONG, flags: 0, stream: 0, payload: 'p', afterMarker: true }]);
  });
});

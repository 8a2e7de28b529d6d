// Draws the menu-bar template icons (black + alpha; macOS tints them) into resources/tray/:
// tray<State>Template.png (18×18) and tray<State>Template@2x.png (36×36) for every state.
// A shipping container: hollow when stopped, filled when running; a badge for starting (▶),
// stopping (■) and error (!). No dependencies: shapes are sampled 8×8 per pixel, PNG written by hand.
// Run: node build/tray/make-icons.mjs
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const OUT = path.resolve(import.meta.dirname, '../../resources/tray');
const UNITS = 18;

// ---- shapes in an 18×18 unit square ----
const roundRect = (x0, y0, x1, y1, r) => (x, y) => {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
};
const rect = (x0, y0, x1, y1) => (x, y) => x >= x0 && x <= x1 && y >= y0 && y <= y1;
const disc = (cx, cy, r) => (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
const triangle = (ax, ay, bx, by, cx, cy) => (x, y) => {
  const s = (px, py, qx, qy) => (x - qx) * (py - qy) - (px - qx) * (y - qy);
  const d1 = s(ax, ay, bx, by);
  const d2 = s(bx, by, cx, cy);
  const d3 = s(cx, cy, ax, ay);
  return !((d1 < 0 || d2 < 0 || d3 < 0) && (d1 > 0 || d2 > 0 || d3 > 0));
};

const outer = roundRect(1, 3.5, 17, 14.5, 1.6);
const inner = roundRect(2.6, 5.1, 15.4, 12.9, 0.6);
const ridges = [6.2, 9, 11.8].map((x) => rect(x - 0.6, 6.3, x + 0.6, 11.7));

const BADGE = { cx: 14, cy: 13.6, r: 3.9, gap: 1.1 };
const badgeCut = disc(BADGE.cx, BADGE.cy, BADGE.r + BADGE.gap);
const badgeDisc = disc(BADGE.cx, BADGE.cy, BADGE.r);
const SYMBOLS = {
  starting: triangle(12.8, 11.5, 12.8, 15.7, 16.2, 13.6),
  stopping: rect(12.3, 11.9, 15.7, 15.3),
  error: (x, y) => rect(13.35, 11, 14.65, 14.1)(x, y) || disc(14, 15.45, 0.75)(x, y),
};

/** ops: [mode, shape] applied in order; 'add' paints, 'sub' clears. */
function layers(state) {
  const ops = [];
  if (state === 'running') {
    ops.push(['add', outer]);
    for (const r of ridges) ops.push(['sub', r]);
  } else {
    ops.push(['add', outer], ['sub', inner]);
    for (const r of ridges) ops.push(['add', r]);
  }
  const sym = SYMBOLS[state];
  if (sym) ops.push(['sub', badgeCut], ['add', badgeDisc], ['sub', sym]);
  return ops;
}

function render(state, size) {
  const ops = layers(state);
  const ss = 8;
  const px = Buffer.alloc(size * size * 4);
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      let hit = 0;
      for (let sj = 0; sj < ss; sj++) {
        for (let si = 0; si < ss; si++) {
          const x = ((i + (si + 0.5) / ss) / size) * UNITS;
          const y = ((j + (sj + 0.5) / ss) / size) * UNITS;
          let on = false;
          for (const [mode, shape] of ops) if (shape(x, y)) on = mode === 'add';
          if (on) hit++;
        }
      }
      const o = (j * size + i) * 4;
      px[o + 3] = Math.round((hit / (ss * ss)) * 255);
    }
  }
  return png(size, size, px);
}

// ---- PNG (RGBA, 8 bit) ----
const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}
function png(w, h, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) rgba.copy(raw, y * (w * 4 + 1) + 1, y * w * 4, (y + 1) * w * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export const STATES = ['stopped', 'starting', 'running', 'stopping', 'error'];

fs.mkdirSync(OUT, { recursive: true });
for (const state of STATES) {
  const name = `tray${state[0].toUpperCase()}${state.slice(1)}Template`;
  fs.writeFileSync(path.join(OUT, `${name}.png`), render(state, 18));
  fs.writeFileSync(path.join(OUT, `${name}@2x.png`), render(state, 36));
  console.log(`${name}.png, ${name}@2x.png`);
}

// The DNS wire format (RFC 1035), only as much as a forwarding resolver needs: read one question
// (and the client's EDNS buffer size), write an answer to it. Names are written uncompressed: an
// answer holds a few records for one name, well under what compression would save.

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const CLASS_IN = 1;
/** Without EDNS a UDP answer may not exceed this; longer ones are truncated (TC) and retried over TCP. */
export const UDP_CLASSIC = 512;
/** What this server offers a client that uses EDNS, however large a buffer it announces. */
export const UDP_MAX = 1232;

export interface Question {
  name: string;
  type: number;
  class: number;
}

export interface Query {
  id: number;
  /** recursion desired: echoed in the answer */
  rd: boolean;
  question: Question;
  /** the client's EDNS UDP payload size, when its query carried an OPT record */
  ednsSize?: number;
}

export interface Answer {
  type: number;
  ttl: number;
  data: Buffer;
}

/** Reads a name at `off`, following compression pointers; undefined when it runs off the packet or loops. */
function readName(buf: Buffer, off: number): { name: string; end: number } | undefined {
  const labels: string[] = [];
  let end = -1;
  for (let hops = 0; hops < 128; hops++) {
    if (off >= buf.length) return undefined;
    const len = buf[off]!;
    if (len === 0) return { name: labels.join('.'), end: end < 0 ? off + 1 : end };
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length) return undefined;
      if (end < 0) end = off + 2;
      off = ((len & 0x3f) << 8) | buf[off + 1]!;
      continue;
    }
    if (len > 63 || off + 1 + len > buf.length) return undefined;
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  return undefined;
}

/** Skips one resource record at `off`; its type and end, or undefined when it is cut short. */
function readRecord(buf: Buffer, off: number): { type: number; klass: number; end: number } | undefined {
  const n = readName(buf, off);
  if (!n || n.end + 10 > buf.length) return undefined;
  const type = buf.readUInt16BE(n.end);
  const klass = buf.readUInt16BE(n.end + 2);
  const rdlen = buf.readUInt16BE(n.end + 8);
  const end = n.end + 10 + rdlen;
  return end > buf.length ? undefined : { type, klass, end };
}

/** A standard query with exactly one question, or undefined for anything else (answers, garbage). */
export function parseQuery(buf: Buffer): Query | undefined {
  if (buf.length < 12) return undefined;
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const qr = flags >> 15;
  const opcode = (flags >> 11) & 0xf;
  if (qr !== 0 || opcode !== 0) return undefined;
  if (buf.readUInt16BE(4) !== 1) return undefined;
  const an = buf.readUInt16BE(6);
  const ns = buf.readUInt16BE(8);
  const ar = buf.readUInt16BE(10);
  const n = readName(buf, 12);
  if (!n || n.end + 4 > buf.length) return undefined;
  const question = { name: n.name, type: buf.readUInt16BE(n.end), class: buf.readUInt16BE(n.end + 2) };
  const q: Query = { id, rd: (flags & 0x0100) !== 0, question };
  let off = n.end + 4;
  for (let i = 0; i < an + ns + ar; i++) {
    const r = readRecord(buf, off);
    if (!r) return undefined;
    // An OPT record's class field is the sender's UDP payload size.
    if (r.type === TYPE.OPT && i >= an + ns) q.ednsSize = Math.max(UDP_CLASSIC, r.klass);
    off = r.end;
  }
  return q;
}

export function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.split('.').filter(Boolean)) {
    const b = Buffer.from(label, 'latin1');
    parts.push(Buffer.from([Math.min(b.length, 63)]), b.subarray(0, 63));
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function header(id: number, flags: number, counts: [number, number, number, number]): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + i * 2));
  return h;
}

function questionBytes(q: Question): Buffer {
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(q.type, 0);
  tail.writeUInt16BE(q.class, 2);
  return Buffer.concat([encodeName(q.name), tail]);
}

function optRecord(size: number): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(TYPE.OPT, 1);
  b.writeUInt16BE(size, 3);
  return b;
}

/**
 * The answer to `q`. Over UDP (`maxSize` set) an answer too large for the client's buffer keeps
 * only its question and says TC, so the client asks again over TCP.
 */
export function buildResponse(q: Query, rcode: number, answers: Answer[] = [], maxSize?: number): Buffer {
  const qb = questionBytes(q.question);
  const opt = q.ednsSize !== undefined ? optRecord(UDP_MAX) : Buffer.alloc(0);
  const rr = answers.map((a) => {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(a.type, 0);
    fixed.writeUInt16BE(CLASS_IN, 2);
    fixed.writeUInt32BE(a.ttl, 4);
    fixed.writeUInt16BE(a.data.length, 8);
    return Buffer.concat([encodeName(q.question.name), fixed, a.data]);
  });
  // QR, RA, the client's RD; opcode 0.
  const flags = 0x8080 | (q.rd ? 0x0100 : 0) | (rcode & 0xf);
  const ar = opt.length ? 1 : 0;
  const full = Buffer.concat([header(q.id, flags, [1, rr.length, 0, ar]), qb, ...rr, opt]);
  if (maxSize === undefined || full.length <= maxSize) return full;
  return Buffer.concat([header(q.id, flags | 0x0200, [1, 0, 0, ar]), qb, opt]);
}

/** A query, as a client sends it (for forwarding upstream and for tests). */
export function buildQuery(id: number, name: string, type: number, opts: { rd?: boolean; ednsSize?: number } = {}): Buffer {
  const flags = opts.rd === false ? 0 : 0x0100;
  const opt = opts.ednsSize ? optRecord(opts.ednsSize) : Buffer.alloc(0);
  return Buffer.concat([header(id, flags, [1, 0, 0, opt.length ? 1 : 0]), questionBytes({ name, type, class: CLASS_IN }), opt]);
}

/** The largest UDP answer this client can take. */
export function udpLimit(q: Query): number {
  return q.ednsSize === undefined ? UDP_CLASSIC : Math.min(q.ednsSize, UDP_MAX);
}

/** The response's rcode and whether it was truncated (TC). */
export function responseFlags(buf: Buffer): { rcode: number; tc: boolean; id: number } | undefined {
  if (buf.length < 12) return undefined;
  const flags = buf.readUInt16BE(2);
  return { id: buf.readUInt16BE(0), rcode: flags & 0xf, tc: (flags & 0x0200) !== 0 };
}

/** An IPv4 or IPv6 address as A/AAAA record data. */
export function addressData(address: string, family: 4 | 6): Buffer {
  if (family === 4) return Buffer.from(address.split('.').map(Number));
  const [head = '', tail = ''] = address.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  // An IPv4 tail (::ffff:1.2.3.4) is two groups.
  const expand = (g: string[]) =>
    g.flatMap((x) => {
      if (!x.includes('.')) return [x];
      const [a = 0, b = 0, c = 0, d = 0] = x.split('.').map(Number);
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    });
  const h = expand(groups(head));
  const t = expand(groups(tail));
  const all = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  all.slice(0, 8).forEach((g, i) => out.writeUInt16BE(parseInt(g, 16) || 0, i * 2));
  return out;
}

// The DNS wire codec: what a query holds, and the answers written for it.
import { describe, expect, it } from 'vitest';
import { RCODE, TYPE, UDP_MAX, addressData, buildQuery, buildResponse, parseQuery, responseFlags, udpLimit } from '../../../electron/engine/dns/packet.js';

describe('DNS packets', () => {
  it('reads the question, RD and the EDNS buffer size of a query', () => {
    const q = parseQuery(buildQuery(0x1234, 'Example.test', TYPE.AAAA, { ednsSize: 4096 }))!;
    expect(q).toEqual({ id: 0x1234, rd: true, question: { name: 'Example.test', type: TYPE.AAAA, class: 1 }, ednsSize: 4096 });
    expect(udpLimit(q)).toBe(UDP_MAX);
    expect(udpLimit(parseQuery(buildQuery(1, 'a.test', TYPE.A))!)).toBe(512);
  });

  it('refuses answers, other opcodes, cut-off packets and pointer loops', () => {
    const q = buildQuery(1, 'a.test', TYPE.A);
    expect(parseQuery(buildResponse(parseQuery(q)!, RCODE.NOERROR))).toBeUndefined();
    const notify = Buffer.from(q);
    notify[2] = 0x20; // opcode 4
    expect(parseQuery(notify)).toBeUndefined();
    for (let n = 0; n < q.length; n++) expect(parseQuery(q.subarray(0, n)), `first ${n} bytes`).toBeUndefined();
    const loop = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]);
    expect(parseQuery(loop)).toBeUndefined();
  });

  it('writes an answer: the question echoed, the records, the rcode, RA, and OPT when the client used EDNS', () => {
    const q = parseQuery(buildQuery(9, 'h.test', TYPE.A, { ednsSize: 1400 }))!;
    const res = buildResponse(q, RCODE.NOERROR, [{ type: TYPE.A, ttl: 5, data: addressData('10.0.2.2', 4) }]);
    expect(responseFlags(res)).toEqual({ id: 9, rcode: 0, tc: false });
    expect(res.readUInt16BE(2) & 0x8180).toBe(0x8180);
    expect([res.readUInt16BE(4), res.readUInt16BE(6), res.readUInt16BE(8), res.readUInt16BE(10)]).toEqual([1, 1, 0, 1]);
    expect(res.includes(Buffer.from([10, 0, 2, 2]))).toBe(true);
  });

  it('truncates with TC, keeping the question, when the answer exceeds the limit', () => {
    const q = parseQuery(buildQuery(2, 'many.test', TYPE.A))!;
    const answers = Array.from({ length: 40 }, (_, i) => ({ type: TYPE.A, ttl: 5, data: addressData(`192.0.2.${i}`, 4) }));
    const res = buildResponse(q, RCODE.NOERROR, answers, 512);
    expect(responseFlags(res)!.tc).toBe(true);
    expect(res.readUInt16BE(6)).toBe(0);
    expect(buildResponse(q, RCODE.NOERROR, answers).length).toBeGreaterThan(512);
  });

  it('IPv6 addresses in every spelling', () => {
    expect(addressData('2001:db8::7', 6).toString('hex')).toBe('20010db8000000000000000000000007');
    expect(addressData('::1', 6).toString('hex')).toBe('00000000000000000000000000000001');
    expect(addressData('fe80::', 6).toString('hex')).toBe('fe800000000000000000000000000000');
    expect(addressData('::ffff:192.0.2.1', 6).toString('hex')).toBe('00000000000000000000ffffc0000201');
    expect(addressData('1:2:3:4:5:6:7:8', 6).toString('hex')).toBe('00010002000300040005000600070008');
  });
});

// device/src/card/atr.ts (ATR length while it arrives, parse, T=1 parameters) and
// device/src/card/errors.ts (status words → the link's error codes). Neither touches an
// Espruino global, so they run directly under Node here; the whole stack runs in the
// emulator in card-stack.test.ts.

import { buildAtr, DEFAULT_ATR_PARAMS, parseAtr as boardParseAtr, t1Timings } from '../../board/card/atr';
import { atrLength, isAtrError, parseAtr, t1Parameters, Atr } from '../../device/src/card/atr';
import { hex4, swError } from '../../device/src/card/errors';
import { ErrorCode } from '../../protocol/src/messages';

const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const OSEID = fromHex('3B D5 96 02 80 71 FE 65 01 4F 73 45 49 44 5E');

describe('ATR', () => {
  test('the emulated card’s ATR: T=1, IFSC 32, BWI 4, CWI 5, LRC, "SEMPER"; timings as the card computes them', () => {
    const atr = buildAtr();
    const a = parseAtr(atr) as Atr;
    expect(isAtrError(a)).toBe(false);
    expect(a).toMatchObject({ ts: 0x3b, protocols: [1], ifsc: 32, bwi: 4, cwi: 5, edc: 'LRC', hasTck: true, ta1: -1, ta2: -1 });
    expect(Buffer.from(a.historical).toString('ascii')).toBe('SEMPER');
    const p = t1Parameters(a, 3571200);
    expect(isAtrError(p)).toBe(false);
    const t = t1Timings(DEFAULT_ATR_PARAMS, 3571200);
    expect(p).toMatchObject({ ifsc: 32, edc: 'LRC' });
    if (!isAtrError(p)) {
      expect(p.bwtMs).toBeCloseTo(t.bwtMs, 9);
      expect(p.cwtMs).toBeCloseTo(t.cwtMs, 9);
      expect(p.etuMs).toBeCloseTo(t.etuMs, 12);
    }
  });

  test('atrLength grows as the interface bytes arrive', () => {
    const atr = buildAtr();
    for (let n = 0; n < atr.length; n++) {
      const want = atrLength(atr.subarray(0, n));
      expect(want).toBeGreaterThan(n);
      expect(want).toBeLessThanOrEqual(atr.length);
    }
    expect(atrLength(atr)).toBe(atr.length);
    expect(atrLength(OSEID)).toBe(OSEID.length);
    expect(atrLength([0x3b, 0x00])).toBe(2); // no interface bytes, no TCK
    expect(atrLength([0x12])).toBe(-1);
  });

  test('an ATR with TA1/TC1, T=0 first and T=1 with CRC (OsEID): parsed; not usable without PPS', () => {
    const a = parseAtr(OSEID) as Atr;
    expect(a).toMatchObject({ protocols: [0, 1], ta1: 0x96, tc1: 0x02, ifsc: 0xfe, bwi: 6, cwi: 5, edc: 'CRC' });
    expect(Buffer.from(a.historical).toString('ascii')).toBe('OsEID');
    expect(boardParseAtr(OSEID)).toMatchObject({ ifsc: 0xfe, bwi: 6, cwi: 5, edc: 'CRC', protocols: [0, 1] });
    expect(t1Parameters(a, 3.5e6)).toMatchObject({ kind: 'atr', reason: 'UNSUPPORTED' });
  });

  test('typed errors', () => {
    const atr = buildAtr();
    const badTck = Uint8Array.from(atr);
    badTck[badTck.length - 1] ^= 1;
    expect(parseAtr(badTck)).toMatchObject({ kind: 'atr', reason: 'TCK' });
    expect(parseAtr(fromHex('3A 00'))).toMatchObject({ reason: 'TS' });
    expect(parseAtr(atr.subarray(0, 5))).toMatchObject({ reason: 'TRUNCATED' });
    expect(parseAtr(Uint8Array.from([...atr, 0]))).toMatchObject({ reason: 'TOO_LONG' });
    expect(parseAtr(fromHex('3B'))).toMatchObject({ reason: 'TRUNCATED' });
    // T=0 only
    const t0 = parseAtr(fromHex('3B 00')) as Atr;
    expect(t1Parameters(t0, 3.5e6)).toMatchObject({ reason: 'NO_T1' });
    // specific mode (TA2): T=1 at Fi/Di 372/1 only
    const withTck = (h: string): Uint8Array => {
      const b = Uint8Array.from([...fromHex(h), 0]);
      b[b.length - 1] = b.subarray(1, b.length - 1).reduce((x, y) => x ^ y, 0);
      return b;
    };
    expect(parseAtr(fromHex('3B 90 18 11 01'))).toMatchObject({ reason: 'TRUNCATED' }); // T=1 needs TCK
    const fast = parseAtr(withTck('3B 90 18 11 01')) as Atr; // TA1 18 (Fi 372, Di 12), TA2 01: T=1 specific
    expect(fast).toMatchObject({ ta1: 0x18, ta2: 0x01, protocols: [1] });
    expect(t1Parameters(fast, 3.5e6)).toMatchObject({ reason: 'UNSUPPORTED' });
    expect(t1Parameters(parseAtr(withTck('3B 90 11 11 01')) as Atr, 3.5e6)).toMatchObject({ ifsc: 32, edc: 'LRC' });
    expect(t1Parameters(parseAtr(withTck('3B 90 11 11 11')) as Atr, 3.5e6)).toMatchObject({ reason: 'UNSUPPORTED' }); // implicit Fi/Di
    expect(t1Parameters(parseAtr(withTck('3B 80 11 00')) as Atr, 3.5e6)).toMatchObject({ reason: 'UNSUPPORTED' }); // TD1 11: TA2 00 → T=0 specific
    const a = parseAtr(buildAtr({ ...DEFAULT_ATR_PARAMS, bwi: 10 })) as Atr;
    expect(t1Parameters(a, 3.5e6)).toMatchObject({ reason: 'UNSUPPORTED' });
  });
});

describe('status words → ErrorCode', () => {
  test.each([
    [0x63c2, ErrorCode.PIN_FAILED, 2],
    [0x63c1, ErrorCode.PIN_FAILED, 1],
    [0x63c0, ErrorCode.PIN_BLOCKED, 0],
    [0x6983, ErrorCode.PIN_BLOCKED, undefined],
    [0x6982, ErrorCode.NOT_VERIFIED, undefined],
    [0x6a84, ErrorCode.INSUFFICIENT_FUNDS, undefined],
    [0x9401, ErrorCode.CURRENCY, undefined],
    [0x9402, ErrorCode.LIMIT, undefined],
    [0x9403, ErrorCode.REPLAYED, undefined],
    [0x9404, ErrorCode.VERIFY_FAILED, undefined],
    [0x9405, ErrorCode.VERIFY_FAILED, undefined],
    [0x6300, ErrorCode.VERIFY_FAILED, undefined],
    [0x6a88, ErrorCode.CARD_ERROR, undefined],
    [0x6d00, ErrorCode.CARD_ERROR, undefined],
    [0x6f00, ErrorCode.CARD_ERROR, undefined],
  ])('%s', (sw, code, tries) => {
    const e = swError(sw);
    expect(e).toMatchObject({ code, sw });
    expect(e.triesLeft).toBe(tries);
    // no English on the card stack's errors: the status word travels as the reason (ERROR's path)
    expect(e.reason).toBe('SW:' + hex4(sw));
  });

  test('hex4', () => {
    expect(hex4(0x6a84)).toBe('6A84');
    expect(hex4(0x0900)).toBe('0900');
  });
});

// The Answer-to-Reset (ISO/IEC 7816-3 §8) of the emulated card: T=1 only, LRC, IFSC 32.
//
//  byte  value  meaning
//  TS    3B     direct convention
//  T0    86     Y1 = 8 (only TD1 follows), K = 6 historical bytes
//  TD1   81     Y2 = 8 (only TD2 follows), T = 1
//  TD2   71     Y3 = 7 (TA3, TB3, TC3 follow), T = 1 (so these are T=1 specific bytes)
//  TA3   20     IFSC = 32 bytes
//  TB3   45     BWI = 4 (BWT = 2^4 × 960 etu + 11 etu), CWI = 5 (CWT = 2^5 + 11 = 43 etu)
//  TC3   00     EDC = LRC (bit 1 = 0)
//  T1…T6 53 45 4D 50 45 52   historical bytes: "SEMPER" in ASCII
//  TCK   xx     XOR of T0 … T6 (present because T=1 is offered)
// No TA1/TB1/TC1: Fi = 372, Di = 1, N = 0 (defaults); no TA2: negotiable mode (PPS allowed).

export interface AtrParams {
  ifsc: number;
  bwi: number;
  cwi: number;
  historical: Uint8Array;
}

export const DEFAULT_ATR_PARAMS: AtrParams = {
  ifsc: 0x20,
  bwi: 4,
  cwi: 5,
  historical: Uint8Array.from(Buffer.from('SEMPER', 'ascii')),
};

export function buildAtr(p: AtrParams = DEFAULT_ATR_PARAMS): Uint8Array {
  if (p.historical.length > 15) throw new RangeError('at most 15 historical bytes');
  const body = [0x80 | p.historical.length, 0x81, 0x71, p.ifsc, (p.bwi << 4) | p.cwi, 0x00, ...p.historical];
  let tck = 0;
  for (const b of body) tck ^= b;
  return Uint8Array.from([0x3b, ...body, tck]);
}

export interface ParsedAtr {
  protocols: number[];
  ifsc: number;
  bwi: number;
  cwi: number;
  edc: 'LRC' | 'CRC';
  historical: Uint8Array;
  tckOk: boolean;
}

/** A general ATR parser (interface bytes of any number of TDi groups; T=1 parameters from the first T=1 group after TD2). */
export function parseAtr(a: Uint8Array): ParsedAtr {
  if (a.length < 2 || (a[0] !== 0x3b && a[0] !== 0x3f)) throw new Error('bad TS');
  let i = 1;
  const t0 = a[i++];
  const k = t0 & 0x0f;
  let y = t0 >> 4;
  let group = 1;
  const protocols: number[] = [];
  const res = { ifsc: 32, bwi: 4, cwi: 13, edc: 'LRC' as 'LRC' | 'CRC' };
  for (;;) {
    const ta = y & 1 ? a[i++] : undefined;
    const tb = y & 2 ? a[i++] : undefined;
    const tc = y & 4 ? a[i++] : undefined;
    const td = y & 8 ? a[i++] : undefined;
    if (group >= 3 && protocols[protocols.length - 1] === 1) {
      if (ta !== undefined) res.ifsc = ta;
      if (tb !== undefined) {
        res.bwi = tb >> 4;
        res.cwi = tb & 0x0f;
      }
      if (tc !== undefined) res.edc = tc & 1 ? 'CRC' : 'LRC';
    }
    if (td === undefined) break;
    protocols.push(td & 0x0f);
    y = td >> 4;
    group++;
    if (i > a.length) throw new Error('ATR truncated');
  }
  const historical = a.slice(i, i + k);
  i += k;
  const needTck = protocols.some((p) => p !== 0);
  let tckOk = true;
  if (needTck) {
    if (i >= a.length) throw new Error('ATR missing TCK');
    let x = 0;
    for (let j = 1; j <= i; j++) x ^= a[j];
    tckOk = x === 0;
    i++;
  }
  if (i !== a.length) throw new Error('ATR has trailing bytes');
  return { protocols, ...res, historical, tckOk };
}

/** BWT and CWT in ms for a clock of `fHz` (Fi = 372, Di = 1: 1 etu = 372 / f). */
export function t1Timings(p: { bwi: number; cwi: number }, fHz = 3_571_200): { etuMs: number; bwtMs: number; cwtMs: number } {
  const etuMs = (372 / fHz) * 1000;
  return { etuMs, bwtMs: 11 * etuMs + 2 ** p.bwi * 960 * etuMs, cwtMs: (11 + 2 ** p.cwi) * etuMs };
}

// The Answer-to-Reset (ISO/IEC 7816-3 §8): how long it is while it arrives, its parse, and
// the T=1 parameters the terminal uses from it. Espruino-safe (no slice on typed arrays).

import { copyBytes } from '../../../protocol/src/cbor';
import { DEFAULT_IFS, Edc } from '../../../protocol/src/t1-block';

export interface Atr {
  /** 0x3B direct, 0x3F inverse convention. */
  ts: number;
  /** Protocols offered in TD1, TD2, … (in order, repeats removed: e.g. [1]). */
  protocols: number[];
  /** TA1 (Fi/Di), TB1/TC1 (TC1 = N, extra guard time), TA2 (specific mode); -1 when absent. */
  ta1: number;
  tc1: number;
  ta2: number;
  /** T=1 parameters from the first TA/TB/TC of a T=1 group after TD2 (ISO defaults otherwise). */
  ifsc: number;
  bwi: number;
  cwi: number;
  edc: Edc;
  historical: Uint8Array;
  /** Whether TCK was present (it must be when a protocol other than T=0 is offered). */
  hasTck: boolean;
}

export type AtrFailure = 'TS' | 'TRUNCATED' | 'TOO_LONG' | 'TCK' | 'NO_T1' | 'UNSUPPORTED';

/** A typed ATR error: `reason` says which check failed. */
export interface AtrError {
  kind: 'atr';
  reason: AtrFailure;
}

/** ISO 7816-3 §8.2.1: at most 32 characters after TS. */
export const MAX_ATR = 33;

function atrError(reason: AtrFailure): AtrError {
  return { kind: 'atr', reason: reason };
}

/**
 * While the ATR arrives: the total length as far as the bytes so far tell (at least
 * `bytes.length + 1` while more interface bytes are announced), or -1 when TS is invalid.
 * TCK is counted once a TDi offers a protocol other than T=0.
 */
export function atrLength(bytes: Uint8Array | number[]): number {
  const n = bytes.length;
  if (n === 0) return 1;
  if (bytes[0] !== 0x3b && bytes[0] !== 0x3f) return -1;
  if (n === 1) return 2;
  const t0 = bytes[1];
  const k = t0 & 0x0f;
  let y = t0 >> 4;
  let i = 2;
  let tck = 0;
  for (;;) {
    const count = (y & 1) + ((y >> 1) & 1) + ((y >> 2) & 1) + ((y >> 3) & 1);
    if ((y & 8) === 0) {
      i += count;
      break;
    }
    const tdAt = i + count - 1;
    if (tdAt >= n) return tdAt + 1; // TDi not in yet
    const td = bytes[tdAt];
    if ((td & 0x0f) !== 0) tck = 1;
    y = td >> 4;
    i = tdAt + 1;
  }
  return i + k + tck;
}

/** Parses a complete ATR; returns the ATR or a typed error. */
export function parseAtr(a: Uint8Array): Atr | AtrError {
  if (a.length < 2) return atrError('TRUNCATED');
  if (a[0] !== 0x3b && a[0] !== 0x3f) return atrError('TS');
  if (a.length > MAX_ATR) return atrError('TOO_LONG');
  const want = atrLength(a);
  if (want > a.length) return atrError('TRUNCATED');
  if (want < a.length) return atrError('TOO_LONG');
  const t0 = a[1];
  const k = t0 & 0x0f;
  let y = t0 >> 4;
  let i = 2;
  let group = 1;
  const protocols: number[] = [];
  let lastT = 0;
  const out: Atr = {
    ts: a[0],
    protocols: protocols,
    ta1: -1,
    tc1: -1,
    ta2: -1,
    ifsc: DEFAULT_IFS,
    bwi: 4,
    cwi: 13,
    edc: 'LRC',
    historical: new Uint8Array(0),
    hasTck: false,
  };
  let t1ta = false;
  let t1tb = false;
  let t1tc = false;
  for (;;) {
    const ta = y & 1 ? a[i++] : -1;
    const tb = y & 2 ? a[i++] : -1;
    const tc = y & 4 ? a[i++] : -1;
    const td = y & 8 ? a[i++] : -1;
    if (group === 1) {
      out.ta1 = ta;
      out.tc1 = tc;
    } else if (group === 2) {
      out.ta2 = ta;
    } else if (lastT === 1) {
      // the first TA/TB/TC of a T=1 group (i ≥ 3) are IFSC, BWI/CWI and the EDC
      if (ta >= 0 && !t1ta) {
        out.ifsc = ta;
        t1ta = true;
      }
      if (tb >= 0 && !t1tb) {
        out.bwi = tb >> 4;
        out.cwi = tb & 0x0f;
        t1tb = true;
      }
      if (tc >= 0 && !t1tc) {
        out.edc = tc & 1 ? 'CRC' : 'LRC';
        t1tc = true;
      }
    }
    if (td < 0) break;
    lastT = td & 0x0f;
    if (protocols.indexOf(lastT) < 0) protocols.push(lastT);
    y = td >> 4;
    group++;
  }
  out.historical = copyBytes(a, i, i + k);
  i += k;
  let needTck = false;
  for (let j = 0; j < protocols.length; j++) if (protocols[j] !== 0) needTck = true;
  if (needTck) {
    let x = 0;
    for (let j = 1; j <= i; j++) x ^= a[j];
    if (x !== 0) return atrError('TCK');
    out.hasTck = true;
  }
  return out;
}

export function isAtrError<T>(x: T | AtrError): x is AtrError {
  return (x as AtrError).kind === 'atr';
}

/** What the terminal uses for T=1 with this card. */
export interface T1Parameters {
  ifsc: number;
  edc: Edc;
  bwi: number;
  cwi: number;
  /** 1 etu in ms (F = 372, D = 1 at the reader's clock). */
  etuMs: number;
  /** Block waiting time: 11 etu + 2^BWI × 960 × 372 / f. */
  bwtMs: number;
  /** Character waiting time: (11 + 2^CWI) etu. */
  cwtMs: number;
}

/**
 * Chooses the T=1 parameters. The reader runs at the default Fi/Di (372/1) and never sends a
 * PPS: a card in negotiable mode (no TA2) then starts with its first offered protocol, which
 * must be T=1; a card in specific mode (TA2) must be in T=1 at Fi/Di 372/1 (TA1 absent or 11).
 */
export function t1Parameters(atr: Atr, clockHz: number): T1Parameters | AtrError {
  if (atr.protocols.indexOf(1) < 0) return atrError('NO_T1');
  if (atr.ta2 >= 0) {
    if ((atr.ta2 & 0x0f) !== 1) return atrError('UNSUPPORTED');
    if ((atr.ta2 & 0x10) !== 0) return atrError('UNSUPPORTED');
    if (atr.ta1 >= 0 && atr.ta1 !== 0x11) return atrError('UNSUPPORTED');
  } else if (atr.protocols[0] !== 1) {
    return atrError('UNSUPPORTED');
  }
  if (atr.ifsc < 1 || atr.ifsc > 254) return atrError('UNSUPPORTED');
  if (atr.bwi > 9) return atrError('UNSUPPORTED');
  const etuMs = (372 * 1000) / clockHz;
  return {
    ifsc: atr.ifsc,
    edc: atr.edc,
    bwi: atr.bwi,
    cwi: atr.cwi,
    etuMs: etuMs,
    bwtMs: 11 * etuMs + (1 << atr.bwi) * 960 * etuMs,
    cwtMs: (11 + (1 << atr.cwi)) * etuMs,
  };
}

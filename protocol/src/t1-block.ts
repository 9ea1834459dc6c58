// ISO/IEC 7816-3 §11.3: the T=1 block and its error detection code — the ONE block codec
// for both ends (the firmware's terminal in device/src/card/t1.ts; the emulated card can use
// it too). Espruino-safe: no Node APIs, no default parameters, no destructuring, and never
// Uint8Array.prototype.slice (a plain Array on Espruino) — bytes are copied with copyBytes.
//
// Block = NAD PCB LEN INF EDC.
//   NAD  0 DAD(3) 0 SAD(3); b8/b4 (VPP control, obsolete) are ignored on reception
//   PCB  I-block 0 N(S) M 00000            (b7 = send sequence number, b6 = more data)
//        R-block 1 0 0 N(R) 00 ee          (ee: 00 ok, 01 EDC/parity error, 10 other error)
//        S-block 1 1 r 000 tt              (r: 1 = response; tt: 00 RESYNCH, 01 IFS, 10 ABORT, 11 WTX)
//   LEN  0..254 (FF reserved), not above the receiver's IFS
//   EDC  LRC (1 byte, XOR of NAD..INF) or CRC (2 bytes, high byte first), from TCi for T=1

import { copyBytes } from './cbor';
import { WORDED } from './wording';

export const NAD_DEFAULT = 0x00;
/** Largest INF: an IFS is 1..254 (ISO 7816-3 §11.4.2). */
export const MAX_INF = 254;
/** IFSC/IFSD until the ATR or an S(IFS) exchange says otherwise. */
export const DEFAULT_IFS = 32;

export const PCB_S_BIT = 0x80; // b8: R- or S-block
export const PCB_I_NS = 0x40; // I-block b7: N(S)
export const PCB_I_MORE = 0x20; // I-block b6: M, more data follows
export const PCB_R = 0x80;
export const PCB_R_NR = 0x10; // R-block b5: N(R)
export const PCB_S = 0xc0;
export const PCB_S_RESPONSE = 0x20; // S-block b6

/** S-block types (PCB b2..b1). */
export const S_RESYNCH = 0;
export const S_IFS = 1;
export const S_ABORT = 2;
export const S_WTX = 3;
export type SBlockType = 0 | 1 | 2 | 3;

/** R-block error bits: 0 no error, 1 EDC or parity error, 2 other error. */
export type RError = 0 | 1 | 2;

/** Error detection code: LRC (1 byte) or CRC (2 bytes), from bit 1 of the first TCi for T=1. */
export type Edc = 'LRC' | 'CRC';

export interface IBlock {
  kind: 'I';
  nad: number;
  ns: number;
  more: boolean;
  inf: Uint8Array;
}
export interface RBlock {
  kind: 'R';
  nad: number;
  nr: number;
  error: RError;
}
export interface SBlock {
  kind: 'S';
  nad: number;
  response: boolean;
  type: SBlockType;
  inf: Uint8Array;
}
export type T1Block = IBlock | RBlock | SBlock;

/**
 * Why a received block is invalid. `invalid` is the class the R-block reports ('edc' → error
 * bit 01, 'format' → 10); `detail` says what exactly: 'edc', 'short' (fewer bytes than LEN
 * announces, or no EDC), 'long' (more bytes than LEN announces), 'len-ff' (reserved LEN),
 * 'len-ifs' (LEN above the receiver's IFS), 'pcb' (an undefined PCB), 's-inf' (an S-block
 * with the wrong INF length, or an IFS outside 1..254).
 */
export interface T1Invalid {
  kind: 'invalid';
  invalid: 'edc' | 'format';
  detail: 'edc' | 'short' | 'long' | 'len-ff' | 'len-ifs' | 'pcb' | 's-inf';
}
export type T1Parsed = T1Block | T1Invalid;

export function edcLength(edc: Edc): number {
  return edc === 'CRC' ? 2 : 1;
}

/** LRC: XOR of bytes[start .. end). */
export function lrc(bytes: Uint8Array | number[], start?: number, end?: number): number {
  const e = end === undefined ? bytes.length : end;
  let x = 0;
  for (let i = start === undefined ? 0 : start; i < e; i++) x ^= bytes[i];
  return x & 0xff;
}

/**
 * The T=1 CRC as the PC/SC CCID driver computes it (and board/card/t1.ts): x^16 + x^12 + x^5 + 1
 * processed LSB first (0x8408), initial value FFFF, no final XOR (CRC-16/MCRF4XX, check value
 * 6F91 for "123456789"); the block carries it high byte first.
 */
export function crc16(bytes: Uint8Array | number[], start?: number, end?: number): number {
  const e = end === undefined ? bytes.length : end;
  let c = 0xffff;
  for (let i = start === undefined ? 0 : start; i < e; i++) {
    c ^= bytes[i] & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1;
  }
  return c;
}

/** Writes the EDC of bytes[0 .. end) at bytes[end ..]. */
function putEdc(bytes: Uint8Array, end: number, edc: Edc): void {
  if (edc === 'CRC') {
    const c = crc16(bytes, 0, end);
    bytes[end] = c >> 8;
    bytes[end + 1] = c & 0xff;
  } else {
    bytes[end] = lrc(bytes, 0, end);
  }
}

function edcOk(bytes: Uint8Array, end: number, edc: Edc): boolean {
  if (edc === 'CRC') {
    const c = crc16(bytes, 0, end);
    return bytes[end] === c >> 8 && bytes[end + 1] === (c & 0xff);
  }
  return lrc(bytes, 0, end) === bytes[end];
}

/** NAD of an answer: SAD and DAD exchanged, VPP bits dropped. */
export function swapNad(nad: number): number {
  return ((nad & 0x07) << 4) | ((nad >> 4) & 0x07);
}

export function pcbOf(b: T1Block): number {
  if (b.kind === 'I') return (b.ns & 1 ? PCB_I_NS : 0) | (b.more ? PCB_I_MORE : 0);
  if (b.kind === 'R') return PCB_R | (b.nr & 1 ? PCB_R_NR : 0) | (b.error & 3);
  return PCB_S | (b.response ? PCB_S_RESPONSE : 0) | (b.type & 3);
}

export function iBlock(ns: number, more: boolean, inf: Uint8Array, nad?: number): IBlock {
  return { kind: 'I', nad: nad === undefined ? NAD_DEFAULT : nad, ns: ns & 1, more: more, inf: inf };
}

export function rBlock(nr: number, error?: RError, nad?: number): RBlock {
  return { kind: 'R', nad: nad === undefined ? NAD_DEFAULT : nad, nr: nr & 1, error: error === undefined ? 0 : error };
}

export function sBlock(type: SBlockType, response: boolean, inf?: Uint8Array, nad?: number): SBlock {
  return { kind: 'S', nad: nad === undefined ? NAD_DEFAULT : nad, response: response, type: type, inf: inf === undefined ? new Uint8Array(0) : inf };
}

/** The bytes of a block. Throws a plain Error when INF exceeds 254 bytes. */
export function encodeBlock(b: T1Block, edc?: Edc): Uint8Array {
  const e: Edc = edc === undefined ? 'LRC' : edc;
  const inf = b.kind === 'R' ? null : b.inf;
  const n = inf === null ? 0 : inf.length;
  if (n > MAX_INF) throw new Error(WORDED ? 'T=1 INF of ' + n + ' bytes exceeds ' + MAX_INF : '');
  const out = new Uint8Array(3 + n + edcLength(e));
  out[0] = b.nad & 0xff;
  out[1] = pcbOf(b);
  out[2] = n;
  if (inf !== null) out.set(inf, 3);
  putEdc(out, 3 + n, e);
  return out;
}

/**
 * The total length of the block whose first bytes are `head` (known once NAD PCB LEN are in):
 * 3 while fewer than 3 bytes are known, -1 for the reserved LEN FF (the block is invalid and
 * its end unknown: the receiver waits for the line to go idle).
 */
export function blockLength(head: Uint8Array | number[], edc: Edc): number {
  if (head.length < 3) return 3;
  if (head[2] === 0xff) return -1;
  return 3 + head[2] + edcLength(edc);
}

function invalid(cls: 'edc' | 'format', detail: T1Invalid['detail']): T1Invalid {
  return { kind: 'invalid', invalid: cls, detail: detail };
}

/**
 * Parses one complete block. `maxInf` is the receiver's IFS (default 254): a longer INF makes the
 * block invalid. The EDC is checked first, so a damaged LEN shows as an EDC error where it can.
 */
export function parseBlock(bytes: Uint8Array, edc?: Edc, maxInf?: number): T1Parsed {
  const e: Edc = edc === undefined ? 'LRC' : edc;
  const el = edcLength(e);
  const limit = maxInf === undefined ? MAX_INF : maxInf;
  if (bytes.length < 3 + el) return invalid('format', 'short');
  const len = bytes[2];
  if (len === 0xff) return invalid('format', 'len-ff');
  if (bytes.length < len + 3 + el) return invalid('format', 'short');
  if (bytes.length > len + 3 + el) return invalid('format', 'long');
  if (!edcOk(bytes, 3 + len, e)) return invalid('edc', 'edc');
  if (len > limit) return invalid('format', 'len-ifs');
  const nad = bytes[0];
  const pcb = bytes[1];
  if ((pcb & PCB_S_BIT) === 0) {
    if ((pcb & 0x1f) !== 0) return invalid('format', 'pcb');
    return { kind: 'I', nad: nad, ns: (pcb >> 6) & 1, more: (pcb & PCB_I_MORE) !== 0, inf: copyBytes(bytes, 3, 3 + len) };
  }
  if ((pcb & 0xc0) === PCB_R) {
    const err = pcb & 0x0f;
    if ((pcb & 0x20) !== 0 || err > 2) return invalid('format', 'pcb');
    if (len !== 0) return invalid('format', 'pcb');
    return { kind: 'R', nad: nad, nr: (pcb >> 4) & 1, error: err as RError };
  }
  const type = pcb & 0x1f;
  if (type > 3) return invalid('format', 'pcb');
  const needsInf = type === S_IFS || type === S_WTX;
  if (needsInf ? len !== 1 : len !== 0) return invalid('format', 's-inf');
  if (type === S_IFS && (bytes[3] < 1 || bytes[3] > MAX_INF)) return invalid('format', 's-inf');
  return { kind: 'S', nad: nad, response: (pcb & PCB_S_RESPONSE) !== 0, type: type as SBlockType, inf: copyBytes(bytes, 3, 3 + len) };
}

export function isBlock(p: T1Parsed): p is T1Block {
  return p.kind !== 'invalid';
}

/** The R-block error bits that answer an invalid block. */
export function rErrorFor(p: T1Invalid): RError {
  return p.invalid === 'edc' ? 1 : 2;
}

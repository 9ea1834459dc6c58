// Canonical CBOR (RFC 8949 §4.2.1, core deterministic encoding) for the device side.
//
// This file runs on Espruino 2v29, so: no BigInt (integers are doubles, exact up to
// 2^53-1), no Map (maps are `CborMap`, keys kept in canonical order), no TextDecoder
// (text strings are kept as *UTF-8 byte strings*: one JS char per byte, validated),
// no destructuring/spread/default parameters. The host side has its own codec on
// cbor-x (shared/src/cbor.ts); a property test proves both write identical bytes.
//
// The profile (what this codec accepts) is the SPEC's: unsigned and negative integers
// up to 2^53-1, byte and text strings, arrays, maps with integer or text keys, tags up
// to `maxTag`, false, true, null. Floats, undefined, other simple values, indefinite
// lengths, non-shortest arguments, unsorted or duplicate keys are refused.

import { CborError } from './errors';
import { WORDED } from './wording';

/** A decoded CBOR value on the device side. */
export type CborValue = number | string | boolean | null | Uint8Array | CborValue[] | CborMap | CborTag;
export type CborKey = number | string;

/** A CBOR map. Keys are integers or text strings, kept sorted as canonical CBOR orders them. */
export class CborMap {
  keys: CborKey[];
  values: CborValue[];
  constructor() {
    this.keys = [];
    this.values = [];
  }
  get(key: CborKey): CborValue | undefined {
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] === key) return this.values[i];
    return undefined;
  }
  has(key: CborKey): boolean {
    return this.keys.indexOf(key) >= 0;
  }
  /** Adds or replaces an entry. Order does not matter: the encoder sorts. */
  set(key: CborKey, value: CborValue): CborMap {
    const i = this.keys.indexOf(key);
    if (i >= 0) this.values[i] = value;
    else {
      this.keys.push(key);
      this.values.push(value);
    }
    return this;
  }
  get size(): number {
    return this.keys.length;
  }
}

/** A tagged item (major type 6), e.g. tag 18 for COSE_Sign1. */
export class CborTag {
  tag: number;
  value: CborValue;
  constructor(tag: number, value: CborValue) {
    this.tag = tag;
    this.value = value;
  }
}

/** Bounds the decoder enforces before it allocates anything. */
export interface CborLimits {
  /** Largest input, in bytes. */
  maxSize: number;
  /** Deepest nesting of arrays, maps and tags (a bare scalar is depth 0). */
  maxDepth: number;
  /** Longest byte or text string, in bytes. */
  maxLength: number;
  /** Most entries in one array or map. */
  maxCount: number;
  /** Largest tag number. */
  maxTag: number;
}

export const MAX_SAFE = 9007199254740991; // 2^53-1; Number.MAX_SAFE_INTEGER is undefined on Espruino
export const TWO32 = 4294967296;

// ---------------------------------------------------------------- UTF-8 (RFC 3629)

/**
 * Length of the well-formed UTF-8 sequence starting at `i`, or 0 if it is not
 * well formed (overlong forms, surrogates and code points above U+10FFFF included).
 * `at(k)` returns the byte at index k, or -1 past the end.
 */
function utf8SeqLength(at: (k: number) => number, i: number): number {
  const b = at(i);
  if (b < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) n = 2;
  else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    if (b === 0xe0) lo = 0xa0;
    else if (b === 0xed) hi = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    if (b === 0xf0) lo = 0x90;
    else if (b === 0xf4) hi = 0x8f;
  } else return 0;
  const c1 = at(i + 1);
  if (c1 < lo || c1 > hi) return 0;
  for (let k = 2; k < n; k++) {
    const c = at(i + k);
    if (c < 0x80 || c > 0xbf) return 0;
  }
  return n;
}

/** True if `s` (a UTF-8 byte string: char codes 0..255) is well-formed UTF-8. */
export function isUtf8ByteString(s: string): boolean {
  const at = (k: number): number => (k < s.length ? s.charCodeAt(k) : -1);
  for (let i = 0; i < s.length; ) {
    if (s.charCodeAt(i) > 0xff) return false;
    const n = utf8SeqLength(at, i);
    if (n === 0) return false;
    i += n;
  }
  return true;
}

/** Index of the first byte of `b[start..end)` that breaks UTF-8, or -1 if all is well formed. */
function firstInvalidUtf8(b: Uint8Array, start: number, end: number): number {
  const at = (k: number): number => (k < end ? b[k] : -1);
  for (let i = start; i < end; ) {
    const n = utf8SeqLength(at, i);
    if (n === 0) return i;
    i += n;
  }
  return -1;
}

declare const E: { toString(data: Uint8Array): string } | undefined;

/**
 * A copy of `b[from..to)` as a Uint8Array. Not `Uint8Array.prototype.slice`: on
 * Espruino 2v29 that returns a plain Array (measured on the interpreter).
 */
export function copyBytes(b: Uint8Array, from: number, to: number): Uint8Array {
  const out = new Uint8Array(to - from);
  out.set(b.subarray(from, to), 0);
  return out;
}

/** Bytes to a byte string (one char per byte). Native on Espruino, a loop elsewhere. */
export function bytesToByteString(b: Uint8Array): string {
  if (typeof E !== 'undefined' && E && E.toString) {
    const s = E.toString(b);
    // E.toString returns undefined when it cannot allocate a flat string
    if (typeof s === 'string') return s;
  }
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

// ---------------------------------------------------------------- encoder

/** A growable byte buffer. */
class Writer {
  buf: Uint8Array;
  len: number;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
    this.len = 0;
  }
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len), 0);
    this.buf = nb;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** Major type + argument in the shortest form. `arg` is a non-negative integer ≤ 2^53-1. */
  head(major: number, arg: number): void {
    const mt = major << 5;
    if (arg < 24) this.byte(mt | arg);
    else if (arg < 0x100) {
      this.byte(mt | 24);
      this.byte(arg);
    } else if (arg < 0x10000) {
      this.byte(mt | 25);
      this.byte(arg >> 8);
      this.byte(arg & 0xff);
    } else if (arg < TWO32) {
      this.byte(mt | 26);
      this.u32(arg);
    } else {
      this.byte(mt | 27);
      this.u32(Math.floor(arg / TWO32));
      this.u32(arg % TWO32);
    }
  }
  u32(v: number): void {
    this.byte((v >>> 24) & 0xff);
    this.byte((v >>> 16) & 0xff);
    this.byte((v >>> 8) & 0xff);
    this.byte(v & 0xff);
  }
  result(): Uint8Array {
    return copyBytes(this.buf, 0, this.len);
  }
}

function unencodable(what: string): CborError {
  return new CborError('UNENCODABLE', what, -1);
}

function isSafeInteger(v: number): boolean {
  return typeof v === 'number' && v === Math.floor(v) && v <= MAX_SAFE && v >= -MAX_SAFE;
}

/** Bytewise comparison, shorter first on a common prefix (RFC 8949 §4.2.1). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function writeValue(w: Writer, v: CborValue, depth: number): void {
  if (depth > 64) throw unencodable(WORDED ? 'nesting deeper than 64' : '');
  if (typeof v === 'number') {
    if (!isSafeInteger(v)) throw unencodable(WORDED ? 'number ' + v + ' is not an integer within ±(2^53-1)' : '');
    if (v >= 0) w.head(0, v);
    else w.head(1, -1 - v);
  } else if (typeof v === 'string') {
    if (!isUtf8ByteString(v)) throw unencodable(WORDED ? 'text is not a well-formed UTF-8 byte string' : '');
    w.head(3, v.length);
    w.ensure(v.length);
    for (let i = 0; i < v.length; i++) w.buf[w.len++] = v.charCodeAt(i);
  } else if (v === true) w.byte(0xf5);
  else if (v === false) w.byte(0xf4);
  else if (v === null) w.byte(0xf6);
  else if (v instanceof Uint8Array) {
    w.head(2, v.length);
    w.bytes(v);
  } else if (Array.isArray(v)) {
    w.head(4, v.length);
    for (let i = 0; i < v.length; i++) writeValue(w, v[i], depth + 1);
  } else if (v instanceof CborMap) {
    writeMap(w, v, depth);
  } else if (v instanceof CborTag) {
    if (!isSafeInteger(v.tag) || v.tag < 0) throw unencodable(WORDED ? 'tag number ' + v.tag : '');
    w.head(6, v.tag);
    writeValue(w, v.value, depth + 1);
  } else throw unencodable(WORDED ? 'value of type ' + typeof v : '');
}

function writeMap(w: Writer, m: CborMap, depth: number): void {
  const n = m.keys.length;
  const encodedKeys: Uint8Array[] = [];
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = m.keys[i];
    if (typeof k !== 'number' && typeof k !== 'string') throw unencodable(WORDED ? 'map key of type ' + typeof k : '');
    const kw = new Writer(16);
    writeValue(kw, k, depth + 1);
    encodedKeys.push(kw.result());
    order.push(i);
  }
  order.sort((a, b) => compareBytes(encodedKeys[a], encodedKeys[b]));
  for (let i = 1; i < n; i++) {
    if (compareBytes(encodedKeys[order[i - 1]], encodedKeys[order[i]]) === 0) throw unencodable(WORDED ? 'duplicate map key' : '');
  }
  w.head(5, n);
  for (let i = 0; i < n; i++) {
    w.bytes(encodedKeys[order[i]]);
    writeValue(w, m.values[order[i]], depth + 1);
  }
}

/** Encodes `v` in canonical CBOR. Throws `CborError` (UNENCODABLE) for values outside the profile. */
export function encode(v: CborValue): Uint8Array {
  const w = new Writer(64);
  writeValue(w, v, 0);
  return w.result();
}

// ---------------------------------------------------------------- decoder

class Reader {
  b: Uint8Array;
  pos: number;
  lim: CborLimits;
  constructor(b: Uint8Array, lim: CborLimits) {
    this.b = b;
    this.pos = 0;
    this.lim = lim;
  }
  fail(code: CborError['code'], msg: string, at: number): CborError {
    return new CborError(code, msg, at);
  }
  need(n: number, at: number): void {
    if (this.pos + n > this.b.length) throw this.fail('TRUNCATED', WORDED ? 'input ends inside an item' : '', at);
  }
  /**
   * Reads an argument of `ai` (additional information 24..27) in shortest form,
   * returning it as a number ≤ 2^53-1.
   */
  arg(ai: number, start: number): number {
    const b = this.b;
    let v: number;
    let min: number;
    if (ai === 24) {
      this.need(1, start);
      v = b[this.pos];
      this.pos += 1;
      min = 24;
    } else if (ai === 25) {
      this.need(2, start);
      v = (b[this.pos] << 8) | b[this.pos + 1];
      this.pos += 2;
      min = 0x100;
    } else if (ai === 26) {
      this.need(4, start);
      v = this.u32(this.pos);
      this.pos += 4;
      min = 0x10000;
    } else {
      this.need(8, start);
      const hi = this.u32(this.pos);
      const lo = this.u32(this.pos + 4);
      this.pos += 8;
      if (hi > 0x1fffff) throw this.fail('OUT_OF_RANGE', WORDED ? 'argument above 2^53-1' : '', start);
      v = hi * TWO32 + lo;
      min = TWO32;
    }
    if (v < min) throw this.fail('NON_CANONICAL', WORDED ? 'argument not in its shortest form' : '', start);
    return v;
  }
  u32(i: number): number {
    const b = this.b;
    return ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
  }
  item(depth: number): CborValue {
    const start = this.pos;
    this.need(1, start);
    const ib = this.b[this.pos++];
    const major = ib >> 5;
    const ai = ib & 31;
    if (major === 7) {
      if (ai === 20) return false;
      if (ai === 21) return true;
      if (ai === 22) return null;
      if (ai === 31) throw this.fail('INDEFINITE', WORDED ? 'break outside an indefinite-length item' : '', start);
      throw this.fail('UNSUPPORTED', WORDED ? (ai >= 25 && ai <= 27 ? 'floating-point numbers are not in the profile' : 'simple value not in the profile') : '', start);
    }
    if (ai === 31) throw this.fail('INDEFINITE', WORDED ? 'indefinite lengths are not allowed' : '', start);
    if (ai >= 28) throw this.fail('UNSUPPORTED', WORDED ? 'reserved additional information ' + ai : '', start);
    const arg = ai < 24 ? ai : this.arg(ai, start);
    switch (major) {
      case 0:
        return arg;
      case 1:
        // -1-arg must stay within ±(2^53-1) so that it round-trips exactly
        if (arg >= MAX_SAFE) throw this.fail('OUT_OF_RANGE', WORDED ? 'negative integer below -(2^53-1)' : '', start);
        return -1 - arg;
      case 2:
      case 3: {
        if (arg > this.lim.maxLength) throw this.fail('TOO_LONG', WORDED ? 'string of ' + arg + ' bytes exceeds ' + this.lim.maxLength : '', start);
        this.need(arg, start);
        const from = this.pos;
        this.pos += arg;
        if (major === 2) return copyBytes(this.b, from, from + arg);
        const bad = firstInvalidUtf8(this.b, from, from + arg);
        if (bad >= 0) throw this.fail('INVALID_UTF8', WORDED ? 'text string is not well-formed UTF-8' : '', bad);
        return bytesToByteString(this.b.subarray(from, from + arg));
      }
      case 4: {
        this.enter(depth, arg, start);
        const a: CborValue[] = [];
        for (let i = 0; i < arg; i++) a.push(this.item(depth + 1));
        return a;
      }
      case 5:
        this.enter(depth, arg, start);
        return this.map(arg, depth + 1);
      default: {
        // major 6: tag
        if (arg > this.lim.maxTag) throw this.fail('OUT_OF_RANGE', WORDED ? 'tag ' + arg + ' above ' + this.lim.maxTag : '', start);
        if (depth + 1 > this.lim.maxDepth) throw this.fail('TOO_DEEP', WORDED ? 'nesting deeper than ' + this.lim.maxDepth : '', start);
        return new CborTag(arg, this.item(depth + 1));
      }
    }
  }
  enter(depth: number, count: number, start: number): void {
    if (depth + 1 > this.lim.maxDepth) throw this.fail('TOO_DEEP', WORDED ? 'nesting deeper than ' + this.lim.maxDepth : '', start);
    if (count > this.lim.maxCount) throw this.fail('TOO_MANY', WORDED ? count + ' entries exceed ' + this.lim.maxCount : '', start);
    // each entry takes at least one byte: refuse counts the input cannot hold before looping
    if (count > this.b.length - this.pos) throw this.fail('TRUNCATED', WORDED ? 'input too short for ' + count + ' entries' : '', start);
  }
  map(n: number, depth: number): CborMap {
    const m = new CborMap();
    let prevStart = -1;
    let prevEnd = -1;
    for (let i = 0; i < n; i++) {
      const kStart = this.pos;
      this.need(1, kStart);
      const major = this.b[kStart] >> 5;
      if (major !== 0 && major !== 1 && major !== 3) throw this.fail('BAD_KEY', WORDED ? 'map keys must be integers or text strings' : '', kStart);
      const k = this.item(depth) as CborKey;
      const kEnd = this.pos;
      if (prevStart >= 0) {
        const c = compareBytes(this.b.subarray(prevStart, prevEnd), this.b.subarray(kStart, kEnd));
        if (c === 0) throw this.fail('DUPLICATE_KEY', WORDED ? 'duplicate map key' : '', kStart);
        if (c > 0) throw this.fail('UNSORTED_KEYS', WORDED ? 'map keys not in canonical order' : '', kStart);
      }
      prevStart = kStart;
      prevEnd = kEnd;
      m.keys.push(k);
      m.values.push(this.item(depth));
    }
    return m;
  }
}

/**
 * Decodes exactly one canonical CBOR item from `bytes`. Throws `CborError` with a
 * code from the closed set for anything outside the profile or the limits; never
 * anything else, and never allocates more than the input's size allows.
 */
export function decode(bytes: Uint8Array, limits: CborLimits): CborValue {
  if (bytes.length > limits.maxSize) throw new CborError('TOO_LARGE', WORDED ? bytes.length + ' bytes exceed ' + limits.maxSize : '', 0);
  const r = new Reader(bytes, limits);
  const v = r.item(0);
  if (r.pos !== bytes.length) throw new CborError('TRAILING', WORDED ? bytes.length - r.pos + ' bytes after the item' : '', r.pos);
  return v;
}

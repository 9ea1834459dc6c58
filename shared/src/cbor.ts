// Canonical CBOR on the host, on cbor-x (RFC 8949 §4.2.1 core deterministic encoding).
//
// cbor-x is fast but neither canonical nor strict out of the box (brief §9), so:
// - encoding first normalises the value: map entries sorted by the bytes of their
//   encoded keys, integers beyond 32 bits passed as BigInt (else cbor-x writes a
//   float64), Uint8Array as a plain byte string (tagUint8Array: false), non-integer
//   numbers refused;
// - decoding runs an independent, allocation-free structural scan first (limits,
//   shortest-form arguments, no indefinite lengths, no floats, strict UTF-8, sorted and
//   unique keys), then lets cbor-x build the value with every built-in tag handler
//   replaced by a plain `Tag`, so tags come back as they were written.
// The device codec (protocol/src/cbor.ts) is a second implementation of the same
// profile; property tests prove both write identical bytes and accept the same input.

import { addExtension, Decoder, Encoder, Tag } from 'cbor-x';
import { CborError, CborErrorCode } from '../../protocol/src/errors';
import { CborLimits, CborMap, CborTag, CborValue } from '../../protocol/src/cbor';

export { Tag };

/** A CBOR value on the host. Maps are `Map`s (integer keys for COSE), tags are `Tag`s. */
export type HostCbor = number | string | boolean | null | Uint8Array | HostCbor[] | HostCborMap | Tag;
export type HostCborMap = Map<number | string, HostCbor>;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// cbor-x turns many tags into something else: 0-5 into Dates and BigInts, 6 and
// 216-255 into packed-CBOR references, 64-87 into typed arrays, 105 into records...
// The profile allows tags up to 255 (larger ones are refused by the scan before cbor-x
// sees them) and wants them back as written, so every handler in that range is
// replaced by a plain Tag, once, for this process.
for (let t = 0; t <= 255; t++) {
  const tag = t;
  addExtension({ tag, decode: (value: unknown) => new Tag(value, tag) } as never);
}

const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: false,
  variableMapSize: true,
  tagUint8Array: false,
  useTag259ForMaps: false,
  pack: false,
} as never);
const decoder = new Decoder({ useRecords: false, mapsAsObjects: false, int64AsNumber: true } as never);

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8enc = new TextEncoder();

function unencodable(msg: string): CborError {
  return new CborError('UNENCODABLE', msg, -1);
}

/**
 * Canonical order of map keys without encoding them: the encoded order (RFC 8949
 * §4.2.1) is unsigned integers ascending, then negative integers by magnitude, then
 * text by UTF-8 length, then bytewise — because CBOR heads grow with their argument.
 */
function compareKeys(a: { k: number | string; utf8?: Buffer }, b: { k: number | string; utf8?: Buffer }): number {
  const ra = typeof a.k === 'string' ? 2 : a.k < 0 ? 1 : 0;
  const rb = typeof b.k === 'string' ? 2 : b.k < 0 ? 1 : 0;
  if (ra !== rb) return ra - rb;
  if (ra === 0) return (a.k as number) - (b.k as number);
  if (ra === 1) return (b.k as number) - (a.k as number);
  const la = a.utf8!.length;
  const lb = b.utf8!.length;
  return la !== lb ? la - lb : Buffer.compare(a.utf8!, b.utf8!);
}

/** Rewrites `v` into what cbor-x encodes canonically. */
function normalise(v: HostCbor, depth: number): unknown {
  if (depth > 64) throw unencodable('nesting deeper than 64');
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw unencodable(`number ${v} is not an integer within ±(2^53-1)`);
    if (v > 0xffffffff || v < -0x100000000) return BigInt(v);
    return v;
  }
  if (typeof v === 'string') {
    if (!v.isWellFormed()) throw unencodable('text with a lone surrogate');
    return v;
  }
  if (v === null || typeof v === 'boolean') return v;
  if (v instanceof Uint8Array) return Buffer.isBuffer(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : v;
  if (Array.isArray(v)) return v.map((x) => normalise(x, depth + 1));
  if (v instanceof Map) {
    // fast path: small non-negative integer keys already ascending (message bodies)
    let sorted = true;
    let last = -1;
    for (const k of v.keys()) {
      if (typeof k !== 'number' || !Number.isInteger(k) || k <= last || k > 0xffffffff) {
        sorted = false;
        break;
      }
      last = k;
    }
    if (sorted) {
      const out = new Map<number, unknown>();
      for (const [k, val] of v) out.set(k as number, normalise(val, depth + 1));
      return out;
    }
    const entries: { k: number | string; utf8?: Buffer; v: unknown }[] = [];
    for (const [k, val] of v) {
      if (typeof k === 'number') {
        if (!Number.isSafeInteger(k)) throw unencodable(`map key ${k} is not an integer within ±(2^53-1)`);
        entries.push({ k, v: normalise(val, depth + 1) });
      } else if (typeof k === 'string') {
        if (!k.isWellFormed()) throw unencodable('text with a lone surrogate');
        entries.push({ k, utf8: Buffer.from(k, 'utf8'), v: normalise(val, depth + 1) });
      } else throw unencodable('map keys must be integers or text');
    }
    entries.sort(compareKeys);
    for (let i = 1; i < entries.length; i++) if (compareKeys(entries[i - 1], entries[i]) === 0) throw unencodable('duplicate map key');
    return new Map(entries.map((e) => [typeof e.k === 'number' && (e.k > 0xffffffff || e.k < -0x100000000) ? BigInt(e.k) : e.k, e.v]));
  }
  if (v instanceof Tag) {
    if (!Number.isSafeInteger(v.tag) || v.tag < 0) throw unencodable(`tag number ${v.tag}`);
    return new Tag(normalise(v.value as HostCbor, depth + 1), v.tag);
  }
  throw unencodable(`value of type ${typeof v}`);
}

/** Encodes `v` in canonical CBOR. Throws CborError(UNENCODABLE) outside the profile. */
export function encodeCanonical(v: HostCbor): Uint8Array {
  const out = encoder.encode(normalise(v, 0));
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

// ------------------------------------------------------------------ strict scan

class Scan {
  pos = 0;
  constructor(
    private readonly b: Uint8Array,
    private readonly lim: CborLimits,
  ) {}

  err(code: CborErrorCode, msg: string, at: number): never {
    throw new CborError(code, msg, at);
  }

  /** Reads the head at `pos`; returns [major, argument]. */
  head(): [number, number] {
    const b = this.b;
    const at = this.pos;
    if (at >= b.length) this.err('TRUNCATED', 'input ends inside an item', at);
    const ib = b[at];
    const major = ib >> 5;
    const ai = ib & 0x1f;
    this.pos++;
    if (major === 7) {
      if (ai >= 20 && ai <= 22) return [7, ai];
      if (ai === 31) this.err('INDEFINITE', 'break outside an indefinite-length item', at);
      this.err('UNSUPPORTED', ai >= 25 && ai <= 27 ? 'floating-point numbers are not in the profile' : 'simple value not in the profile', at);
    }
    if (ai < 24) return [major, ai];
    if (ai === 31) this.err('INDEFINITE', 'indefinite lengths are not allowed', at);
    if (ai > 27) this.err('UNSUPPORTED', `reserved additional information ${ai}`, at);
    const n = 1 << (ai - 24);
    if (this.pos + n > b.length) this.err('TRUNCATED', 'input ends inside an item', at);
    const p = this.pos;
    let arg: number;
    if (n === 8) {
      const hi = b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
      if (hi > 0x1fffff) this.err('OUT_OF_RANGE', 'argument above 2^53-1', at);
      arg = hi * 0x100000000 + (b[p + 4] * 0x1000000 + ((b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]));
    } else if (n === 1) arg = b[p];
    else if (n === 2) arg = (b[p] << 8) | b[p + 1];
    else arg = b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
    this.pos += n;
    const min = n === 1 ? 24 : n === 2 ? 0x100 : n === 4 ? 0x10000 : 0x100000000;
    if (arg < min) this.err('NON_CANONICAL', 'argument not in its shortest form', at);
    return [major, arg];
  }

  /** Bytewise order of b[a0..a1) and b[b0..b1), shorter first on a common prefix. */
  compareRanges(a0: number, a1: number, b0: number, b1: number): number {
    const b = this.b;
    const n = Math.min(a1 - a0, b1 - b0);
    for (let i = 0; i < n; i++) if (b[a0 + i] !== b[b0 + i]) return b[a0 + i] - b[b0 + i];
    return a1 - a0 - (b1 - b0);
  }

  item(depth: number): void {
    const at = this.pos;
    const [major, arg] = this.head();
    switch (major) {
      case 0:
      case 7:
        return;
      case 1:
        if (arg >= MAX_SAFE) this.err('OUT_OF_RANGE', 'negative integer below -(2^53-1)', at);
        return;
      case 2:
      case 3:
        if (arg > this.lim.maxLength) this.err('TOO_LONG', `string of ${arg} bytes exceeds ${this.lim.maxLength}`, at);
        if (this.pos + arg > this.b.length) this.err('TRUNCATED', 'input ends inside an item', at);
        if (major === 3) {
          try {
            utf8.decode(this.b.subarray(this.pos, this.pos + arg));
          } catch {
            this.err('INVALID_UTF8', 'text string is not well-formed UTF-8', this.pos);
          }
        }
        this.pos += arg;
        return;
      case 4:
      case 5: {
        if (depth >= this.lim.maxDepth) this.err('TOO_DEEP', `nesting deeper than ${this.lim.maxDepth}`, at);
        if (arg > this.lim.maxCount) this.err('TOO_MANY', `${arg} entries exceed ${this.lim.maxCount}`, at);
        if (arg > this.b.length - this.pos) this.err('TRUNCATED', `input too short for ${arg} entries`, at);
        let prevStart = -1;
        let prevEnd = -1;
        for (let i = 0; i < arg; i++) {
          if (major === 5) {
            const ks = this.pos;
            const km = ks < this.b.length ? this.b[ks] >> 5 : -1;
            if (km !== 0 && km !== 1 && km !== 3 && km !== -1) this.err('BAD_KEY', 'map keys must be integers or text strings', ks);
            this.item(depth + 1);
            if (prevStart >= 0) {
              const c = this.compareRanges(prevStart, prevEnd, ks, this.pos);
              if (c === 0) this.err('DUPLICATE_KEY', 'duplicate map key', ks);
              if (c > 0) this.err('UNSORTED_KEYS', 'map keys not in canonical order', ks);
            }
            prevStart = ks;
            prevEnd = this.pos;
          }
          this.item(depth + 1);
        }
        return;
      }
      default:
        if (arg > this.lim.maxTag) this.err('OUT_OF_RANGE', `tag ${arg} above ${this.lim.maxTag}`, at);
        if (depth >= this.lim.maxDepth) this.err('TOO_DEEP', `nesting deeper than ${this.lim.maxDepth}`, at);
        this.item(depth + 1);
    }
  }
}

/** Copies cbor-x's output into the HostCbor model (Buffers become plain Uint8Arrays). */
function adopt(v: unknown): HostCbor {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(adopt);
  if (v instanceof Map) {
    const m: HostCborMap = new Map();
    for (const [k, val] of v) m.set(k as number | string, adopt(val));
    return m;
  }
  if (v instanceof Tag) return new Tag(adopt(v.value), v.tag);
  return v as HostCbor;
}

/** cbor-x's output straight into the protocol's value model, copying byte strings. */
function adoptModel(v: unknown): CborValue {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) {
    const a: CborValue[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) a[i] = adoptModel(v[i]);
    return a;
  }
  if (v instanceof Map) {
    const m = new CborMap();
    for (const [k, val] of v) {
      m.keys.push(k as number | string);
      m.values.push(adoptModel(val));
    }
    return m;
  }
  if (v instanceof Tag) return new CborTag(v.tag, adoptModel(v.value));
  return v as CborValue;
}

/**
 * Decodes one canonical CBOR item into the protocol's value model (CborMap, CborTag;
 * text as JS strings): what the host message codec checks against the catalogue.
 */
export function decodeCanonicalModel(bytes: Uint8Array, limits: CborLimits): CborValue {
  scan(bytes, limits);
  return adoptModel(decoder.decode(bytes));
}

function scan(bytes: Uint8Array, limits: CborLimits): void {
  if (bytes.length > limits.maxSize) throw new CborError('TOO_LARGE', `${bytes.length} bytes exceed ${limits.maxSize}`, 0);
  const s = new Scan(bytes, limits);
  s.item(0);
  if (s.pos !== bytes.length) throw new CborError('TRAILING', `${bytes.length - s.pos} bytes after the item`, s.pos);
}

/**
 * Decodes exactly one canonical CBOR item. Throws CborError for anything outside the
 * profile or the limits, checked before cbor-x allocates anything.
 */
export function decodeCanonical(bytes: Uint8Array, limits: CborLimits): HostCbor {
  scan(bytes, limits);
  return adopt(decoder.decode(bytes));
}

/** UTF-8 length of a JS string, as the protocol counts text lengths. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** A JS string as a UTF-8 byte string (one char per byte), the device codec's text form. */
export function toByteString(s: string): string {
  return Buffer.from(utf8enc.encode(s)).toString('latin1');
}

/** A UTF-8 byte string back to a JS string. */
export function fromByteString(s: string): string {
  return utf8.decode(Buffer.from(s, 'latin1'));
}

// ------------------------------------------------------------------ model bridge


/**
 * HostCbor → the protocol package's value model (CborMap, CborTag), so host and device
 * share one schema checker. `text` maps each string (identity on the host; toByteString
 * to get the device's UTF-8 byte-string form).
 */
export function toModel(v: HostCbor, text: (s: string) => string = (s) => s): CborValue {
  if (typeof v === 'string') return text(v);
  if (Array.isArray(v)) return v.map((x) => toModel(x, text));
  if (v instanceof Map) {
    const m = new CborMap();
    for (const [k, val] of v) m.set(typeof k === 'string' ? text(k) : k, toModel(val, text));
    return m;
  }
  if (v instanceof Tag) return new CborTag(v.tag, toModel(v.value as HostCbor, text));
  return v as CborValue;
}

/** The protocol package's value model → HostCbor (the inverse of toModel). */
export function fromModel(v: CborValue, text: (s: string) => string = (s) => s): HostCbor {
  if (typeof v === 'string') return text(v);
  if (Array.isArray(v)) return v.map((x) => fromModel(x, text));
  if (v instanceof CborMap) {
    const m: HostCborMap = new Map();
    for (let i = 0; i < v.keys.length; i++) {
      const k = v.keys[i];
      m.set(typeof k === 'string' ? text(k) : k, fromModel(v.values[i], text));
    }
    return m;
  }
  if (v instanceof CborTag) return new Tag(fromModel(v.value, text), v.tag);
  return v;
}

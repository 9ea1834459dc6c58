// Message bodies are CBOR maps with small integer keys. Each body's shape is a compact
// schema string (below) that both sides interpret: decoding turns a CborMap into an
// object with named fields and rejects anything else; encoding does the reverse.
// Strings rather than object trees because the catalogue must fit in a few hundred
// JsVars on the device.
//
// Grammar:  schema = field *("," field) / ""
//           field  = ["?"] key " " name " " type [" " min " " max]
// Types:    u uint (min..max value)     b bool          t text (min..max bytes)
//           y bytes (min..max bytes)    m money [uint, 3 upper-case letters]
//           U array of uint (min..max entries, each 0..255)
//           L array of log entries [counter, kind, amount, currency, party, time]
//
// An optional field ("?") may be absent; no field may be null; unknown keys are refused.

import { CborMap, CborValue, MAX_SAFE } from './cbor';
import { WORDED } from './wording';

export const MAX_UINT = MAX_SAFE;

export class SchemaError {
  readonly code: 'SCHEMA';
  constructor(
    /** Where: e.g. "body.3" or "body.5[2]". */
    readonly path: string,
    readonly message: string,
  ) {
    this.code = 'SCHEMA';
  }
}

export interface FieldSpec {
  key: number;
  name: string;
  type: string;
  optional: boolean;
  min: number;
  max: number;
}

// Parsed schemas are kept only where memory is plentiful (the host turns this on);
// the device re-parses per message rather than hold the objects in RAM.
let cache: { [schema: string]: FieldSpec[] } | null = null;

/** Keeps parsed schemas in memory from now on (host side). */
export function cacheSchemas(): void {
  if (!cache) cache = {};
}

/** Parses a schema string. Cheap enough to call per message on the device. */
export function parseSchema(schema: string): FieldSpec[] {
  if (cache && cache[schema]) return cache[schema];
  const out = parseSchemaText(schema);
  if (cache) cache[schema] = out;
  return out;
}

function parseSchemaText(schema: string): FieldSpec[] {
  const out: FieldSpec[] = [];
  if (schema === '') return out;
  const parts = schema.split(',');
  for (let i = 0; i < parts.length; i++) {
    const w = parts[i].split(' ');
    const optional = w[0].charAt(0) === '?';
    out.push({
      key: parseInt(optional ? w[0].substr(1) : w[0], 10),
      name: w[1],
      type: w[2],
      optional: optional,
      min: w.length > 3 ? parseInt(w[3], 10) : 0,
      max: w.length > 4 ? (w[4] === 'max' ? MAX_UINT : parseInt(w[4], 10)) : MAX_UINT,
    });
  }
  return out;
}

function fail(path: string, msg: string): SchemaError {
  return new SchemaError(path, msg);
}

function isUint(v: CborValue | undefined): v is number {
  return typeof v === 'number' && v >= 0 && v === Math.floor(v);
}

function checkCurrency(v: CborValue, path: string): string {
  if (typeof v !== 'string' || !/^[A-Z][A-Z][A-Z]$/.test(v)) throw fail(path, WORDED ? 'currency must be three upper-case letters (ISO 4217)' : '');
  return v;
}

/** A money amount: integer minor units and an ISO 4217 code. */
export interface Money {
  amount: number;
  currency: string;
}

/** A statement (SPEC.md §5.4, STATEMENT_SCHEMA) as named fields; text fields as the side's strings. */
export interface Statement {
  kind: number;
  title: string;
  amount?: Money;
  payee?: string;
  offer?: Uint8Array;
  reference?: string;
  text?: string;
  deliverBy?: number;
  refundUntil?: number;
  origin?: string;
  code?: string;
}

/** One entry of the card's purse log. */
export interface LogEntry {
  counter: number;
  kind: number;
  amount: number;
  currency: string;
  party: string;
  time: number;
}

function checkUint(v: CborValue | undefined, min: number, max: number, path: string): number {
  if (!isUint(v)) throw fail(path, WORDED ? 'expected an unsigned integer' : '');
  if (v < min || v > max) throw fail(path, WORDED ? 'value ' + v + ' outside ' + min + '..' + max : '');
  return v;
}

/**
 * Byte length of a text value. On the device text is a UTF-8 byte string, so its
 * length is its byte count; the host passes its own UTF-8 length function.
 */
export type TextLength = (s: string) => number;

function byteStringLength(s: string): number {
  return s.length;
}

function checkText(v: CborValue | undefined, min: number, max: number, path: string, tl: TextLength): string {
  if (typeof v !== 'string') throw fail(path, WORDED ? 'expected a text string' : '');
  const n = tl(v);
  if (n < min || n > max) throw fail(path, WORDED ? 'text of ' + n + ' bytes outside ' + min + '..' + max : '');
  return v;
}

function decodeField(f: FieldSpec, v: CborValue, path: string, tl: TextLength): unknown {
  switch (f.type) {
    case 'u':
      return checkUint(v, f.min, f.max, path);
    case 'b':
      if (typeof v !== 'boolean') throw fail(path, WORDED ? 'expected true or false' : '');
      return v;
    case 't':
      return checkText(v, f.min, f.max, path, tl);
    case 'y':
      if (!(v instanceof Uint8Array)) throw fail(path, WORDED ? 'expected a byte string' : '');
      if (v.length < f.min || v.length > f.max) throw fail(path, WORDED ? 'byte string length ' + v.length + ' outside ' + f.min + '..' + f.max : '');
      return v;
    case 'm': {
      if (!Array.isArray(v) || v.length !== 2) throw fail(path, WORDED ? 'money is [amount, currency]' : '');
      return { amount: checkUint(v[0], 0, MAX_UINT, path + '[0]'), currency: checkCurrency(v[1], path + '[1]') } as Money;
    }
    case 'U': {
      if (!Array.isArray(v)) throw fail(path, WORDED ? 'expected an array' : '');
      if (v.length < f.min || v.length > f.max) throw fail(path, WORDED ? 'array of ' + v.length + ' outside ' + f.min + '..' + f.max : '');
      const out: number[] = [];
      for (let i = 0; i < v.length; i++) out.push(checkUint(v[i], 0, 255, path + '[' + i + ']'));
      return out;
    }
    case 'L': {
      if (!Array.isArray(v)) throw fail(path, WORDED ? 'expected an array' : '');
      if (v.length < f.min || v.length > f.max) throw fail(path, WORDED ? 'array of ' + v.length + ' outside ' + f.min + '..' + f.max : '');
      const out: LogEntry[] = [];
      for (let i = 0; i < v.length; i++) {
        const e = v[i];
        const p = path + '[' + i + ']';
        if (!Array.isArray(e) || e.length !== 6) throw fail(p, WORDED ? 'log entry is [counter, kind, amount, currency, party, time]' : '');
        out.push({
          counter: checkUint(e[0], 0, MAX_UINT, p + '[0]'),
          kind: checkUint(e[1], 1, 2, p + '[1]'),
          amount: checkUint(e[2], 0, MAX_UINT, p + '[2]'),
          currency: checkCurrency(e[3], p + '[3]'),
          party: checkText(e[4], 0, 64, p + '[4]', tl),
          time: checkUint(e[5], 0, MAX_UINT, p + '[5]'),
        });
      }
      return out;
    }
  }
  throw fail(path, WORDED ? 'schema type ' + f.type + ' unknown' : '');
}

/**
 * Checks `body` against `schema` and returns an object with named fields.
 * Throws SchemaError naming the first bad field.
 */
export function decodeBody(body: CborValue, schema: string, path: string, textLength?: TextLength): { [name: string]: unknown } {
  const tl = textLength || byteStringLength;
  if (!(body instanceof CborMap)) throw fail(path, WORDED ? 'body must be a map' : '');
  const fields = parseSchema(schema);
  const out: { [name: string]: unknown } = {};
  for (let i = 0; i < body.keys.length; i++) {
    const k = body.keys[i];
    let f: FieldSpec | null = null;
    for (let j = 0; j < fields.length; j++) if (fields[j].key === k) f = fields[j];
    // a text key is never valid in a body; its content is not echoed back to the host
    if (!f) throw fail(path + '.' + (typeof k === 'number' ? String(k) : '(text key)'), WORDED ? 'unknown field' : '');
    out[f.name] = decodeField(f, body.values[i], path + '.' + k, tl);
  }
  for (let j = 0; j < fields.length; j++) {
    if (!fields[j].optional && !body.has(fields[j].key)) throw fail(path + '.' + fields[j].key, WORDED ? 'required field ' + fields[j].name + ' missing' : '');
  }
  return out;
}

function encodeField(f: FieldSpec, v: unknown, path: string): CborValue {
  switch (f.type) {
    case 'm': {
      const m = v as Money;
      if (!m || typeof m !== 'object') throw fail(path, WORDED ? 'expected money' : '');
      return [m.amount, m.currency];
    }
    case 'L': {
      const a = v as LogEntry[];
      if (!Array.isArray(a)) throw fail(path, WORDED ? 'expected log entries' : '');
      const out: CborValue[] = [];
      for (let i = 0; i < a.length; i++) out.push([a[i].counter, a[i].kind, a[i].amount, a[i].currency, a[i].party, a[i].time]);
      return out;
    }
  }
  return v as CborValue;
}

/**
 * Builds the CBOR map for an object with named fields. The result is checked with
 * decodeBody, so nothing leaves that the peer would refuse.
 */
export function encodeBody(obj: { [name: string]: unknown }, schema: string, path: string, textLength?: TextLength): CborMap {
  const fields = parseSchema(schema);
  const m = new CborMap();
  const names = Object.keys(obj);
  for (let i = 0; i < names.length; i++) {
    let f: FieldSpec | null = null;
    for (let j = 0; j < fields.length; j++) if (fields[j].name === names[i]) f = fields[j];
    if (!f) throw fail(path + '.' + names[i], WORDED ? 'unknown field' : '');
    const v = obj[names[i]];
    if (v === undefined) continue;
    m.set(f.key, encodeField(f, v, path + '.' + f.key));
  }
  decodeBody(m, schema, path, textLength);
  return m;
}

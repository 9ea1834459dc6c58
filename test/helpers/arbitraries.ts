// fast-check generators for the CBOR profile and for catalogue messages.

import fc from 'fast-check';
import { parseSchema, FieldSpec, MAX_UINT } from '../../protocol/src/schema';
import { REQUEST_SCHEMA, RESPONSE_SCHEMA } from '../../protocol/src/messages';
import { HostCbor, Tag, toByteString, utf8Length } from '../../shared/src/cbor';

const safeInt = fc.oneof(
  fc.integer({ min: -30, max: 30 }),
  fc.integer({ min: -70000, max: 70000 }),
  fc.integer({ min: -0x100000000, max: 0x100000000 }),
  fc.maxSafeInteger(),
  fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 4294967295, 4294967296, -24, -25, -256, -257, -4294967296, -4294967297, MAX_UINT, -MAX_UINT),
);

/** Text as people write it: ASCII, accents, CJK, emoji (astral), control characters. */
export const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));

const key = fc.oneof(safeInt, text) as fc.Arbitrary<number | string>;

/** Any value of the profile, host model. */
export const hostValue: fc.Arbitrary<HostCbor> = fc.letrec<{ v: HostCbor }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    safeInt,
    text,
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.uniqueArray(fc.tuple(key, tie('v')), { maxLength: 5, selector: (e) => (typeof e[0] === 'number' ? `n${e[0]}` : `s${e[0]}`) }).map((es) => new Map(es)),
    fc.tuple(fc.integer({ min: 0, max: 255 }), tie('v')).map(([t, x]) => new Tag(x, t)),
  ),
})).v;

function field(f: FieldSpec): fc.Arbitrary<unknown> {
  const lenOk = (s: string): boolean => utf8Length(s) >= f.min && utf8Length(s) <= f.max;
  switch (f.type) {
    case 'u':
      return fc.oneof(fc.integer({ min: f.min, max: Math.min(f.max, f.min + 300) }), fc.integer({ min: f.min, max: Math.min(f.max, MAX_UINT) }));
    case 'b':
      return fc.boolean();
    case 't':
      return fc.string({ unit: 'grapheme', minLength: f.min, maxLength: Math.min(f.max, 80) }).filter(lenOk);
    case 'y':
      return fc.uint8Array({ minLength: f.min, maxLength: Math.min(f.max, 300) });
    case 'm':
      return fc.record({ amount: fc.maxSafeNat(), currency: fc.stringMatching(/^[A-Z]{3}$/) });
    case 'U':
      return fc.array(fc.integer({ min: 0, max: 255 }), { minLength: f.min, maxLength: f.max });
    case 'L':
      return fc.array(
        fc.record({
          counter: fc.maxSafeNat(),
          kind: fc.integer({ min: 1, max: 2 }),
          amount: fc.maxSafeNat(),
          currency: fc.stringMatching(/^[A-Z]{3}$/),
          party: fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => utf8Length(s) <= 64),
          time: fc.maxSafeNat(),
        }),
        { maxLength: f.max },
      );
  }
  throw new Error(`no generator for schema type ${f.type}`);
}

/** A valid body for `schema`, host model (named fields, JS strings). */
export function body(schema: string): fc.Arbitrary<Record<string, unknown>> {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  const required: string[] = [];
  for (const f of parseSchema(schema)) {
    rec[f.name] = field(f);
    if (!f.optional) required.push(f.name);
  }
  return fc.record(rec, { requiredKeys: required }) as fc.Arbitrary<Record<string, unknown>>;
}

/** A valid message of the catalogue: [direction, type, id, body]. */
export const message = fc.oneof(
  ...Object.keys(REQUEST_SCHEMA).map((t) => fc.tuple(fc.constant('request' as const), fc.constant(Number(t)), fc.integer({ min: 1, max: 4294967295 }), body(REQUEST_SCHEMA[Number(t)]))),
  ...Object.keys(RESPONSE_SCHEMA).map((t) => fc.tuple(fc.constant('response' as const), fc.constant(Number(t)), fc.integer({ min: 0, max: 4294967295 }), body(RESPONSE_SCHEMA[Number(t)]))),
);

/** Deep copy of a named body with every JS string turned into the device's UTF-8 byte string. */
export function toDeviceBody<T>(v: T): T {
  if (typeof v === 'string') return toByteString(v) as T;
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(toDeviceBody) as T;
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toDeviceBody(x);
    return o as T;
  }
  return v;
}

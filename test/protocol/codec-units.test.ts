// Unit tests for the branches the property tests and the fuzzer reach rarely or only
// through the bundle (where jest cannot count coverage): peekId, name lookups, schema
// failures per field type, encoder guards, the frame reader's error isolation.

import { bytesToByteString, CborMap, CborTag, decode, encode } from '../../protocol/src/cbor';
import { decodeMessage, encodeMessage, peekId, cborErrorToMessageError } from '../../protocol/src/codec';
import { CborError } from '../../protocol/src/errors';
import { crc32 } from '../../protocol/src/crc32';
import { encodeFrame, FrameKind, FrameReader, MAX_PAYLOAD } from '../../protocol/src/frame';
import { buildEnvelope, checkEnvelope, errorCodeName, ErrorCode, LINK_LIMITS, msgTypeName, MsgType } from '../../protocol/src/messages';
import { decodeBody, encodeBody, parseSchema, SchemaError } from '../../protocol/src/schema';
import { encodeCanonical, fromModel, toModel, Tag } from '../../shared/src/cbor';
import { defaultTimeoutMs } from '../../host/src/link/device-link';

const b = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s/g, ''), 'hex'));
const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex');

describe('peekId names the request an ERROR answers, whatever else is wrong', () => {
  test.each([
    ['83 06 05 a1 01 00', 5],
    ['83 06 18 2a 80', 42],
    ['83 06 19 0102 80', 0x102],
    ['83 06 1a 89abcdef 80', 0x89abcdef],
    ['83 18 63 07 a0', 7], // a two-byte type
    ['83 06 1b 0000000000000001 a0', 0], // 64-bit ids are not ids
    ['83 19 0001 01 a0', 0], // a type that is not a type
    ['82 06 05', 0], // not a 3-element envelope
    ['83 06', 0], // too short
    ['83 06 18', 0], // id head cut off
    ['83 06 1a 0102', 0],
  ])('%s → %i', (h, id) => expect(peekId(b(h))).toBe(id));
});

test('names of types and error codes, and unknown ones', () => {
  expect(msgTypeName(MsgType.VERIFY_OFFER)).toBe('VERIFY_OFFER');
  expect(msgTypeName(99)).toBe('TYPE_99');
  expect(errorCodeName(ErrorCode.PIN_BLOCKED)).toBe('PIN_BLOCKED');
  expect(errorCodeName(200)).toBe('ERROR_200');
});

test('CBOR refusals map to the wire code the SPEC gives', () => {
  const map = (c: CborError['code']): number => cborErrorToMessageError(new CborError(c, 'x', 3)).code;
  expect(map('TOO_LARGE')).toBe(ErrorCode.TOO_LARGE);
  for (const c of ['NON_CANONICAL', 'UNSORTED_KEYS', 'DUPLICATE_KEY', 'INDEFINITE'] as const) expect(map(c)).toBe(ErrorCode.NON_CANONICAL);
  for (const c of ['TRUNCATED', 'TRAILING', 'UNSUPPORTED', 'BAD_KEY', 'OUT_OF_RANGE', 'INVALID_UTF8', 'TOO_DEEP', 'TOO_LONG', 'TOO_MANY'] as const) expect(map(c)).toBe(ErrorCode.MALFORMED);
  expect(cborErrorToMessageError(new CborError('TRUNCATED', 'input ends', 7)).message).toBe('TRUNCATED at byte 7: input ends');
});

describe('envelope checks', () => {
  const grab = (f: () => unknown): unknown => {
    try {
      return f();
    } catch (e) {
      return e;
    }
  };
  test.each([
    ['type not an integer', ['x', 1, new CborMap()], 'type'],
    ['type 256', [256, 1, new CborMap()], 'type'],
    ['negative id', [1, -1, new CborMap()], 'id'],
    ['id beyond 32 bits', [1, 4294967296, new CborMap()], 'id'],
  ])('%s → MALFORMED', (_n, v, path) => {
    expect(grab(() => checkEnvelope(v as never, 'request'))).toMatchObject({ code: ErrorCode.MALFORMED, path });
  });
  test('a response type the host never sends is UNKNOWN_TYPE in that direction', () => {
    expect(grab(() => checkEnvelope([MsgType.ERROR, 1, new CborMap()], 'request'))).toMatchObject({ code: ErrorCode.UNKNOWN_TYPE });
    expect(grab(() => buildEnvelope(MsgType.STATUS, 1, {}, 'request'))).toMatchObject({ code: ErrorCode.UNKNOWN_TYPE });
  });
  test('building a body checks it: unknown name, wrong value', () => {
    expect(grab(() => buildEnvelope(MsgType.PING, 1, { dta: new Uint8Array(1) }, 'request'))).toMatchObject({ code: ErrorCode.SCHEMA, path: 'body.dta' });
    expect(grab(() => encodeMessage(MsgType.PING, 1, { data: 'not bytes' }, 'request'))).toMatchObject({ code: ErrorCode.SCHEMA, path: 'body.1' });
  });
  test('a well-formed request decodes to named fields', () => {
    expect(decodeMessage(b('83 02 07 a1 01 42 0102'), 'request')).toEqual({ type: 2, id: 7, body: { data: new Uint8Array([1, 2]) } });
  });
});

describe('schema: every field type refuses what it must', () => {
  const S = '1 n u 5 9,2 f b,3 t t 1 3,4 y y 2 2,5 m m,6 U U 1 2,7 L L 0 1';
  const m = (...kv: [number, unknown][]): CborMap => {
    const x = new CborMap();
    for (const [k, v] of kv) x.set(k, v as never);
    return x;
  };
  const base: [number, unknown][] = [[1, 5], [2, true], [3, 'ab'], [4, new Uint8Array(2)], [5, [1, 'EUR']], [6, [1]], [7, []]];
  const withField = (k: number, v: unknown): CborMap => m(...base.map(([kk, vv]) => [kk, kk === k ? v : vv] as [number, unknown]));
  const err = (body: unknown): string => {
    try {
      decodeBody(body as never, S, 'body');
    } catch (e) {
      return (e as SchemaError).path;
    }
    return 'accepted';
  };
  test('the base body is valid', () => expect(err(m(...base))).toBe('accepted'));
  test.each([
    [1, 4], [1, 10], [1, -1], [1, 1.5], [1, 'x'],
    [2, 0], [3, ''], [3, 'abcd'], [3, 7],
    [4, new Uint8Array(1)], [4, 'xx'],
    [5, [1]], [5, [1, 'eur']], [5, [-1, 'EUR']], [5, 'EUR'],
    [6, []], [6, [1, 2, 3]], [6, [256]], [6, 'x'],
    [7, [[1, 1, 1, 'EUR', 'p']]], [7, [[1, 3, 1, 'EUR', 'p', 0]]], [7, [[1, 1, 1, 'EUR', 'p', 0], [1, 1, 1, 'EUR', 'p', 0]]], [7, 'x'],
  ])('field %i = %p is refused at its path', (k, v) => {
    expect(err(withField(k, v))).toMatch(new RegExp(`^body\\.${k}`));
  });
  test('a log entry decodes to named fields', () => {
    expect(decodeBody(withField(7, [[3, 2, 500, 'EUR', 'bank', 1795000000]]), S, 'b').L).toEqual([{ counter: 3, kind: 2, amount: 500, currency: 'EUR', party: 'bank', time: 1795000000 }]);
  });
  test('encodeBody: names map to keys, money and log entries to arrays, undefined is left out', () => {
    const body = encodeBody({ n: 6, f: false, t: 'a', y: new Uint8Array(2), m: { amount: 2, currency: 'CHF' }, U: [3], L: [{ counter: 1, kind: 1, amount: 2, currency: 'EUR', party: 'x', time: 0 }], extra: undefined } as never, S + ',?8 extra u', 'b');
    expect(hex(encode(body))).toBe(hex(encode(m([1, 6], [2, false], [3, 'a'], [4, new Uint8Array(2)], [5, [2, 'CHF']], [6, [3]], [7, [[1, 1, 2, 'EUR', 'x', 0]]]))));
  });
  test('encodeBody refuses what is not money or log entries', () => {
    expect(() => encodeBody({ m: 'x' } as never, '1 m m', 'b')).toThrow(SchemaError);
    expect(() => encodeBody({ L: 'x' } as never, '1 L L 0 1', 'b')).toThrow(SchemaError);
  });
  test('an unknown schema type is a schema error, not a crash', () => {
    expect(err.call(null, m([1, 0]))).not.toBe('accepted');
    expect(() => decodeBody(m([1, 0]), '1 x q', 'b')).toThrow(SchemaError);
  });
  test('parseSchema reads optional fields, ranges and "max"', () => {
    expect(parseSchema('?3 v u 0 max,1 w t 2 4,2 x b')).toEqual([
      { key: 3, name: 'v', type: 'u', optional: true, min: 0, max: 9007199254740991 },
      { key: 1, name: 'w', type: 't', optional: false, min: 2, max: 4 },
      { key: 2, name: 'x', type: 'b', optional: false, min: 0, max: 9007199254740991 },
    ]);
    expect(parseSchema('')).toEqual([]);
  });
});

describe('device CBOR model and helpers', () => {
  test('CborMap get/has/set/size', () => {
    const m = new CborMap().set(1, 'a').set(1, 'b').set('k', null);
    expect(m.size).toBe(2);
    expect(m.get(1)).toBe('b');
    expect(m.get(2)).toBeUndefined();
    expect(m.has('k')).toBe(true);
    expect(m.has('z')).toBe(false);
  });
  test('bytesToByteString uses E.toString where Espruino has it, and falls back when it fails', () => {
    const g = globalThis as { E?: unknown };
    try {
      g.E = { toString: () => 'native' };
      expect(bytesToByteString(new Uint8Array([1]))).toBe('native');
      g.E = { toString: () => undefined }; // no flat string could be allocated
      expect(bytesToByteString(new Uint8Array([0x41, 0xc3]))).toBe('A\xc3');
    } finally {
      delete g.E;
    }
  });
  test('encoder grows its buffer for large values and refuses bad tags and keys', () => {
    const big = new Uint8Array(5000).fill(7);
    expect(decode(encode([big, big]), { ...LINK_LIMITS, maxSize: 20000, maxLength: 10000 })).toEqual([big, big]);
    expect(() => encode(new CborTag(-1, 0))).toThrow(CborError);
    expect(() => encode(new CborTag(1.5, 0))).toThrow(CborError);
    const m = new CborMap();
    m.keys.push(true as never);
    m.values.push(0);
    expect(() => encode(m)).toThrow(CborError);
    const dup = new CborMap();
    dup.keys.push(1, 1);
    dup.values.push(0, 0);
    expect(() => encode(dup)).toThrow(CborError);
    let deep: unknown = 0;
    for (let i = 0; i < 70; i++) deep = [deep];
    expect(() => encode(deep as never)).toThrow(CborError);
  });
});

describe('host CBOR guards', () => {
  test('encodeCanonical: keys and tags outside the profile, deep values, Buffers as byte strings', () => {
    expect(() => encodeCanonical(new Map([[2 ** 53, 0]]) as never)).toThrow(CborError);
    expect(() => encodeCanonical(new Map([['\ud800', 0]]) as never)).toThrow(CborError);
    expect(() => encodeCanonical(new Map<number | string, number>([['a', 0], ['a\u0000', 1], [1, 2], [1, 3]]) as never)).not.toThrow();
    expect(() => encodeCanonical(new Tag(0, -1) as never)).toThrow(CborError);
    let deep: unknown = 0;
    for (let i = 0; i < 70; i++) deep = [deep];
    expect(() => encodeCanonical(deep as never)).toThrow(CborError);
    expect(hex(encodeCanonical(Buffer.from([1, 2])))).toBe('420102');
    // keys beyond 32 bits are written as 64-bit integers, in canonical order
    expect(hex(encodeCanonical(new Map<number | string, number>([[2 ** 40, 0], ['a', 1], [-(2 ** 40), 2]])))).toBe('a3' + '1b0000010000000000' + '00' + '3b000000ffffffffff' + '02' + '6161' + '01');
  });
  test('fromModel and toModel are inverse, tags and text included', () => {
    const v = new Map<number | string, unknown>([[1, [new Tag('x', 18)]], ['k', new Uint8Array([1])]]);
    expect(hex(encodeCanonical(fromModel(toModel(v as never)) as never))).toBe(hex(encodeCanonical(v as never)));
  });
});

test('the frame reader keeps reading after its receiver throws, then reports the error', () => {
  const seen: number[] = [];
  const r = new FrameReader(crc32, (f) => {
    seen.push(f.seq);
    if (f.seq === 1) throw new Error('receiver fault');
  });
  const frames = [1, 2, 3].map((seq) => encodeFrame({ kind: FrameKind.DATA, seq, ack: 0, payload: new Uint8Array([seq]) }, crc32));
  expect(() => r.push(Buffer.concat(frames))).toThrow('receiver fault');
  expect(seen).toEqual([1, 2, 3]);
  // a payload over MAX_PAYLOAD that still fits the buffer is counted as oversize
  const big = encodeFrame({ kind: FrameKind.DATA, seq: 0, ack: 0, payload: new Uint8Array(MAX_PAYLOAD + 5).fill(1) }, crc32);
  r.push(big);
  expect(r.stats.oversize).toBe(1);
  expect(seen).toEqual([1, 2, 3]);
});

test('frames may share a delimiter: a frame without its leading 0x00 is read as well', () => {
  const seen: number[] = [];
  const r = new FrameReader(crc32, (f) => seen.push(f.seq));
  const a = encodeFrame({ kind: FrameKind.ACK, seq: 0, ack: 4, payload: new Uint8Array(0) }, crc32);
  const c = encodeFrame({ kind: FrameKind.EVENT, seq: 9, ack: 4, payload: new Uint8Array([1]) }, crc32, false);
  expect(c[0]).not.toBe(0);
  r.push(Buffer.concat([a, c]));
  expect(seen).toEqual([0, 9]);
});

test('host waits for the person at the device: user operations get their own timeout plus 10 s', () => {
  expect(defaultTimeoutMs(MsgType.PING, { data: new Uint8Array(0) })).toBe(5000);
  expect(defaultTimeoutMs(MsgType.SIGN, { statement: new Uint8Array(1) })).toBe(130000);
  expect(defaultTimeoutMs(MsgType.PURSE_DEBIT, { statement: new Uint8Array(1), timeout: 30 })).toBe(40000);
  expect(defaultTimeoutMs(MsgType.CHANGE_PIN, {})).toBe(130000);
});

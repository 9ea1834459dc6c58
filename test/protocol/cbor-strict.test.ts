// Both decoders refuse everything outside the canonical profile with the same typed
// error — the CTAP2 lessons (unbounded nesting, duplicate keys, huge claimed lengths,
// non-minimal integers, indefinite lengths, bad UTF-8) each have a case here.

import { CborMap, decode, encode, CborLimits } from '../../protocol/src/cbor';
import { CborError } from '../../protocol/src/errors';
import { decodeCanonical, encodeCanonical } from '../../shared/src/cbor';
import { decodeMessage } from '../../protocol/src/codec';
import { decodeHostMessage } from '../../host/src/link/codec';
import { ErrorCode, LINK_LIMITS } from '../../protocol/src/messages';

const L: CborLimits = { maxSize: 1 << 20, maxDepth: 16, maxLength: 4096, maxCount: 64, maxTag: 255 };
const HUGE: CborLimits = { maxSize: 1 << 30, maxDepth: 100000, maxLength: Number.MAX_SAFE_INTEGER, maxCount: Number.MAX_SAFE_INTEGER, maxTag: 255 };
const b = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s/g, ''), 'hex'));

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof CborError ? e.code : `untyped: ${String(e)}`;
  }
  return 'accepted';
}

const cases: [string, string, string, CborLimits?][] = [
  ['0 in two bytes', '1800', 'NON_CANONICAL'],
  ['23 in three bytes', '190017', 'NON_CANONICAL'],
  ['255 in five bytes', '1a000000ff', 'NON_CANONICAL'],
  ['65535 in nine bytes', '1b000000000000ffff', 'NON_CANONICAL'],
  ['-1 in two bytes', '3800', 'NON_CANONICAL'],
  ['string length not minimal', '780161', 'NON_CANONICAL'],
  ['array count not minimal', '9800', 'NON_CANONICAL'],
  ['map count not minimal', 'b800', 'NON_CANONICAL'],
  ['tag not minimal', 'd81200', 'NON_CANONICAL'],
  ['integer keys unsorted', 'a2 02 00 01 00', 'UNSORTED_KEYS'],
  ['negative before positive', 'a2 20 00 00 00', 'UNSORTED_KEYS'],
  ['text keys unsorted', 'a2 6162 00 6161 00', 'UNSORTED_KEYS'],
  ['shorter key first (length-first order)', 'a2 626161 00 6162 00', 'UNSORTED_KEYS'],
  ['duplicate integer key', 'a2 01 00 01 01', 'DUPLICATE_KEY'],
  ['duplicate text key', 'a2 6161 00 6161 00', 'DUPLICATE_KEY'],
  ['byte-string key', 'a1 40 00', 'BAD_KEY'],
  ['array key', 'a1 80 00', 'BAD_KEY'],
  ['indefinite array', '9f ff', 'INDEFINITE'],
  ['lone break', 'ff', 'INDEFINITE'],
  ['half float', 'f93c00', 'UNSUPPORTED'],
  ['undefined', 'f7', 'UNSUPPORTED'],
  ['reserved additional information 28', '1c', 'UNSUPPORTED'],
  ['reserved additional information 30 in a string head', '5e', 'UNSUPPORTED'],
  ['2^53 is beyond the profile', '1b0020000000000000', 'OUT_OF_RANGE'],
  ['-(2^53) is beyond the profile', '3b001fffffffffffff', 'OUT_OF_RANGE'],
  ['tag 256 is beyond the profile', 'd9010000', 'OUT_OF_RANGE'],
  ['invalid UTF-8', '62 c328', 'INVALID_UTF8'],
  ['overlong UTF-8 (C0 80)', '62 c080', 'INVALID_UTF8'],
  ['UTF-8 surrogate', '63 eda080', 'INVALID_UTF8'],
  ['code point above U+10FFFF', '64 f4908080', 'INVALID_UTF8'],
  ['truncated continuation', '62 e282', 'INVALID_UTF8'],
  ['empty input', '', 'TRUNCATED'],
  ['truncated head', '19 01', 'TRUNCATED'],
  ['truncated string', '64 6161', 'TRUNCATED'],
  ['trailing byte', '00 00', 'TRAILING'],
  ['string over the limit', '59 1001' + '61'.repeat(4097), 'TOO_LONG'],
  ['too many entries', '98 41' + '00'.repeat(65), 'TOO_MANY'],
  // CTAP2 lesson: a few bytes that claim gigabytes must not allocate them
  ['4 GiB byte string claimed in 5 bytes', '5a ffffffff', 'TRUNCATED', HUGE],
  ['4 GiB claimed in a non-minimal 9-byte head', '5b 00000000ffffffff', 'NON_CANONICAL', HUGE],
  ['4 G entries claimed in 5 bytes', '9a ffffffff', 'TRUNCATED', HUGE],
  ['4 G map entries claimed in 5 bytes', 'ba ffffffff', 'TRUNCATED', HUGE],
  ['2^53-1 bytes claimed', '5b 001fffffffffffff', 'TRUNCATED', HUGE],
];

describe.each(cases)('%s', (_name, hex, expected, limits) => {
  test(`device and host both: ${expected}`, () => {
    expect(code(() => decode(b(hex), limits ?? L))).toBe(expected);
    expect(code(() => decodeCanonical(b(hex), limits ?? L))).toBe(expected);
  });
});

test('unbounded nesting (10,000 levels) is refused without exhausting the stack', () => {
  const deep = b('81'.repeat(10000) + '00');
  expect(code(() => decode(deep, L))).toBe('TOO_DEEP');
  expect(code(() => decodeCanonical(deep, L))).toBe('TOO_DEEP');
  const tags = b('d2'.repeat(10000) + '00');
  expect(code(() => decode(tags, L))).toBe('TOO_DEEP');
  expect(code(() => decodeCanonical(tags, L))).toBe('TOO_DEEP');
});

test('depth limit is exact: maxDepth levels pass, one more does not', () => {
  const lim = { ...L, maxDepth: 4 };
  expect(code(() => decode(b('81818181 00'), lim))).toBe('accepted');
  expect(code(() => decodeCanonical(b('81818181 00'), lim))).toBe('accepted');
  expect(code(() => decode(b('8181818181 00'), lim))).toBe('TOO_DEEP');
  expect(code(() => decodeCanonical(b('8181818181 00'), lim))).toBe('TOO_DEEP');
});

test('input over maxSize is refused before decoding', () => {
  const big = new Uint8Array(LINK_LIMITS.maxSize + 1);
  expect(code(() => decode(big, LINK_LIMITS))).toBe('TOO_LARGE');
  expect(code(() => decodeCanonical(big, LINK_LIMITS))).toBe('TOO_LARGE');
});

test('encoders refuse values outside the profile', () => {
  for (const v of [1.5, NaN, Infinity, 2 ** 53, -(2 ** 53), undefined, {} as never, (() => 0) as never]) {
    expect(code(() => encode(v as never))).toBe('UNENCODABLE');
    expect(code(() => encodeCanonical(v as never))).toBe('UNENCODABLE');
  }
  expect(code(() => encode('\u20ac'))).toBe('UNENCODABLE'); // device text must be a UTF-8 byte string
  expect(code(() => encode('\xc3('))).toBe('UNENCODABLE'); // ...and well formed
  expect(code(() => encodeCanonical('\ud800'))).toBe('UNENCODABLE'); // lone surrogate
  expect(code(() => encodeCanonical(new Map([[1.5, 0]]) as never))).toBe('UNENCODABLE');
  expect(code(() => encodeCanonical(new Map([[new Uint8Array(1), 0]]) as never))).toBe('UNENCODABLE');
});

test('encoders sort map keys canonically whatever the insertion order', () => {
  const m = new CborMap().set('b', 1).set(10, 2).set('aa', 3).set(-1, 4).set(1, 5);
  const expected = 'a5 01 05 0a 02 20 04 6162 01 626161 03'.replace(/\s/g, '');
  expect(Buffer.from(encode(m)).toString('hex')).toBe(expected);
  const hm = new Map<number | string, number>([['b', 1], [10, 2], ['aa', 3], [-1, 4], [1, 5]]);
  expect(Buffer.from(encodeCanonical(hm)).toString('hex')).toBe(expected);
});

describe('message checks name the wire error and the bad field', () => {
  const both = (hex: string): [unknown, unknown] => {
    const grab = (f: () => unknown): unknown => {
      try {
        return f();
      } catch (e) {
        return e;
      }
    };
    return [grab(() => decodeMessage(b(hex), 'request')), grab(() => decodeHostMessage(b(hex), 'request'))];
  };
  test.each([
    ['not an array', 'a0', ErrorCode.MALFORMED, undefined],
    ['wrong arity', '82 01 01', ErrorCode.MALFORMED, undefined],
    ['non-canonical CBOR', '83 1801 01 a0', ErrorCode.NON_CANONICAL, undefined],
    ['oversize', '5a00000801' + '00'.repeat(2049), ErrorCode.TOO_LARGE, undefined],
    ['unknown type', '83 1863 01 a0', ErrorCode.UNKNOWN_TYPE, undefined],
    ['status is not a request', '83 14 01 a2 01 00 02 f4', ErrorCode.UNKNOWN_TYPE, undefined],
    ['request id 0', '83 06 00 a0', ErrorCode.MALFORMED, 'id'],
    ['body not a map', '83 06 01 80', ErrorCode.SCHEMA, 'body'],
    ['unknown field (hidden data)', '83 06 01 a1 01 00', ErrorCode.SCHEMA, 'body.1'],
    ['missing required field', '83 02 01 a0', ErrorCode.SCHEMA, 'body.1'],
    ['wrong field type', '83 02 01 a1 01 00', ErrorCode.SCHEMA, 'body.1'],
    ['value out of range', '83 01 01 a2 01 00 02 01', ErrorCode.SCHEMA, 'body.1'],
    ['null is not a value', '83 0b 01 a1 01 f6', ErrorCode.SCHEMA, 'body.1'],
  ])('%s', (_n, hex, wire, path) => {
    for (const e of both(hex)) {
      expect(e).toMatchObject({ code: wire });
      if (path) expect((e as { path?: string }).path).toBe(path);
    }
  });
  test('text limits count UTF-8 bytes on both sides', () => {
    // HELLO agent: 0..64 bytes; 22 x "€" = 66 bytes but 22 UTF-16 units
    const agent = '\u20ac'.repeat(22);
    const hex = '83 01 01 a3 01 01 02 01 03 7842' + Buffer.from(agent).toString('hex');
    for (const e of both(hex)) expect(e).toMatchObject({ code: ErrorCode.SCHEMA, path: 'body.3' });
  });
});

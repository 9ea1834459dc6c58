// RFC 8949 Appendix A: every example our profile accepts decodes to the RFC's value and
// re-encodes to the RFC's bytes on BOTH codecs; every other example is refused by both
// with the same typed error.

import vectors from '../vectors/rfc8949-appendix-a.json';
import { decode, encode } from '../../protocol/src/cbor';
import { CborError } from '../../protocol/src/errors';
import { decodeCanonical, encodeCanonical } from '../../shared/src/cbor';
import { diagDevice, diagHost } from '../helpers/cbor-diag';

const LIMITS = { maxSize: 4096, maxDepth: 16, maxLength: 4096, maxCount: 64, maxTag: 255 };
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface Vector {
  rfc: string;
  cbor: string;
  diag?: string;
  reject?: string;
}
const all = (vectors as { vectors: Vector[] }).vectors;
const accepted = all.filter((v) => !v.reject);
const rejected = all.filter((v) => v.reject);

test('the vector file holds the whole of Appendix A', () => {
  expect(all.length).toBe(81);
  expect(accepted.length).toBeGreaterThan(40);
});

describe.each(accepted.map((v) => [v.rfc, v] as const))('accepts %s', (_name, v) => {
  test('device codec: decode → RFC value, encode → RFC bytes', () => {
    const value = decode(bytes(v.cbor), LIMITS);
    expect(diagDevice(value)).toBe(v.diag);
    expect(hex(encode(value))).toBe(v.cbor);
  });
  test('host codec: decode → RFC value, encode → RFC bytes', () => {
    const value = decodeCanonical(bytes(v.cbor), LIMITS);
    expect(diagHost(value)).toBe(v.diag);
    expect(hex(encodeCanonical(value))).toBe(v.cbor);
  });
});

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof CborError) return e.code;
    return `untyped ${String(e)}`;
  }
  return 'accepted';
}

describe.each(rejected.map((v) => [v.rfc, v] as const))('refuses %s', (_name, v) => {
  test(`both codecs: ${v.reject}`, () => {
    expect(codeOf(() => decode(bytes(v.cbor), LIMITS))).toBe(v.reject);
    expect(codeOf(() => decodeCanonical(bytes(v.cbor), LIMITS))).toBe(v.reject);
  });
});

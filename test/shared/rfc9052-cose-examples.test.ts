// RFC 9052 Appendix C: the ES256 examples printed in the RFC, verified byte for byte
// (vectors and provenance in test/vectors/cose/).

import { sha256 } from '@noble/hashes/sha256';
import { encodeCanonical, HostCbor, Tag } from '../../shared/src/cbor';
import { coseKeyFromMap, decodeCoseKey, decodeSign1, encodeCoseKey, publicKeyOf, verifyDigest, verifySign1 } from '../../shared/src/cose';
import vectors from '../vectors/cose/rfc9052-appendix-c.json';

const h = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const key = vectors.keys['11'];
const kid = new TextEncoder().encode('11');
const pub = publicKeyOf({ kty: 2, crv: 1, x: h(key.x), y: h(key.y) });

describe('RFC 9052 C.7 key "11"', () => {
  test('the COSE_Key decodes, d matches x and y, the public serialisation has no d', () => {
    const full = new Map<number | string, HostCbor>([
      [1, 2],
      [2, kid],
      [-1, 1],
      [-2, h(key.x)],
      [-3, h(key.y)],
      [-4, h(key.d)],
    ]);
    const k = coseKeyFromMap(full);
    expect(k.d).toEqual(h(key.d));
    const wire = encodeCoseKey(k);
    expect(decodeCoseKey(wire).d).toBeUndefined();
    expect(encodeCoseKey(k, true)).toEqual(encodeCanonical(full));
  });
});

describe.each(vectors.sign1)('RFC 9052 $section', (v) => {
  const bytes = h(v.cbor);

  test('the bytes are the canonical encoding of the printed structure', () => {
    const value = new Tag([h(v.protected), new Map([[4, h(v.kid)]]), h(v.payload), h(v.signature)], 18);
    expect(Buffer.from(encodeCanonical(value as unknown as HostCbor)).toString('hex')).toBe(v.cbor);
  });

  test('decodes and verifies under the key of C.7', () => {
    const s = verifySign1(bytes, pub);
    expect(s.tagged).toBe(true);
    expect(s.kid).toEqual(kid);
    expect(Buffer.from(s.payload).toString()).toBe('This is the content.');
    expect(s.signature).toEqual(h(v.signature));
  });

  test('untagged, it still verifies (RFC 9052 §2: the tag is optional)', () => {
    const untagged = bytes.subarray(1);
    expect(decodeSign1(untagged).tagged).toBe(false);
    expect(verifySign1(untagged, pub).payload).toEqual(h(v.payload));
  });

  test('one flipped bit in the signature, payload or protected header fails', () => {
    for (const at of [bytes.length - 1, 20, 4]) {
      const t = bytes.slice();
      t[at] ^= 1;
      expect(() => verifySign1(t, pub)).toThrow(expect.objectContaining({ name: 'CoseError' }));
    }
  });
});

describe.each(vectors.sign)('RFC 9052 $section: the ES256 signer', (v) => {
  test('the bytes are the canonical encoding of the printed structure', () => {
    const signer = [h(v.signProtected), new Map([[4, kid]]), h(v.signature)];
    const value = new Tag([h(v.bodyProtected), new Map(), h(v.payload), [signer]], 98);
    expect(Buffer.from(encodeCanonical(value as unknown as HostCbor)).toString('hex')).toBe(v.cbor);
  });

  test('the signature verifies over Sig_structure ["Signature", body, sign, h\'\', payload]', () => {
    const toBeSigned = encodeCanonical(['Signature', h(v.bodyProtected), h(v.signProtected), new Uint8Array(0), h(v.payload)]);
    expect(verifyDigest(pub, sha256(toBeSigned), h(v.signature))).toBe(true);
    toBeSigned[toBeSigned.length - 1] ^= 1;
    expect(verifyDigest(pub, sha256(toBeSigned), h(v.signature))).toBe(false);
  });
});

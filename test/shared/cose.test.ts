// COSE_Sign1, COSE_Encrypt0, COSE_Key: round trips, every tamper refused with a typed error,
// strict decoding, and property tests that random input never escapes as an untyped throw.

import { p256 } from '@noble/curves/p256';
import fc from 'fast-check';
import { encodeCanonical, HostCbor, Tag } from '../../shared/src/cbor';
import {
  CoseError,
  CoseErrorCode,
  coseKeyFromPrivate,
  coseKeyFromPublic,
  decodeCoseKey,
  decodeEncrypt0,
  decodeSign1,
  decryptEncrypt0,
  deriveA256GcmKey,
  encodeCoseKey,
  encryptEncrypt0,
  PROTECTED_ES256,
  publicKeyOf,
  sigStructure,
  signSign1,
  verifySign1,
} from '../../shared/src/cose';
import { sha256 } from '@noble/hashes/sha256';

const priv = p256.utils.randomPrivateKey();
const pub = p256.getPublicKey(priv, false);
const other = p256.getPublicKey(p256.utils.randomPrivateKey(), false);
const payload = new TextEncoder().encode('offer: 3 books, EUR 42.00');
const aad = Uint8Array.of(1, 2, 3);

function code(f: () => unknown): CoseErrorCode {
  try {
    f();
  } catch (e) {
    if (e instanceof CoseError) return e.code;
    throw new Error(`untyped throw: ${String(e)}`);
  }
  throw new Error('did not throw');
}

/** Re-encodes a Sign1 array with one element replaced (still canonical CBOR). */
function rebuild(bytes: Uint8Array, i: number, v: HostCbor): Uint8Array {
  const s = decodeSign1(bytes);
  const arr: HostCbor[] = [s.protectedHdr, s.unprotected, s.payload, s.signature];
  arr[i] = v;
  return encodeCanonical(new Tag(arr, 18) as unknown as HostCbor);
}

describe('COSE_Sign1 / ES256', () => {
  test('round trip: tagged by default, kid in the unprotected header, alg in the protected one', () => {
    const kid = Uint8Array.of(9, 9);
    const b = signSign1(payload, priv, { kid });
    expect(b[0]).toBe(0xd2);
    const s = verifySign1(b, pub);
    expect(s.payload).toEqual(payload);
    expect(s.kid).toEqual(kid);
    expect(s.unprotected.get(4)).toEqual(kid);
    expect([...s.protectedHdr]).toEqual([...PROTECTED_ES256]);
  });

  test('untagged on request, accepted on decode', () => {
    const b = signSign1(payload, priv, { tagged: false });
    expect(b[0]).toBe(0x84);
    expect(verifySign1(b, pub).tagged).toBe(false);
  });

  test('the signature is over SHA-256 of the canonical Sig_structure (RFC 9052 §4.4)', () => {
    const s = decodeSign1(signSign1(payload, priv, { externalAad: aad }));
    const digest = sha256(sigStructure(PROTECTED_ES256, payload, aad));
    expect(p256.verify(s.signature, digest, pub, { format: 'compact', lowS: false })).toBe(true);
  });

  test('external_aad: must match', () => {
    const b = signSign1(payload, priv, { externalAad: aad });
    expect(verifySign1(b, pub, { externalAad: aad }).payload).toEqual(payload);
    expect(code(() => verifySign1(b, pub))).toBe('BAD_SIGNATURE');
    expect(code(() => verifySign1(b, pub, { externalAad: Uint8Array.of(1, 2, 4) }))).toBe('BAD_SIGNATURE');
  });

  test('wrong key, malformed key', () => {
    const b = signSign1(payload, priv);
    expect(code(() => verifySign1(b, other))).toBe('BAD_SIGNATURE');
    expect(code(() => verifySign1(b, pub.subarray(1)))).toBe('BAD_KEY');
    const offCurve = pub.slice();
    offCurve[64] ^= 1;
    expect(code(() => verifySign1(b, offCurve))).toBe('BAD_KEY');
    expect(code(() => signSign1(payload, new Uint8Array(32)))).toBe('BAD_KEY');
  });

  test('tampered payload, protected header, signature', () => {
    const b = signSign1(payload, priv);
    const p2 = payload.slice();
    p2[0] ^= 1;
    expect(code(() => verifySign1(rebuild(b, 2, p2), pub))).toBe('BAD_SIGNATURE');
    // same algorithm, one more protected parameter (content type): different Sig_structure
    expect(code(() => verifySign1(rebuild(b, 0, Uint8Array.of(0xa2, 0x01, 0x26, 0x03, 0x00)), pub))).toBe('BAD_SIGNATURE');
    const sig = decodeSign1(b).signature.slice();
    sig[10] ^= 0x80;
    expect(code(() => verifySign1(rebuild(b, 3, sig), pub))).toBe('BAD_SIGNATURE');
    // moving the kid into the protected header changes what was signed
    expect(code(() => verifySign1(rebuild(rebuild(b, 1, new Map()), 0, encodeCanonical(new Map<number, HostCbor>([[1, -7], [4, Uint8Array.of(1)]]))), pub))).toBe('BAD_SIGNATURE');
  });

  test('structure and header errors are typed', () => {
    const b = signSign1(payload, priv);
    expect(code(() => decodeSign1(rebuild(b, 0, Uint8Array.of(0xa1, 0x01, 0x03))))).toBe('ALGORITHM');
    expect(code(() => decodeSign1(rebuild(b, 0, new Uint8Array(0))))).toBe('ALGORITHM');
    expect(code(() => decodeSign1(rebuild(b, 0, Uint8Array.of(0xa0))))).toBe('HEADER');
    expect(code(() => decodeSign1(rebuild(b, 1, new Map([[1, -7]]))))).toBe('HEADER'); // label in both buckets
    expect(code(() => decodeSign1(rebuild(b, 1, new Map([[2, [1]]]))))).toBe('HEADER'); // crit
    expect(code(() => decodeSign1(rebuild(b, 1, new Map([[4, 'text kid']]))))).toBe('HEADER');
    expect(code(() => decodeSign1(rebuild(b, 2, null)))).toBe('STRUCTURE'); // detached
    expect(code(() => decodeSign1(rebuild(b, 3, new Uint8Array(63))))).toBe('STRUCTURE');
    expect(code(() => decodeSign1(encodeCanonical(new Tag(decodeSign1(b).payload, 17) as unknown as HostCbor)))).toBe('STRUCTURE');
    expect(code(() => decodeSign1(encodeCanonical([1, 2, 3])))).toBe('STRUCTURE');
    expect(code(() => decodeSign1(encodeCanonical(new Tag([PROTECTED_ES256, new Map(), payload, new Uint8Array(64)], 16) as unknown as HostCbor)))).toBe('STRUCTURE');
  });

  test('non-canonical encodings are refused before any signature check', () => {
    const b = signSign1(payload, priv, { tagged: false });
    // the array head 0x84 written long-form (0x98 0x04)
    const longHead = Uint8Array.from([0x98, 0x04, ...b.subarray(1)]);
    expect(code(() => decodeSign1(longHead))).toBe('CBOR');
    // indefinite-length array
    const indefinite = Uint8Array.from([0x9f, ...b.subarray(1), 0xff]);
    expect(code(() => decodeSign1(indefinite))).toBe('CBOR');
    // trailing byte
    expect(code(() => decodeSign1(Uint8Array.from([...b, 0])))).toBe('CBOR');
    // a non-canonical protected header {1: -7} with the key written as 0x18 0x01
    expect(code(() => decodeSign1(rebuild(b, 0, Uint8Array.of(0xa1, 0x18, 0x01, 0x26))))).toBe('CBOR');
    try {
      decodeSign1(longHead);
    } catch (e) {
      expect((e as CoseError).detail).toBe('NON_CANONICAL');
    }
  });

  test('property: random bytes decode to a Sign1 or a CoseError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeSign1(bytes);
        } catch (e) {
          return e instanceof CoseError;
        }
        return true;
      }),
      { numRuns: 5000 },
    );
  });

  test('property: any mutation of a valid Sign1 is a CoseError on verify, or the same payload', () => {
    const b = signSign1(payload, priv, { kid: Uint8Array.of(1) });
    fc.assert(
      fc.property(fc.nat(b.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const t = b.slice();
        t[i] ^= x;
        try {
          verifySign1(t, pub);
          // only bytes outside what is signed may change: the unprotected kid (it is not signed)
          return true;
        } catch (e) {
          return e instanceof CoseError;
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('COSE_Encrypt0 / A256GCM', () => {
  const key = deriveA256GcmKey(new Uint8Array(32).fill(7), { salt: Uint8Array.of(1), purpose: new TextEncoder().encode('test') });

  test('round trip with kid and external_aad; tag 16; fresh IV each time', () => {
    const a = encryptEncrypt0(payload, key, { kid: Uint8Array.of(5), externalAad: aad });
    const b = encryptEncrypt0(payload, key, { kid: Uint8Array.of(5), externalAad: aad });
    expect(a[0]).toBe(0xd0);
    expect(a).not.toEqual(b);
    expect(decryptEncrypt0(a, key, { externalAad: aad })).toEqual(payload);
    const e = decodeEncrypt0(a);
    expect(e.kid).toEqual(Uint8Array.of(5));
    expect(e.iv).toHaveLength(12);
    expect(e.ciphertext).toHaveLength(payload.length + 16);
    expect(decryptEncrypt0(encryptEncrypt0(payload, key, { tagged: false }), key)).toEqual(payload);
  });

  test('tampered ciphertext, IV, protected header or aad; wrong key', () => {
    const a = encryptEncrypt0(payload, key);
    const e = decodeEncrypt0(a);
    const rebuild = (ph: Uint8Array, iv: Uint8Array, ct: Uint8Array) => encodeCanonical(new Tag([ph, new Map([[5, iv]]), ct], 16) as unknown as HostCbor);
    const ct = e.ciphertext.slice();
    ct[0] ^= 1;
    expect(code(() => decryptEncrypt0(rebuild(e.protectedHdr, e.iv, ct), key))).toBe('DECRYPT_FAILED');
    const iv = e.iv.slice();
    iv[0] ^= 1;
    expect(code(() => decryptEncrypt0(rebuild(e.protectedHdr, iv, e.ciphertext), key))).toBe('DECRYPT_FAILED');
    expect(code(() => decryptEncrypt0(rebuild(Uint8Array.of(0xa2, 0x01, 0x03, 0x03, 0x00), e.iv, e.ciphertext), key))).toBe('DECRYPT_FAILED');
    expect(code(() => decryptEncrypt0(a, key, { externalAad: aad }))).toBe('DECRYPT_FAILED');
    const wrong = key.slice();
    wrong[31] ^= 1;
    expect(code(() => decryptEncrypt0(a, wrong))).toBe('DECRYPT_FAILED');
    expect(code(() => decryptEncrypt0(a, key.subarray(1)))).toBe('BAD_KEY');
    expect(code(() => decryptEncrypt0(rebuild(Uint8Array.of(0xa1, 0x01, 0x26), e.iv, e.ciphertext), key))).toBe('ALGORITHM');
    expect(code(() => decryptEncrypt0(rebuild(e.protectedHdr, e.iv.subarray(1), e.ciphertext), key))).toBe('HEADER');
  });

  test('HKDF key derivation separates purposes, parties and salts', () => {
    const s = new Uint8Array(32).fill(7);
    const base = deriveA256GcmKey(s);
    expect(base).toHaveLength(32);
    expect(deriveA256GcmKey(s)).toEqual(base);
    expect(deriveA256GcmKey(s, { purpose: Uint8Array.of(1) })).not.toEqual(base);
    expect(deriveA256GcmKey(s, { salt: Uint8Array.of(1) })).not.toEqual(base);
    expect(deriveA256GcmKey(s, { partyU: { identity: Uint8Array.of(1) } })).not.toEqual(base);
    expect(code(() => deriveA256GcmKey(new Uint8Array(8)))).toBe('BAD_KEY');
  });

  test('property: random bytes decrypt to a CoseError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        try {
          decryptEncrypt0(bytes, key);
          return false; // a forgery would be news
        } catch (e) {
          return e instanceof CoseError;
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('COSE_Key EC2 P-256', () => {
  test('public serialisation carries no d; private only when asked; round trip', () => {
    const k = coseKeyFromPrivate(priv, Uint8Array.of(7));
    const pubOnly = decodeCoseKey(encodeCoseKey(k));
    expect(pubOnly.d).toBeUndefined();
    expect(publicKeyOf(pubOnly)).toEqual(pub);
    expect(decodeCoseKey(encodeCoseKey(k, true)).d).toEqual(priv);
    expect(coseKeyFromPublic(pub).x).toEqual(pub.subarray(1, 33));
  });

  test('malformed keys are BAD_KEY', () => {
    const m = (entries: [number, HostCbor][]) => encodeCanonical(new Map(entries));
    const x = pub.slice(1, 33);
    const y = pub.slice(33);
    expect(code(() => decodeCoseKey(m([[1, 1], [-1, 1], [-2, x], [-3, y]])))).toBe('BAD_KEY'); // kty OKP
    expect(code(() => decodeCoseKey(m([[1, 2], [-1, 2], [-2, x], [-3, y]])))).toBe('BAD_KEY'); // P-384
    expect(code(() => decodeCoseKey(m([[1, 2], [-1, 1], [-2, x], [-3, x]])))).toBe('BAD_KEY'); // off curve
    expect(code(() => decodeCoseKey(m([[1, 2], [-1, 1], [-2, x], [-3, y], [-4, new Uint8Array(32).fill(1)]])))).toBe('BAD_KEY'); // d ≠ x,y
    expect(code(() => decodeCoseKey(m([[1, 2], [-1, 1], [-2, x], [-3, y], [-9, 0]])))).toBe('BAD_KEY');
    expect(code(() => decodeCoseKey(encodeCanonical([1])))).toBe('BAD_KEY');
  });
});

// COSE_Sign1 (RFC 9052 §4.4) with ES256 (ECDSA P-256 + SHA-256, RFC 9053 §2.1), canonical
// CBOR, signature r ‖ s (64 bytes). Used for payment tokens, load instructions and the
// compact certificates the card verifies.

import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { decodeCanonical, encodeCanonical, HostCbor, HostCborMap, Tag } from '../../shared/src/cbor';

/** The serialized protected header {1: -7} (alg: ES256). */
export const PROTECTED_ES256 = Uint8Array.of(0xa1, 0x01, 0x26);

export const CARD_CBOR_LIMITS = { maxSize: 4096, maxDepth: 8, maxLength: 2048, maxCount: 64, maxTag: 255 };

export function sigStructure(protectedHdr: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCanonical(['Signature1', protectedHdr, new Uint8Array(0), payload]);
}

/** Builds COSE_Sign1 = 18([protected, {4: kid}?, payload, r‖s]) signed with `privateKey`. */
export function coseSign1(payload: Uint8Array, privateKey: Uint8Array, kid?: Uint8Array): Uint8Array {
  const digest = sha256(sigStructure(PROTECTED_ES256, payload));
  const sig = p256.sign(digest, privateKey).toCompactRawBytes();
  const unprotected: HostCborMap = new Map();
  if (kid) unprotected.set(4, kid);
  return encodeCanonical(new Tag([PROTECTED_ES256, unprotected, payload, sig], 18) as unknown as HostCbor);
}

export interface Sign1 {
  protectedHdr: Uint8Array;
  unprotected: HostCborMap;
  payload: Uint8Array;
  signature: Uint8Array;
}

/** Decodes a COSE_Sign1 (tagged or not); null when it is not one (or not canonical). */
export function decodeSign1(bytes: Uint8Array): Sign1 | null {
  let v: HostCbor;
  try {
    v = decodeCanonical(bytes, CARD_CBOR_LIMITS);
  } catch (_e) {
    return null;
  }
  if (v instanceof Tag) {
    if (v.tag !== 18) return null;
    v = v.value as HostCbor;
  }
  if (!Array.isArray(v) || v.length !== 4) return null;
  const [ph, uh, pl, sig] = v;
  if (!(ph instanceof Uint8Array) || !(uh instanceof Map) || !(pl instanceof Uint8Array) || !(sig instanceof Uint8Array)) return null;
  if (sig.length !== 64) return null;
  return { protectedHdr: ph, unprotected: uh, payload: pl, signature: sig };
}

export function verifyDigest(publicKey: Uint8Array, digest: Uint8Array, sig: Uint8Array): boolean {
  try {
    return p256.verify(sig, digest, publicKey, { lowS: false });
  } catch (_e) {
    return false;
  }
}

/** Verifies a COSE_Sign1 with ES256 under `publicKey`; returns its payload or null. */
export function verifySign1(bytes: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  const s = decodeSign1(bytes);
  if (!s) return null;
  if (Buffer.compare(Buffer.from(s.protectedHdr), Buffer.from(PROTECTED_ES256)) !== 0) return null;
  const digest = sha256(sigStructure(s.protectedHdr, s.payload));
  return verifyDigest(publicKey, digest, s.signature) ? s.payload : null;
}

/** Decodes a canonical CBOR map payload; null if it is not one. */
export function decodeMap(payload: Uint8Array): HostCborMap | null {
  try {
    const v = decodeCanonical(payload, CARD_CBOR_LIMITS);
    return v instanceof Map ? v : null;
  } catch (_e) {
    return null;
  }
}

// ----------------------------------------------------------------------- certificates

/**
 * Compact certificate: COSE_Sign1 by the CA whose payload is the canonical CBOR map
 *   {1: subject name (tstr 1..64), 2: subject public key (bstr 65, uncompressed P-256),
 *    3: role (1 card, 2 merchant, 3 issuer), ? 4: subject id (bstr), ? 5: notAfter (uint, s)}
 */
export interface Certificate {
  subject: string;
  publicKey: Uint8Array;
  role: 1 | 2 | 3;
  subjectId?: Uint8Array;
  notAfter?: number;
}

export function issueCertificate(c: Certificate, caPrivateKey: Uint8Array): Uint8Array {
  const m: HostCborMap = new Map<number | string, HostCbor>([
    [1, c.subject],
    [2, c.publicKey],
    [3, c.role],
  ]);
  if (c.subjectId) m.set(4, c.subjectId);
  if (c.notAfter !== undefined) m.set(5, c.notAfter);
  return coseSign1(encodeCanonical(m), caPrivateKey);
}

/** Verifies a certificate against the CA key; returns its contents or null. */
export function verifyCertificate(cert: Uint8Array, caPublicKey: Uint8Array): Certificate | null {
  const payload = verifySign1(cert, caPublicKey);
  if (!payload) return null;
  const m = decodeMap(payload);
  if (!m) return null;
  const subject = m.get(1);
  const key = m.get(2);
  const role = m.get(3);
  if (typeof subject !== 'string' || !(key instanceof Uint8Array) || key.length !== 65) return null;
  if (role !== 1 && role !== 2 && role !== 3) return null;
  const out: Certificate = { subject, publicKey: key, role };
  const id = m.get(4);
  if (id instanceof Uint8Array) out.subjectId = id;
  const na = m.get(5);
  if (typeof na === 'number') out.notAfter = na;
  return out;
}

// The card's view of COSE and certificates: the shared implementation (shared/src/cose.ts,
// shared/src/certificate.ts) with failures as null, which the applet turns into status
// words, and the card's numeric roles (APPLET.md). No COSE logic lives here.

import { CborLimits } from '../../protocol/src/cbor';
import { HostCborMap } from '../../shared/src/cbor';
import { CertificateError, issueCertificate as issueShared, roleOfCode, ROLE_CODE, verifyCertificateSignature } from '../../shared/src/certificate';
import { CARD_CBOR_LIMITS, CoseError, decodeMapStrict, decodeSign1 as decodeShared, Sign1, signSign1, verifySign1 as verifyShared } from '../../shared/src/cose';

export { CARD_CBOR_LIMITS, PROTECTED_ES256, sigStructure, verifyDigest } from '../../shared/src/cose';
export type { Sign1 } from '../../shared/src/cose';

function orNull<T>(f: () => T): T | null {
  try {
    return f();
  } catch (e) {
    if (e instanceof CoseError || e instanceof CertificateError) return null;
    throw e;
  }
}

/** COSE_Sign1 = 18([h'a10126', {4: kid}?, payload, r‖s]) signed with `privateKey`. */
export function coseSign1(payload: Uint8Array, privateKey: Uint8Array, kid?: Uint8Array): Uint8Array {
  return signSign1(payload, privateKey, { kid });
}

/** A COSE_Sign1 (tagged or not) within the card's limits; null when it is not one. */
export function decodeSign1(bytes: Uint8Array, limits: CborLimits = CARD_CBOR_LIMITS): Sign1 | null {
  return orNull(() => decodeShared(bytes, limits));
}

/** The payload of a COSE_Sign1 that verifies under `publicKey`; null otherwise. */
export function verifySign1(bytes: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  return orNull(() => verifyShared(bytes, publicKey, { limits: CARD_CBOR_LIMITS }).payload);
}

/** A canonical CBOR map payload; null if it is not one. */
export function decodeMap(payload: Uint8Array): HostCborMap | null {
  return orNull(() => decodeMapStrict(payload, CARD_CBOR_LIMITS));
}

/** A certificate as the card sees it: role 1 card, 2 merchant, 3 issuer, 4 bank, 5 ttp, 6 ca. */
export interface Certificate {
  subject: string;
  publicKey: Uint8Array;
  role: number;
  subjectId?: Uint8Array;
  notAfter?: number;
}

export function issueCertificate(c: Certificate, caPrivateKey: Uint8Array): Uint8Array {
  const role = roleOfCode(c.role);
  if (!role) throw new RangeError(`unknown role ${c.role}`);
  return issueShared({ name: c.subject, publicKey: c.publicKey, role, subjectId: c.subjectId, notAfter: c.notAfter }, caPrivateKey);
}

/** Verifies a certificate against the CA key; returns its contents or null. */
export function verifyCertificate(cert: Uint8Array, caPublicKey: Uint8Array): Certificate | null {
  return orNull(() => {
    const c = verifyCertificateSignature(cert, caPublicKey, CARD_CBOR_LIMITS);
    const out: Certificate = { subject: c.name, publicKey: c.publicKey, role: ROLE_CODE[c.role] };
    if (c.subjectId) out.subjectId = c.subjectId;
    if (c.notAfter !== undefined) out.notAfter = c.notAfter;
    return out;
  });
}

// COSE (RFC 9052 structures, RFC 9053 algorithms) — the one implementation of the project.
//
// - COSE_Sign1 with ES256 (ECDSA P-256 + SHA-256, signature r ‖ s, 64 bytes), canonical
//   CBOR, tag 18 written, tagged and untagged accepted, external_aad, kid in the
//   unprotected header.
// - COSE_Encrypt0 with A256GCM (alg 3): 12-byte IV in the unprotected header, AAD =
//   Enc_structure ["Encrypt0", protected, external_aad]; keys derived with HKDF-SHA-256
//   over a COSE_KDF_Context (RFC 9053 §5.2).
// - COSE_Key, EC2 P-256 (kty 2, crv 1, x, y, and d only when asked for).
//
// Decoding is strict: canonical CBOR only (shared/src/cbor.ts), exact structure, known
// algorithm in the protected header, no label in both headers, no `crit`. Every failure
// is a CoseError with a `code`; nothing else escapes from decode or verify.
// CRYPTO.md beside this folder says what is signed, what is encrypted and why.

import { gcm } from '@noble/ciphers/aes';
import { p256 } from '@noble/curves/p256';
import { hkdf } from '@noble/hashes/hkdf';
import { sha256 } from '@noble/hashes/sha256';
import { randomBytes } from '@noble/hashes/utils';
import { CborLimits } from '../../protocol/src/cbor';
import { CborError } from '../../protocol/src/errors';
import { decodeCanonical, encodeCanonical, HostCbor, HostCborMap, Tag } from './cbor';

/** Why a COSE object was refused. Match on `code`, never on the message. */
export type CoseErrorCode =
  | 'CBOR' // not canonical CBOR within the limits (detail: the CborError code)
  | 'STRUCTURE' // not the expected COSE array / tag / field types
  | 'HEADER' // a header parameter malformed, duplicated across buckets, or `crit` present
  | 'ALGORITHM' // an algorithm other than the one this structure supports here
  | 'BAD_KEY' // a key of the wrong length, not on the curve, or a malformed COSE_Key
  | 'BAD_SIGNATURE' // the signature does not verify under the given key and external_aad
  | 'DECRYPT_FAILED'; // AEAD authentication failed: wrong key, wrong aad or tampered bytes

export class CoseError extends Error {
  override readonly name = 'CoseError';
  constructor(
    readonly code: CoseErrorCode,
    message: string,
    /** For code CBOR: the CborError code from the canonical decoder. */
    readonly detail?: string,
  ) {
    super(message);
  }
}

export function isCoseError(e: unknown): e is CoseError {
  return e instanceof CoseError;
}

/** Header labels (RFC 9052 §3.1) and algorithm ids (RFC 9053) used here. */
export const HDR = { alg: 1, crit: 2, contentType: 3, kid: 4, iv: 5, partialIv: 6 } as const;
export const ALG = { ES256: -7, A256GCM: 3 } as const;
export const TAG = { Sign1: 18, Encrypt0: 16 } as const;

/** The serialized protected header {1: -7} (alg: ES256). */
export const PROTECTED_ES256 = Uint8Array.of(0xa1, 0x01, 0x26);
/** The serialized protected header {1: 3} (alg: A256GCM). */
export const PROTECTED_A256GCM = Uint8Array.of(0xa1, 0x01, 0x03);

/** Default decoding limits for COSE objects (certificates, tokens, offers). */
export const COSE_LIMITS: CborLimits = { maxSize: 65536, maxDepth: 16, maxLength: 65536, maxCount: 256, maxTag: 255 };
/** The smaller limits of the emulated card. */
export const CARD_CBOR_LIMITS: CborLimits = { maxSize: 4096, maxDepth: 8, maxLength: 2048, maxCount: 64, maxTag: 255 };

const EMPTY = new Uint8Array(0);

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** decodeCanonical with CborError turned into CoseError('CBOR'). */
export function decodeStrict(bytes: Uint8Array, limits: CborLimits = COSE_LIMITS): HostCbor {
  if (!(bytes instanceof Uint8Array)) throw new CoseError('STRUCTURE', 'input is not a byte array');
  try {
    return decodeCanonical(bytes, limits);
  } catch (e) {
    if (e instanceof CborError) throw new CoseError('CBOR', `not canonical CBOR: ${e.message} at ${e.offset}`, e.code);
    throw new CoseError('CBOR', 'undecodable CBOR');
  }
}

/** Decodes a canonical CBOR map (e.g. a signed payload); CoseError otherwise. */
export function decodeMapStrict(bytes: Uint8Array, limits: CborLimits = COSE_LIMITS): HostCborMap {
  const v = decodeStrict(bytes, limits);
  if (!(v instanceof Map)) throw new CoseError('STRUCTURE', 'payload is not a CBOR map');
  return v;
}

// ------------------------------------------------------------------------- headers

interface Headers {
  protectedHdr: Uint8Array;
  protectedMap: HostCborMap;
  unprotected: HostCborMap;
}

/** Checks both header buckets (RFC 9052 §3): the protected bstr is a canonical map (or empty), labels unique across buckets, no crit. */
function checkHeaders(ph: HostCbor, uh: HostCbor, limits: CborLimits): Headers {
  if (!(ph instanceof Uint8Array)) throw new CoseError('STRUCTURE', 'protected header is not a byte string');
  if (!(uh instanceof Map)) throw new CoseError('STRUCTURE', 'unprotected header is not a map');
  let pm: HostCborMap = new Map();
  if (ph.length > 0) {
    const v = decodeStrict(ph, limits);
    if (!(v instanceof Map)) throw new CoseError('HEADER', 'protected header is not a map');
    if (v.size === 0) throw new CoseError('HEADER', 'an empty protected map must be sent as a zero-length byte string');
    pm = v;
  }
  for (const k of pm.keys()) {
    if (uh.has(k)) throw new CoseError('HEADER', `label ${String(k)} in both header buckets`);
  }
  if (pm.has(HDR.crit) || uh.has(HDR.crit)) throw new CoseError('HEADER', 'critical header parameters are not supported');
  if (uh.has(HDR.alg)) throw new CoseError('HEADER', 'alg must be in the protected header');
  for (const m of [pm, uh]) {
    const kid = m.get(HDR.kid);
    if (kid !== undefined && !(kid instanceof Uint8Array)) throw new CoseError('HEADER', 'kid is not a byte string');
  }
  return { protectedHdr: ph, protectedMap: pm, unprotected: uh };
}

function untag(v: HostCbor, tag: number, what: string): HostCbor {
  if (v instanceof Tag) {
    if (v.tag !== tag) throw new CoseError('STRUCTURE', `tag ${v.tag} is not ${what} (${tag})`);
    return v.value as HostCbor;
  }
  return v;
}

function unprotectedMap(kid: Uint8Array | undefined, extra?: [number, HostCbor][]): HostCborMap {
  const m: HostCborMap = new Map();
  if (kid) m.set(HDR.kid, kid);
  for (const [k, v] of extra ?? []) m.set(k, v);
  return m;
}

// ------------------------------------------------------------------------ COSE_Key

/** An EC2 P-256 key as COSE_Key (RFC 9052 §7, RFC 9053 §7.1.1). `d` only for private keys. */
export interface CoseKey {
  kty: 2;
  crv: 1;
  x: Uint8Array;
  y: Uint8Array;
  d?: Uint8Array;
  kid?: Uint8Array;
}

const KEY = { kty: 1, kid: 2, alg: 3, crv: -1, x: -2, y: -3, d: -4 } as const;

/** Throws CoseError('BAD_KEY') unless `pub` is an uncompressed SEC1 P-256 point on the curve. */
export function assertPublicKey(pub: Uint8Array): void {
  if (!(pub instanceof Uint8Array) || pub.length !== 65 || pub[0] !== 0x04) throw new CoseError('BAD_KEY', 'public key is not an uncompressed P-256 point (65 bytes, 04 ‖ x ‖ y)');
  try {
    p256.ProjectivePoint.fromHex(pub).assertValidity();
  } catch (_e) {
    throw new CoseError('BAD_KEY', 'public key is not on P-256');
  }
}

/** COSE_Key for the uncompressed SEC1 point `pub` (04 ‖ x ‖ y). */
export function coseKeyFromPublic(pub: Uint8Array, kid?: Uint8Array): CoseKey {
  assertPublicKey(pub);
  const k: CoseKey = { kty: 2, crv: 1, x: pub.slice(1, 33), y: pub.slice(33, 65) };
  if (kid) k.kid = kid;
  return k;
}

/** COSE_Key with `d` for the private scalar `priv` (32 bytes). */
export function coseKeyFromPrivate(priv: Uint8Array, kid?: Uint8Array): CoseKey {
  if (!(priv instanceof Uint8Array) || priv.length !== 32 || !p256.utils.isValidPrivateKey(priv)) throw new CoseError('BAD_KEY', 'private key is not a P-256 scalar of 32 bytes');
  return { ...coseKeyFromPublic(p256.getPublicKey(priv, false), kid), d: priv.slice() };
}

/** The uncompressed SEC1 point (65 bytes) of a COSE_Key. */
export function publicKeyOf(k: CoseKey): Uint8Array {
  const out = new Uint8Array(65);
  out[0] = 4;
  out.set(k.x, 1);
  out.set(k.y, 33);
  return out;
}

/** The COSE_Key as a CBOR map; `d` only with includePrivate (never for keys sent to others). */
export function coseKeyToMap(k: CoseKey, includePrivate = false): HostCborMap {
  const m: HostCborMap = new Map<number | string, HostCbor>([
    [KEY.kty, 2],
    [KEY.crv, 1],
    [KEY.x, k.x],
    [KEY.y, k.y],
  ]);
  if (k.kid) m.set(KEY.kid, k.kid);
  if (includePrivate && k.d) m.set(KEY.d, k.d);
  return m;
}

export function encodeCoseKey(k: CoseKey, includePrivate = false): Uint8Array {
  return encodeCanonical(coseKeyToMap(k, includePrivate));
}

/** Reads an EC2 P-256 COSE_Key map; checks the point (and that d matches it, when present). */
export function coseKeyFromMap(m: HostCbor): CoseKey {
  if (!(m instanceof Map)) throw new CoseError('BAD_KEY', 'COSE_Key is not a map');
  for (const k of m.keys()) {
    if (k !== KEY.kty && k !== KEY.kid && k !== KEY.alg && k !== KEY.crv && k !== KEY.x && k !== KEY.y && k !== KEY.d) throw new CoseError('BAD_KEY', `unexpected COSE_Key label ${String(k)}`);
  }
  if (m.get(KEY.kty) !== 2) throw new CoseError('BAD_KEY', 'kty is not EC2 (2)');
  if (m.get(KEY.crv) !== 1) throw new CoseError('BAD_KEY', 'crv is not P-256 (1)');
  const alg = m.get(KEY.alg);
  if (alg !== undefined && alg !== ALG.ES256) throw new CoseError('BAD_KEY', 'alg is not ES256');
  const x = m.get(KEY.x);
  const y = m.get(KEY.y);
  const d = m.get(KEY.d);
  const kid = m.get(KEY.kid);
  if (!(x instanceof Uint8Array) || x.length !== 32 || !(y instanceof Uint8Array) || y.length !== 32) throw new CoseError('BAD_KEY', 'x and y must be 32-byte strings');
  if (kid !== undefined && !(kid instanceof Uint8Array)) throw new CoseError('BAD_KEY', 'kid is not a byte string');
  const key = coseKeyFromPublic(publicKeyOf({ kty: 2, crv: 1, x, y }), kid);
  if (d !== undefined) {
    if (!(d instanceof Uint8Array)) throw new CoseError('BAD_KEY', 'd is not a byte string');
    const full = coseKeyFromPrivate(d, kid);
    if (!bytesEqual(full.x, x) || !bytesEqual(full.y, y)) throw new CoseError('BAD_KEY', 'd does not match x, y');
    key.d = full.d;
  }
  return key;
}

export function decodeCoseKey(bytes: Uint8Array): CoseKey {
  return coseKeyFromMap(decodeStrict(bytes));
}

// ----------------------------------------------------------------------- COSE_Sign1

/** Sig_structure for COSE_Sign1 (RFC 9052 §4.4), canonically encoded: the bytes that are hashed and signed. */
export function sigStructure(protectedHdr: Uint8Array, payload: Uint8Array, externalAad: Uint8Array = EMPTY): Uint8Array {
  return encodeCanonical(['Signature1', protectedHdr, externalAad, payload]);
}

export interface Sign1Options {
  /** Key identifier, carried in the unprotected header (label 4). */
  kid?: Uint8Array;
  /** Application data bound into the signature but not carried (RFC 9052 §4.3). */
  externalAad?: Uint8Array;
  /** Write tag 18 (default true). */
  tagged?: boolean;
}

/** Builds COSE_Sign1 = 18([h'a10126', {4: kid}?, payload, r ‖ s]) signed with the P-256 `privateKey`. */
export function signSign1(payload: Uint8Array, privateKey: Uint8Array, opts: Sign1Options = {}): Uint8Array {
  if (!(payload instanceof Uint8Array)) throw new CoseError('STRUCTURE', 'payload is not a byte array');
  const digest = sha256(sigStructure(PROTECTED_ES256, payload, opts.externalAad));
  let sig: Uint8Array;
  try {
    sig = p256.sign(digest, privateKey).toCompactRawBytes();
  } catch (_e) {
    throw new CoseError('BAD_KEY', 'private key is not a P-256 scalar of 32 bytes');
  }
  const body: HostCbor = [PROTECTED_ES256, unprotectedMap(opts.kid), payload, sig];
  return encodeCanonical(opts.tagged === false ? body : new Tag(body, TAG.Sign1));
}

/** A decoded COSE_Sign1 whose structure and headers have been checked (not its signature). */
export interface Sign1 {
  protectedHdr: Uint8Array;
  protectedMap: HostCborMap;
  unprotected: HostCborMap;
  payload: Uint8Array;
  signature: Uint8Array;
  kid?: Uint8Array;
  tagged: boolean;
}

/** Decodes a COSE_Sign1 (tag 18 or untagged) with alg ES256. Throws CoseError. */
export function decodeSign1(bytes: Uint8Array, limits: CborLimits = COSE_LIMITS): Sign1 {
  const top = decodeStrict(bytes, limits);
  const v = untag(top, TAG.Sign1, 'COSE_Sign1');
  if (!Array.isArray(v) || v.length !== 4) throw new CoseError('STRUCTURE', 'COSE_Sign1 is not an array of 4');
  const [ph, uh, pl, sig] = v;
  const h = checkHeaders(ph, uh, limits);
  if (pl === null) throw new CoseError('STRUCTURE', 'detached payloads are not supported');
  if (!(pl instanceof Uint8Array)) throw new CoseError('STRUCTURE', 'payload is not a byte string');
  if (!(sig instanceof Uint8Array)) throw new CoseError('STRUCTURE', 'signature is not a byte string');
  if (h.protectedMap.get(HDR.alg) !== ALG.ES256) throw new CoseError('ALGORITHM', 'alg is not ES256 (-7)');
  if (sig.length !== 64) throw new CoseError('STRUCTURE', 'an ES256 signature is r ‖ s, 64 bytes');
  const kid = (h.protectedMap.get(HDR.kid) ?? h.unprotected.get(HDR.kid)) as Uint8Array | undefined;
  const out: Sign1 = { ...h, payload: pl, signature: sig, tagged: top instanceof Tag };
  if (kid) out.kid = kid;
  return out;
}

/**
 * ECDSA P-256 verification of `sig` (r ‖ s, 64 bytes) over a 32-byte digest. High-s
 * signatures are accepted (ECDSA and RFC 9053 allow them). Never throws.
 */
export function verifyDigest(publicKey: Uint8Array, digest: Uint8Array, sig: Uint8Array): boolean {
  try {
    return p256.verify(sig, digest, publicKey, { lowS: false, format: 'compact' });
  } catch (_e) {
    return false;
  }
}

/** Checks the signature of an already decoded COSE_Sign1. Throws CoseError('BAD_SIGNATURE'). */
export function verifyDecodedSign1(s: Sign1, publicKey: Uint8Array, externalAad: Uint8Array = EMPTY): void {
  assertPublicKey(publicKey);
  const digest = sha256(sigStructure(s.protectedHdr, s.payload, externalAad));
  if (!verifyDigest(publicKey, digest, s.signature)) throw new CoseError('BAD_SIGNATURE', 'COSE_Sign1 signature does not verify');
}

/** Decodes and verifies a COSE_Sign1 under `publicKey` (SEC1 uncompressed); returns it. Throws CoseError. */
export function verifySign1(bytes: Uint8Array, publicKey: Uint8Array, opts: { externalAad?: Uint8Array; limits?: CborLimits } = {}): Sign1 {
  const s = decodeSign1(bytes, opts.limits);
  verifyDecodedSign1(s, publicKey, opts.externalAad);
  return s;
}

// -------------------------------------------------------------------- COSE_Encrypt0

/** Enc_structure for COSE_Encrypt0 (RFC 9052 §5.3): the AEAD's additional data. */
export function encStructure(protectedHdr: Uint8Array, externalAad: Uint8Array = EMPTY): Uint8Array {
  return encodeCanonical(['Encrypt0', protectedHdr, externalAad]);
}

export interface Encrypt0Options {
  kid?: Uint8Array;
  externalAad?: Uint8Array;
  /** 12-byte IV; random by default. Never reuse one under the same key. */
  iv?: Uint8Array;
  tagged?: boolean;
}

function assertAesKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw new CoseError('BAD_KEY', 'an A256GCM key is 32 bytes');
}

/** COSE_Encrypt0 = 16([h'a10103', {4: kid?, 5: iv}, ciphertext ‖ tag]) with A256GCM. */
export function encryptEncrypt0(plaintext: Uint8Array, key: Uint8Array, opts: Encrypt0Options = {}): Uint8Array {
  assertAesKey(key);
  const iv = opts.iv ?? randomBytes(12);
  if (iv.length !== 12) throw new CoseError('HEADER', 'an A256GCM IV is 12 bytes');
  const ct = gcm(key, iv, encStructure(PROTECTED_A256GCM, opts.externalAad)).encrypt(plaintext);
  const body: HostCbor = [PROTECTED_A256GCM, unprotectedMap(opts.kid, [[HDR.iv, iv]]), ct];
  return encodeCanonical(opts.tagged === false ? body : new Tag(body, TAG.Encrypt0));
}

export interface Encrypt0 {
  protectedHdr: Uint8Array;
  protectedMap: HostCborMap;
  unprotected: HostCborMap;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  kid?: Uint8Array;
}

/** Decodes a COSE_Encrypt0 (tag 16 or untagged) with alg A256GCM. Throws CoseError. */
export function decodeEncrypt0(bytes: Uint8Array, limits: CborLimits = COSE_LIMITS): Encrypt0 {
  const v = untag(decodeStrict(bytes, limits), TAG.Encrypt0, 'COSE_Encrypt0');
  if (!Array.isArray(v) || v.length !== 3) throw new CoseError('STRUCTURE', 'COSE_Encrypt0 is not an array of 3');
  const [ph, uh, ct] = v;
  const h = checkHeaders(ph, uh, limits);
  if (!(ct instanceof Uint8Array)) throw new CoseError('STRUCTURE', 'ciphertext is not a byte string (detached content is not supported)');
  if (h.protectedMap.get(HDR.alg) !== ALG.A256GCM) throw new CoseError('ALGORITHM', 'alg is not A256GCM (3)');
  const iv = h.unprotected.get(HDR.iv) ?? h.protectedMap.get(HDR.iv);
  if (!(iv instanceof Uint8Array) || iv.length !== 12) throw new CoseError('HEADER', 'IV missing or not 12 bytes');
  if (h.unprotected.has(HDR.partialIv) || h.protectedMap.has(HDR.partialIv)) throw new CoseError('HEADER', 'partial IVs are not supported');
  if (ct.length < 16) throw new CoseError('STRUCTURE', 'ciphertext shorter than the GCM tag');
  const out: Encrypt0 = { ...h, iv, ciphertext: ct };
  const kid = h.protectedMap.get(HDR.kid) ?? h.unprotected.get(HDR.kid);
  if (kid instanceof Uint8Array) out.kid = kid;
  return out;
}

/** Decodes and decrypts a COSE_Encrypt0; returns the plaintext. Throws CoseError ('DECRYPT_FAILED' on any authentication failure). */
export function decryptEncrypt0(bytes: Uint8Array, key: Uint8Array, opts: { externalAad?: Uint8Array; limits?: CborLimits } = {}): Uint8Array {
  assertAesKey(key);
  const e = decodeEncrypt0(bytes, opts.limits);
  try {
    return gcm(key, e.iv, encStructure(e.protectedHdr, opts.externalAad)).decrypt(e.ciphertext);
  } catch (_e) {
    throw new CoseError('DECRYPT_FAILED', 'COSE_Encrypt0 does not authenticate under this key and external_aad');
  }
}

// ------------------------------------------------------------------ key derivation

export interface KdfParty {
  identity?: Uint8Array;
  nonce?: Uint8Array;
  other?: Uint8Array;
}

/**
 * A 256-bit A256GCM key from a shared secret: HKDF-SHA-256 (RFC 5869) with `salt` and
 * info = COSE_KDF_Context (RFC 9053 §5.2):
 *   [AlgorithmID 3, PartyUInfo [identity, nonce, other], PartyVInfo [...], SuppPubInfo [256, h'', ? purpose]]
 * so a key derived for one purpose or pair of parties is never the key of another.
 */
export function deriveA256GcmKey(secret: Uint8Array, ctx: { salt?: Uint8Array; partyU?: KdfParty; partyV?: KdfParty; purpose?: Uint8Array } = {}): Uint8Array {
  if (!(secret instanceof Uint8Array) || secret.length < 16) throw new CoseError('BAD_KEY', 'a shared secret of at least 16 bytes is needed');
  const party = (p?: KdfParty): HostCbor => [p?.identity ?? null, p?.nonce ?? null, p?.other ?? null];
  const supp: HostCbor[] = [256, EMPTY];
  if (ctx.purpose) supp.push(ctx.purpose);
  const info = encodeCanonical([ALG.A256GCM, party(ctx.partyU), party(ctx.partyV), supp]);
  return hkdf(sha256, secret, ctx.salt ?? EMPTY, info, 32);
}

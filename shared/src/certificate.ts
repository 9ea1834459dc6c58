// Compact CBOR certificates, revocation lists and the trust store (SEMPER §3.2 certificates).
//
// A certificate is a COSE_Sign1 (ES256) by the issuing CA whose payload is the canonical map
//   { 1: display name (tstr, 1..64 UTF-8 bytes),
//     2: subject public key (bstr 65, SEC1 uncompressed P-256: the x, y of its COSE_Key),
//     3: role (uint: 1 buyer-card, 2 merchant, 3 issuer, 4 bank, 5 ttp, 6 ca),
//     ? 4: subject id (bstr 1..32),   ? 5: notAfter (uint, seconds since 1970),
//     ? 6: issuer id (bstr 1..32),    ? 7: notBefore (uint, seconds),
//     ? 8: serial (uint, unique per issuer), ? 9: path length (uint, role ca only) }
// Labels 1-5 are the format the emulated card already verifies (board/card/APPLET.md);
// 6-9 were added so the host can build and check chains; the card ignores them. The host
// requires 4-8 in every certificate of a chain (MISSING_FIELD otherwise).
//
// A revocation list is a COSE_Sign1 by a CA over
//   { 1: issuer id (bstr), 2: issued at (uint), 3: [revoked serials, ascending], ? 4: next update (uint) }.

import { CborLimits } from '../../protocol/src/cbor';
import { HostCbor, HostCborMap, encodeCanonical } from './cbor';
import { assertPublicKey, COSE_LIMITS, CoseError, CoseKey, coseKeyFromPublic, decodeMapStrict, decodeSign1, signSign1, Sign1, verifyDecodedSign1 } from './cose';

export type Role = 'buyer-card' | 'merchant' | 'issuer' | 'bank' | 'ttp' | 'ca';

/** Wire codes of the roles; 1-3 are the card's original ones. */
export const ROLE_CODE: Readonly<Record<Role, number>> = { 'buyer-card': 1, merchant: 2, issuer: 3, bank: 4, ttp: 5, ca: 6 };
const ROLE_BY_CODE = new Map<number, Role>(Object.entries(ROLE_CODE).map(([r, c]) => [c, r as Role]));

export function roleOfCode(code: number): Role | undefined {
  return ROLE_BY_CODE.get(code);
}

/** Why a certificate, a revocation list or a chain was refused. */
export type CertificateErrorCode =
  | 'MALFORMED' // not a COSE_Sign1 certificate of this profile (see `cause`)
  | 'MISSING_FIELD' // a field the host requires (subject id, issuer id, validity, serial) is absent
  | 'BAD_SIGNATURE' // not signed by the key of the CA it names
  | 'UNKNOWN_ISSUER' // no trusted or supplied CA certificate with the issuer id
  | 'ISSUER_NOT_CA' // the issuer's certificate does not have role ca
  | 'NOT_SELF_SIGNED' // a root that is not a self-signed CA certificate
  | 'EXPIRED' // `at` is after notAfter
  | 'NOT_YET_VALID' // `at` is before notBefore
  | 'REVOKED' // the serial is on the issuer's revocation list
  | 'REVOCATION_UNKNOWN' // a revocation list was required and none is held for the issuer
  | 'REVOCATION_STALE' // the issuer's revocation list is past its next update
  | 'LOOP' // the chain comes back to a certificate already in it
  | 'PATH_TOO_LONG' // more intermediate CAs than the store or an issuer's path length allows
  | 'WRONG_ROLE'; // the end certificate does not have a role the caller accepts

export class CertificateError extends Error {
  override readonly name = 'CertificateError';
  constructor(
    readonly code: CertificateErrorCode,
    message: string,
    /** Position in the chain: 0 the end certificate, 1 its issuer, ... */
    readonly depth = 0,
    /** The COSE failure underneath MALFORMED or BAD_SIGNATURE. */
    override readonly cause?: CoseError,
  ) {
    super(message);
  }
}

export interface CertificateBody {
  name: string;
  /** SEC1 uncompressed P-256 point, 65 bytes. */
  publicKey: Uint8Array;
  role: Role;
  subjectId?: Uint8Array;
  issuerId?: Uint8Array;
  notBefore?: number;
  notAfter?: number;
  serial?: number;
  /** For role ca: how many intermediate CAs may follow below this one. */
  pathLength?: number;
}

export interface Certificate extends CertificateBody {
  /** The subject key as COSE_Key (public part only). */
  coseKey: CoseKey;
  /** The certificate as received. */
  bytes: Uint8Array;
  sign1: Sign1;
}

const F = { name: 1, key: 2, role: 3, subjectId: 4, notAfter: 5, issuerId: 6, notBefore: 7, serial: 8, pathLength: 9 } as const;
const MAX_NAME = 64;
const MAX_ID = 32;

const utf8 = new TextEncoder();

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isId(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length >= 1 && v.length <= MAX_ID;
}

function malformed(msg: string, cause?: CoseError): never {
  throw new CertificateError('MALFORMED', msg, 0, cause);
}

function asCert<T>(f: () => T, code: 'MALFORMED' | 'BAD_SIGNATURE', what: string): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CoseError) throw new CertificateError(code, `${what}: ${e.message}`, 0, e);
    throw e;
  }
}

/** Checks a body against the profile; the same rules for issuing and decoding. */
function checkBody(b: CertificateBody): void {
  if (typeof b.name !== 'string' || b.name.length === 0 || utf8.encode(b.name).length > MAX_NAME) malformed(`name must be 1..${MAX_NAME} UTF-8 bytes`);
  asCert(() => assertPublicKey(b.publicKey), 'MALFORMED', 'subject key');
  if (ROLE_CODE[b.role] === undefined) malformed('unknown role');
  if (b.subjectId !== undefined && !isId(b.subjectId)) malformed(`subject id must be 1..${MAX_ID} bytes`);
  if (b.issuerId !== undefined && !isId(b.issuerId)) malformed(`issuer id must be 1..${MAX_ID} bytes`);
  for (const [k, v] of [['notBefore', b.notBefore], ['notAfter', b.notAfter], ['serial', b.serial], ['pathLength', b.pathLength]] as const) {
    if (v !== undefined && !isUint(v)) malformed(`${k} must be an unsigned integer`);
  }
  if (b.notBefore !== undefined && b.notAfter !== undefined && b.notBefore > b.notAfter) malformed('notBefore after notAfter');
  if (b.pathLength !== undefined && b.role !== 'ca') malformed('path length on a certificate that is not a CA');
}

/** The canonical payload map of a certificate body. */
function bodyToMap(b: CertificateBody): HostCborMap {
  const m: HostCborMap = new Map<number | string, HostCbor>([
    [F.name, b.name],
    [F.key, b.publicKey],
    [F.role, ROLE_CODE[b.role]],
  ]);
  if (b.subjectId) m.set(F.subjectId, b.subjectId);
  if (b.notAfter !== undefined) m.set(F.notAfter, b.notAfter);
  if (b.issuerId) m.set(F.issuerId, b.issuerId);
  if (b.notBefore !== undefined) m.set(F.notBefore, b.notBefore);
  if (b.serial !== undefined) m.set(F.serial, b.serial);
  if (b.pathLength !== undefined) m.set(F.pathLength, b.pathLength);
  return m;
}

/** Issues (signs) a certificate with the CA's private key. */
export function issueCertificate(body: CertificateBody, issuerPrivateKey: Uint8Array): Uint8Array {
  checkBody(body);
  return signSign1(encodeCanonical(bodyToMap(body)), issuerPrivateKey);
}

/** Decodes a certificate without checking its signature. Throws CertificateError('MALFORMED'). */
export function decodeCertificate(bytes: Uint8Array, limits: CborLimits = COSE_LIMITS): Certificate {
  const sign1 = asCert(() => decodeSign1(bytes, limits), 'MALFORMED', 'certificate');
  const m = asCert(() => decodeMapStrict(sign1.payload, limits), 'MALFORMED', 'certificate payload');
  for (const k of m.keys()) if (typeof k !== 'number' || k < F.name || k > F.pathLength) malformed(`unknown certificate field ${String(k)}`);
  const name = m.get(F.name);
  const publicKey = m.get(F.key);
  const roleCode = m.get(F.role);
  if (typeof name !== 'string') malformed('name is not text');
  if (!(publicKey instanceof Uint8Array)) malformed('subject key is not a byte string');
  const role = isUint(roleCode) ? roleOfCode(roleCode) : undefined;
  if (!role) malformed('unknown role');
  const body: CertificateBody = { name, publicKey, role };
  const subjectId = m.get(F.subjectId);
  const issuerId = m.get(F.issuerId);
  if (subjectId !== undefined) body.subjectId = subjectId as Uint8Array;
  if (issuerId !== undefined) body.issuerId = issuerId as Uint8Array;
  for (const [field, label] of [['notBefore', F.notBefore], ['notAfter', F.notAfter], ['serial', F.serial], ['pathLength', F.pathLength]] as const) {
    const v = m.get(label);
    if (v !== undefined) {
      if (!isUint(v)) malformed(`${field} must be an unsigned integer`);
      body[field] = v;
    }
  }
  checkBody(body);
  return { ...body, coseKey: coseKeyFromPublic(publicKey), bytes, sign1 };
}

/** Decodes a certificate and checks that `issuerPublicKey` signed it. Throws CertificateError. */
export function verifyCertificateSignature(bytes: Uint8Array, issuerPublicKey: Uint8Array, limits: CborLimits = COSE_LIMITS): Certificate {
  const c = decodeCertificate(bytes, limits);
  asCert(() => verifyDecodedSign1(c.sign1, issuerPublicKey), 'BAD_SIGNATURE', 'certificate');
  return c;
}

// ------------------------------------------------------------------ revocation lists

export interface RevocationListBody {
  issuerId: Uint8Array;
  issuedAt: number;
  nextUpdate?: number;
  serials: number[];
}

export interface RevocationList extends RevocationListBody {
  bytes: Uint8Array;
}

export function issueRevocationList(body: RevocationListBody, caPrivateKey: Uint8Array): Uint8Array {
  const serials = [...new Set(body.serials)].sort((a, b) => a - b);
  if (!isId(body.issuerId) || !isUint(body.issuedAt) || !serials.every(isUint)) malformed('revocation list fields');
  const m: HostCborMap = new Map<number | string, HostCbor>([
    [1, body.issuerId],
    [2, body.issuedAt],
    [3, serials],
  ]);
  if (body.nextUpdate !== undefined) m.set(4, body.nextUpdate);
  return signSign1(encodeCanonical(m), caPrivateKey);
}

/** Decodes a revocation list and checks the CA's signature. Throws CertificateError. */
export function verifyRevocationList(bytes: Uint8Array, caPublicKey: Uint8Array): RevocationList {
  const s = asCert(() => decodeSign1(bytes), 'MALFORMED', 'revocation list');
  asCert(() => verifyDecodedSign1(s, caPublicKey), 'BAD_SIGNATURE', 'revocation list');
  const m = asCert(() => decodeMapStrict(s.payload), 'MALFORMED', 'revocation list payload');
  const issuerId = m.get(1);
  const issuedAt = m.get(2);
  const serials = m.get(3);
  const nextUpdate = m.get(4);
  if (m.size !== (nextUpdate === undefined ? 3 : 4)) malformed('unknown revocation list field');
  if (!isId(issuerId) || !isUint(issuedAt) || !Array.isArray(serials) || !serials.every(isUint)) malformed('revocation list fields');
  for (let i = 1; i < serials.length; i++) if ((serials[i] as number) <= (serials[i - 1] as number)) malformed('revoked serials not ascending and unique');
  if (nextUpdate !== undefined && (!isUint(nextUpdate) || nextUpdate < issuedAt)) malformed('next update');
  const out: RevocationList = { issuerId, issuedAt, serials: serials as number[], bytes };
  if (nextUpdate !== undefined) out.nextUpdate = nextUpdate;
  return out;
}

// ----------------------------------------------------------------------- trust store

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export interface TrustStoreOptions {
  /** Most intermediate CAs allowed between an end certificate and a root (default 3). */
  maxIntermediates?: number;
  /** Fail with REVOCATION_UNKNOWN when no revocation list is held for an issuer (default false). */
  requireRevocationList?: boolean;
}

export interface ValidateOptions {
  /** Further CA certificates offered with the end certificate (e.g. sent by a peer). */
  intermediates?: Uint8Array[];
  /** Roles the end certificate may have. */
  roles?: Role[];
}

/** Roots (self-signed CA certificates), known intermediates, revocation lists; validates chains at a given time. */
export class TrustStore {
  private readonly roots = new Map<string, Certificate[]>();
  private readonly intermediates = new Map<string, Certificate[]>();
  private readonly crls = new Map<string, RevocationList>();
  private readonly maxIntermediates: number;
  private readonly requireCrl: boolean;

  constructor(opts: TrustStoreOptions = {}) {
    this.maxIntermediates = opts.maxIntermediates ?? 3;
    this.requireCrl = opts.requireRevocationList ?? false;
  }

  /** Adds a trust anchor: a self-signed CA certificate with subject id = issuer id. */
  addRoot(bytes: Uint8Array): Certificate {
    const c = decodeCertificate(bytes);
    requireFields(c, 0);
    if (c.role !== 'ca') throw new CertificateError('NOT_SELF_SIGNED', 'a root must have role ca');
    if (hex(c.subjectId!) !== hex(c.issuerId!)) throw new CertificateError('NOT_SELF_SIGNED', 'a root names itself as issuer');
    asCert(() => verifyDecodedSign1(c.sign1, c.publicKey), 'BAD_SIGNATURE', 'root');
    push(this.roots, hex(c.subjectId!), c);
    return c;
  }

  /** Adds a CA certificate to search when building chains (checked only when a chain uses it). */
  addIntermediate(bytes: Uint8Array): Certificate {
    const c = decodeCertificate(bytes);
    requireFields(c, 0);
    push(this.intermediates, hex(c.subjectId!), c);
    return c;
  }

  /**
   * Adds a revocation list, verified with the key of a CA the store holds. A list older
   * than the one held is ignored (returns false).
   */
  addRevocationList(bytes: Uint8Array): boolean {
    const s = asCert(() => decodeSign1(bytes), 'MALFORMED', 'revocation list');
    const m = asCert(() => decodeMapStrict(s.payload), 'MALFORMED', 'revocation list payload');
    const id = m.get(1);
    if (!isId(id)) malformed('revocation list issuer id');
    const cas = [...(this.roots.get(hex(id)) ?? []), ...(this.intermediates.get(hex(id)) ?? [])].filter((c) => c.role === 'ca');
    if (cas.length === 0) throw new CertificateError('UNKNOWN_ISSUER', 'revocation list from a CA the store does not hold');
    let list: RevocationList | undefined;
    let last: CertificateError | undefined;
    for (const ca of cas) {
      try {
        list = verifyRevocationList(bytes, ca.publicKey);
        break;
      } catch (e) {
        if (!(e instanceof CertificateError)) throw e;
        last = e;
      }
    }
    if (!list) throw last!;
    const held = this.crls.get(hex(id));
    if (held && held.issuedAt >= list.issuedAt) return false;
    this.crls.set(hex(id), list);
    return true;
  }

  /**
   * Builds the chain from `end` up to a root and checks every link at time `at` (seconds):
   * validity, issuer role, signature, revocation, loops and path length. Returns the chain,
   * end certificate first, root last. Throws CertificateError naming the failed link's depth.
   */
  validate(end: Uint8Array, at: number, opts: ValidateOptions = {}): Certificate[] {
    const offered = new Map<string, Certificate[]>();
    for (const b of opts.intermediates ?? []) {
      const c = decodeCertificate(b);
      if (c.subjectId) push(offered, hex(c.subjectId), c);
    }
    let cur = decodeCertificate(end);
    if (opts.roles && !opts.roles.includes(cur.role)) throw new CertificateError('WRONG_ROLE', `role ${cur.role} not accepted here`);
    const chain: Certificate[] = [];
    const seen = new Set<string>();
    for (;;) {
      const depth = chain.length;
      requireFields(cur, depth);
      checkTime(cur, at, depth);
      const self = `${hex(cur.subjectId!)}/${hex(cur.sign1.signature)}`;
      if (seen.has(self)) throw new CertificateError('LOOP', 'the chain comes back to a certificate already in it', depth);
      seen.add(self);
      chain.push(cur);
      const root = (this.roots.get(hex(cur.subjectId!)) ?? []).find((r) => bytesEq(r.bytes, cur.bytes));
      if (root) return chain;
      const issuerKey = hex(cur.issuerId!);
      const candidates = [...(this.roots.get(issuerKey) ?? []), ...(this.intermediates.get(issuerKey) ?? []), ...(offered.get(issuerKey) ?? [])];
      if (candidates.length === 0) throw new CertificateError('UNKNOWN_ISSUER', 'no CA certificate for the issuer id', depth);
      const cas = candidates.filter((c) => c.role === 'ca');
      if (cas.length === 0) throw new CertificateError('ISSUER_NOT_CA', 'the issuer is not a CA', depth);
      const issuer = cas.find((c) => {
        try {
          verifyDecodedSign1(cur.sign1, c.publicKey);
          return true;
        } catch (_e) {
          return false;
        }
      });
      if (!issuer) throw new CertificateError('BAD_SIGNATURE', 'not signed by the CA it names', depth);
      this.checkRevocation(cur, at, depth);
      // CAs strictly between the end certificate and `issuer`
      const below = chain.length - 1;
      const issuerIsRoot = (this.roots.get(issuerKey) ?? []).some((r) => r === issuer);
      if (below + (issuerIsRoot ? 0 : 1) > this.maxIntermediates) throw new CertificateError('PATH_TOO_LONG', `more than ${this.maxIntermediates} intermediate CAs`, depth + 1);
      if (issuer.pathLength !== undefined && below > issuer.pathLength) throw new CertificateError('PATH_TOO_LONG', `the issuer allows ${issuer.pathLength} CAs below it`, depth + 1);
      cur = issuer;
    }
  }

  private checkRevocation(c: Certificate, at: number, depth: number): void {
    const crl = this.crls.get(hex(c.issuerId!));
    if (!crl) {
      if (this.requireCrl) throw new CertificateError('REVOCATION_UNKNOWN', 'no revocation list held for the issuer', depth);
      return;
    }
    if (crl.nextUpdate !== undefined && at > crl.nextUpdate) throw new CertificateError('REVOCATION_STALE', 'the issuer revocation list is past its next update', depth);
    if (crl.serials.includes(c.serial!)) throw new CertificateError('REVOKED', `serial ${c.serial} is revoked`, depth);
  }
}

function push(m: Map<string, Certificate[]>, k: string, c: Certificate): void {
  const l = m.get(k);
  if (l) {
    if (!l.some((x) => bytesEq(x.bytes, c.bytes))) l.push(c);
  } else m.set(k, [c]);
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

function requireFields(c: Certificate, depth: number): void {
  for (const f of ['subjectId', 'issuerId', 'notBefore', 'notAfter', 'serial'] as const) {
    if (c[f] === undefined) throw new CertificateError('MISSING_FIELD', `certificate without ${f}`, depth);
  }
}

function checkTime(c: Certificate, at: number, depth: number): void {
  if (at < c.notBefore!) throw new CertificateError('NOT_YET_VALID', `not valid before ${c.notBefore}`, depth);
  if (at > c.notAfter!) throw new CertificateError('EXPIRED', `expired at ${c.notAfter}`, depth);
}

// The certification authority and its registration authority (seed §3.2 "certificates",
// brief §2 "CA / RA"): binds names to keys. Every certificate it issues and every revocation is
// a record of its tamper-evident archive (kind `certificate`), so the issued set can be audited
// and `semper archive verify` checks it; serial numbers follow from that archive.
//
// Registration as in the trials: the RA hands the customer a one-time registration code out of
// band (a letter); the customer's card signs a DOCUMENT statement with that code on the device
// (SIGN: OK + PIN), which proves possession of the card key; the CA recovers the key from the
// signature (ECDSA public-key recovery, picking the candidate whose key id the card reported),
// and issues the buyer-card certificate. The code works once.

import { randomBytes } from '@noble/hashes/utils';
import { sha256 } from '@noble/hashes/sha256';
import { p256 } from '@noble/curves/p256';
import { encodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { CertificateBody, decodeCertificate, issueCertificate, issueRevocationList, Role } from '../../../shared/src/certificate';
import { PROTECTED_ES256, sigStructure } from '../../../shared/src/cose';
import { ArchiveStore } from '../services/archive';

export type CaErrorCode =
  | 'BAD_REQUEST' // malformed or unacceptable request (name, key, serial, body)
  | 'NOT_FOUND' // no such serial, or no such registration code
  | 'ALREADY_USED' // the registration code has been used
  | 'EXPIRED' // the registration code has expired
  | 'BAD_PROOF' // the card's signature is not over this code's statement, or not by the key it names
  | 'REVOKED' // revoked already
  | 'WRONG_KEY' // the archive's root was made with another CA key
  | 'TOO_LARGE' // (HTTP) a body over the limit
  | 'TOO_MANY_FAILURES' // (HTTP) this client failed too many registrations lately
  | 'UNREACHABLE' // (client) the CA did not answer
  | 'BAD_ANSWER' // (client) the CA's answer does not verify or says something else than asked
  | 'INTERNAL'; // (HTTP) anything else: nothing was issued

export class CaError extends Error {
  override readonly name = 'CaError';
  constructor(
    readonly code: CaErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface CaOptions {
  /** The CA's name and key (role ca in the key store). */
  name: string;
  privateKey: Uint8Array;
  /** The CA's subject id (2..16 bytes), in every certificate it issues as issuer id. */
  id: Uint8Array;
  archive: ArchiveStore;
  /** Seconds since 1970 (default: system time). */
  now?: () => number;
}

export interface IssuedCertificate {
  serial: number;
  name: string;
  role: Role;
  certificate: Uint8Array;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ISSUED = /^issued (\d+) /;
const REVOKED = /^revoked (\d+)$/;

export class CertificationAuthority {
  readonly publicKey: Uint8Array;
  private readonly now: () => number;
  /** Issuing reads the archive, then appends: one at a time, or two would get the same serial (or one code two certificates). */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: CaOptions) {
    this.publicKey = p256.getPublicKey(o.privateKey, false);
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
    if (o.id.length < 2 || o.id.length > 16) throw new CaError('BAD_REQUEST', 'a CA id is 2..16 bytes');
  }

  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.tail.then(f, f);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * The self-signed root (serial 1), made at the first call and archived. WRONG_KEY if the
   * archive's root holds another key than this CA's: what it would sign would not chain to it.
   */
  root(validYears = 20): Promise<Uint8Array> {
    return this.exclusive(() => this.rootNow(validYears));
  }

  private async rootNow(validYears = 20): Promise<Uint8Array> {
    const first = (await this.issued()).find((c) => c.serial === 1);
    if (first) {
      if (!sameBytes(decodeCertificate(first.certificate).publicKey, this.publicKey)) throw new CaError('WRONG_KEY', 'the root in this archive was made with another CA key: give the key it was made with, or another --db');
      return first.certificate;
    }
    const now = this.now();
    return this.record({ name: this.o.name, publicKey: this.publicKey, role: 'ca', subjectId: this.o.id, issuerId: this.o.id, notBefore: now, notAfter: now + validYears * 365 * 86400, serial: 1, pathLength: 0 });
  }

  /** Issues a certificate (role merchant, bank, ttp, issuer, buyer-card) for `publicKey`. */
  issue(r: { name: string; publicKey: Uint8Array; role: Role; subjectId?: Uint8Array; validDays?: number }): Promise<Uint8Array> {
    return this.exclusive(() => this.issueNow(r));
  }

  private async issueNow(r: { name: string; publicKey: Uint8Array; role: Role; subjectId?: Uint8Array; validDays?: number }): Promise<Uint8Array> {
    if (r.role === 'ca') throw new CaError('BAD_REQUEST', 'this CA issues no intermediate CAs');
    checkName(r.name);
    if (r.subjectId && (r.subjectId.length < 1 || r.subjectId.length > 32)) throw new CaError('BAD_REQUEST', 'a subject id is 1..32 bytes');
    try {
      p256.ProjectivePoint.fromHex(r.publicKey).assertValidity();
      if (r.publicKey.length !== 65) throw new Error('not uncompressed');
    } catch (_e) {
      throw new CaError('BAD_REQUEST', 'the public key is not an uncompressed P-256 point (65 bytes)');
    }
    await this.rootNow();
    const now = this.now();
    const serial = Math.max(1, ...(await this.issued()).map((c) => c.serial)) + 1;
    // a subject without an id of its own (a card brings its card id) is named by its key's id
    const body: CertificateBody = { name: r.name, publicKey: r.publicKey, role: r.role, subjectId: r.subjectId ?? sha256(r.publicKey).slice(0, 8), issuerId: this.o.id, notBefore: now, notAfter: now + (r.validDays ?? 730) * 86400, serial };
    return this.record(body);
  }

  private async record(body: CertificateBody): Promise<Uint8Array> {
    const certificate = issueCertificate(body, this.o.privateKey);
    await this.o.archive.append({ kind: 'certificate', counterparty: body.name, label: `issued ${body.serial} ${body.role} ${body.name}`.slice(0, 200), evidence: certificate });
    return certificate;
  }

  /** Every certificate issued, in order. */
  async issued(): Promise<IssuedCertificate[]> {
    const out: IssuedCertificate[] = [];
    for (const r of await this.o.archive.list({ kind: 'certificate' })) {
      const m = ISSUED.exec(r.label ?? '');
      if (!m || !r.evidence) continue;
      const c = decodeCertificate(r.evidence);
      out.push({ serial: Number(m[1]), name: c.name, role: c.role, certificate: Uint8Array.from(r.evidence) });
    }
    return out;
  }

  /** Revokes a serial (once; the root cannot be). */
  revoke(serial: number, reason: string): Promise<void> {
    return this.exclusive(() => this.revokeNow(serial, reason));
  }

  private async revokeNow(serial: number, reason: string): Promise<void> {
    if (serial === 1) throw new CaError('BAD_REQUEST', 'the root is not revoked: replace the CA');
    if (!(await this.issued()).some((c) => c.serial === serial)) throw new CaError('NOT_FOUND', `no certificate with serial ${serial}`);
    if ((await this.revoked()).includes(serial)) throw new CaError('REVOKED', `serial ${serial} is revoked already`);
    await this.o.archive.append({ kind: 'certificate', label: `revoked ${serial}`, note: reason.slice(0, 200) });
  }

  async revoked(): Promise<number[]> {
    const out: number[] = [];
    for (const r of await this.o.archive.list({ kind: 'certificate' })) {
      const m = REVOKED.exec(r.label ?? '');
      if (m) out.push(Number(m[1]));
    }
    return out;
  }

  /** The current revocation list, signed (next update in `days`). */
  async revocationList(days = 7): Promise<Uint8Array> {
    const now = this.now();
    return issueRevocationList({ issuerId: this.o.id, issuedAt: now, nextUpdate: now + days * 86400, serials: await this.revoked() }, this.o.privateKey);
  }

  // ---------------------------------------------------------------- registration (RA)

  /**
   * A one-time registration code for `name` (what the RA sends by letter); valid for `days`.
   * Only its hash is kept. 64 random bits (`REGISTRATION_CODE`): guessing one on line is
   * hopeless, and the HTTP face also stops a client after a few failures.
   */
  async registrationCode(name: string, days = 30): Promise<string> {
    checkName(name); // refused now, not after the card holder has signed
    const code = hex(randomBytes(8)).toUpperCase().replace(/(.{4})(?!$)/g, '$1-');
    await this.o.archive.append({ kind: 'note', label: `registration ${hex(sha256(new TextEncoder().encode(code)))}`, counterparty: name, note: `${name}\n${this.now() + days * 86400}` });
    return code;
  }

  /**
   * Registers a card: `signed` is the card's COSE_Sign1 (SIGN on the device) over the DOCUMENT
   * statement `registrationStatement(code)`, `kid` the key id the device reported. Issues the
   * buyer-card certificate for the key that made the signature. BAD_PROOF, NOT_FOUND, EXPIRED,
   * ALREADY_USED otherwise.
   */
  register(r: { code: string; statement: Uint8Array; signature: Uint8Array; kid: Uint8Array; cardId?: Uint8Array }): Promise<Uint8Array> {
    return this.exclusive(() => this.registerNow(r));
  }

  private async registerNow(r: { code: string; statement: Uint8Array; signature: Uint8Array; kid: Uint8Array; cardId?: Uint8Array }): Promise<Uint8Array> {
    const codeHash = hex(sha256(new TextEncoder().encode(r.code)));
    const notes = await this.o.archive.list({ kind: 'note' });
    const grant = notes.find((n) => n.label === `registration ${codeHash}`);
    if (!grant) throw new CaError('NOT_FOUND', 'no such registration code');
    if (notes.some((n) => n.label === `registered ${codeHash}`)) throw new CaError('ALREADY_USED', 'this registration code has been used');
    const [name, until] = (grant.note ?? '').split('\n');
    if (Number(until) < this.now()) throw new CaError('EXPIRED', 'this registration code has expired: ask the RA for a new one');
    if (!sameBytes(r.statement, registrationStatement(r.code))) throw new CaError('BAD_PROOF', 'the signed statement is not this code\u2019s registration statement');
    const key = recoverKey(r.statement, r.signature, r.kid);
    if (!key) throw new CaError('BAD_PROOF', 'the signature was not made by the key the card names');
    const certificate = await this.issueNow({ name: name || 'card holder', publicKey: key, role: 'buyer-card', ...(r.cardId ? { subjectId: r.cardId } : {}) });
    await this.o.archive.append({ kind: 'note', label: `registered ${codeHash}`, counterparty: name });
    return certificate;
  }
}

/** The form of a registration code: 16 hex digits (64 random bits) in groups of four. */
export const REGISTRATION_CODE = /^[0-9A-F]{4}(-[0-9A-F]{4}){3}$/;

function checkName(name: string): void {
  // the certificate format counts UTF-8 bytes, not characters
  if (name.length === 0 || new TextEncoder().encode(name).length > 64 || /\p{Cc}/u.test(name)) throw new CaError('BAD_REQUEST', 'a name is 1..64 UTF-8 bytes without control characters');
}

/** A card's key id: the first 8 bytes of SHA-256 of its SEC1 public key. */
export const KID_LENGTH = 8;

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** The DOCUMENT statement (protocol/SPEC.md §5.4) the card signs to register with `code`. */
export function registrationStatement(code: string): Uint8Array {
  return encodeCanonical(new Map<number, HostCbor>([[1, 2], [2, 'Registration'], [7, `Register this card with the code ${code}`]]));
}

/**
 * The public key that made an ES256 signature over `statement` (COSE Sig_structure with the
 * device's protected header), among the two recovery candidates the one whose key id
 * (first 8 bytes of SHA-256 of the SEC1 key) is `kid`.
 */
export function recoverKey(statement: Uint8Array, signature: Uint8Array, kid: Uint8Array): Uint8Array | undefined {
  // a shorter key id would let either candidate pass (an empty one matches any key)
  if (signature.length !== 64 || kid.length !== KID_LENGTH) return undefined;
  const digest = sha256(sigStructure(PROTECTED_ES256, statement));
  for (const bit of [0, 1]) {
    try {
      const pub = p256.Signature.fromCompact(signature).addRecoveryBit(bit).recoverPublicKey(digest).toRawBytes(false);
      if (sameBytes(sha256(pub).slice(0, kid.length), kid) && p256.verify(signature, digest, pub, { lowS: false })) return pub;
    } catch (_e) {
      // not this candidate
    }
  }
  return undefined;
}


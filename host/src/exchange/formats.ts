// The signed objects of the exchange layer (PROTOCOLS.md): the agreement and its
// countersignature, the messages between the two parties, the escrow of a generateable item,
// the third party's requests, decisions and affidavits. All canonical CBOR in COSE_Sign1
// (ES256); every one names the exchange it belongs to, so nothing of one exchange can be
// replayed into another.

import type { ExchangeEnabling } from '../transfer/openness';
import { sha256 } from '@noble/hashes/sha256';
import { p256 } from '@noble/curves/p256';
import { decodeCanonical, encodeCanonical, HostCbor, HostCborMap } from '../../../shared/src/cbor';
import { CoseError, COSE_LIMITS, decodeEncrypt0, decodeSign1, decryptEncrypt0, deriveA256GcmKey, encryptEncrypt0, Sign1, signSign1, verifyDecodedSign1 } from '../../../shared/src/cose';
import { ExchangeError } from './errors';

// ------------------------------------------------------------------ vocabulary

/** The exchange-enabling properties a transfer can offer (seed §3.4). */
export const PROPERTY = { 'externally-verifiable': 1, revocable: 2, generateable: 4 } as const satisfies Record<ExchangeEnabling, number>;
export type ExchangeProperty = keyof typeof PROPERTY;

export function propertyBits(p: readonly ExchangeProperty[]): number {
  return p.reduce((b, x) => b | PROPERTY[x], 0);
}

export function hasProperty(bits: number, p: ExchangeProperty): boolean {
  return (bits & PROPERTY[p]) !== 0;
}

export const PROTOCOLS = ['plain/1', 'gen-ev/1', 'rev-rev/1'] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];

/** What one side promises to give: the item type, the properties its transfer offers, and what exactly it must be. */
export interface ItemDescription {
  /** The exchange module's type name: "payment", "statement", "information", "credential", or a module added at run time. */
  type: string;
  /** PROPERTY bits the transfer of this item offers. */
  properties: number;
  /** Type-specific: amount and payee of a payment, content hash of information, signer of a statement… */
  spec: HostCborMap;
  /** Words for people (the device, the arbiter's report). */
  label: string;
}

export interface Party {
  name: string;
  /** SEC1 uncompressed P-256 public key. */
  publicKey: Uint8Array;
}

export interface Agreement {
  /** 16 random bytes. */
  id: Uint8Array;
  protocol: ProtocolName;
  originator: Party;
  responder: Party;
  ttp: Party;
  originatorItem: ItemDescription;
  responderItem: ItemDescription;
  /** ms since 1970 on the third party's clock: the last moment it resolves or aborts. */
  deadline: number;
  /** ms since 1970. */
  created: number;
  /** SHA-256 of the escrow that carries the originator's item (gen-ev with generation by escrow). */
  escrowHash?: Uint8Array;
}

export const MAX_ITEMS = 16;

// ------------------------------------------------------------------ reading CBOR maps

/** Typed access to a decoded map; every failure is MALFORMED with the field's path. */
export class Fields {
  constructor(
    readonly m: HostCborMap,
    readonly path: string,
  ) {}

  static decode(bytes: Uint8Array, path: string): Fields {
    let v: HostCbor;
    try {
      v = decodeCanonical(bytes, COSE_LIMITS);
    } catch (e) {
      throw new ExchangeError('MALFORMED', `${path}: not canonical CBOR (${(e as Error).message})`, path);
    }
    if (!(v instanceof Map)) throw new ExchangeError('MALFORMED', `${path}: not a map`, path);
    return new Fields(v, path);
  }

  fail(k: number, what: string): never {
    throw new ExchangeError('MALFORMED', `${this.path}/${k}: ${what}`, `${this.path}/${k}`);
  }

  only(keys: number[]): this {
    for (const k of this.m.keys()) if (typeof k !== 'number' || !keys.includes(k)) throw new ExchangeError('MALFORMED', `${this.path}/${String(k)}: unexpected field`, `${this.path}/${String(k)}`);
    return this;
  }

  has(k: number): boolean {
    return this.m.has(k);
  }

  text(k: number, max = 256): string {
    const v = this.m.get(k);
    if (typeof v !== 'string' || v.length === 0 || v.length > max) this.fail(k, `text of 1..${max} characters expected`);
    return v;
  }

  bytes(k: number, length?: number, max = 1 << 20): Uint8Array {
    const v = this.m.get(k);
    if (!(v instanceof Uint8Array) || (length !== undefined && v.length !== length) || v.length > max) this.fail(k, length === undefined ? 'bytes expected' : `${length} bytes expected`);
    return v;
  }

  uint(k: number): number {
    const v = this.m.get(k);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(k, 'unsigned integer expected');
    return v;
  }

  map(k: number): Fields {
    const v = this.m.get(k);
    if (!(v instanceof Map)) this.fail(k, 'map expected');
    return new Fields(v, `${this.path}/${k}`);
  }

  bytesList(k: number, max = MAX_ITEMS): Uint8Array[] {
    const v = this.m.get(k) ?? [];
    if (!Array.isArray(v) || v.length > max || !v.every((x) => x instanceof Uint8Array)) this.fail(k, `a list of at most ${max} byte strings expected`);
    return v as Uint8Array[];
  }

  magic(k: number, value: string): this {
    if (this.m.get(k) !== value) this.fail(k, `"${value}" expected`);
    return this;
  }
}

// ------------------------------------------------------------------ signing helpers

function coseFail(e: unknown, what: string): never {
  if (e instanceof CoseError) throw new ExchangeError(e.code === 'BAD_SIGNATURE' ? 'BAD_SIGNATURE' : 'MALFORMED', `${what}: ${e.message}`, e.code);
  throw e;
}

export function signMap(m: HostCborMap, privateKey: Uint8Array): Uint8Array {
  return signSign1(encodeCanonical(m), privateKey);
}

/** Decodes a COSE_Sign1 whose payload is a canonical map with `magic` at key 1; the signature is not checked yet. */
export function openSigned(bytes: Uint8Array, magic: string): { sign1: Sign1; f: Fields } {
  let s: Sign1;
  try {
    s = decodeSign1(bytes);
  } catch (e) {
    return coseFail(e, magic);
  }
  return { sign1: s, f: Fields.decode(s.payload, magic).magic(1, magic) };
}

export function checkSignature(s: Sign1, publicKey: Uint8Array, what: string): void {
  try {
    verifyDecodedSign1(s, publicKey);
  } catch (e) {
    coseFail(e, what);
  }
}

/** Decodes and verifies under `publicKey`. */
export function verifySigned(bytes: Uint8Array, magic: string, publicKey: Uint8Array): Fields {
  const { sign1, f } = openSigned(bytes, magic);
  checkSignature(sign1, publicKey, magic);
  return f;
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

// ------------------------------------------------------------------ descriptions and parties

export function descriptionToCbor(d: ItemDescription): HostCborMap {
  return new Map<number, HostCbor>([[1, d.type], [2, d.properties], [3, d.spec], [4, d.label]]);
}

export function descriptionOf(f: Fields): ItemDescription {
  f.only([1, 2, 3, 4]);
  const properties = f.uint(2);
  if (properties > 7) f.fail(2, 'unknown property bits');
  return { type: f.text(1, 64), properties, spec: f.map(3).m, label: f.text(4, 512) };
}

function partyToCbor(p: Party): HostCbor {
  return [p.name, p.publicKey];
}

function partyOf(v: HostCbor | undefined, f: Fields, k: number): Party {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || v[0].length === 0 || !(v[1] instanceof Uint8Array) || v[1].length !== 65) f.fail(k, '[name, SEC1 public key of 65 bytes] expected');
  return { name: v[0], publicKey: v[1] };
}

// ------------------------------------------------------------------ the agreement

const AGREEMENT = 'semper-exchange';
const ACCEPT = 'semper-exchange-accept';

export function agreementPayload(a: Agreement): Uint8Array {
  const m = new Map<number, HostCbor>([
    [1, AGREEMENT],
    [2, a.id],
    [3, a.protocol],
    [4, partyToCbor(a.originator)],
    [5, partyToCbor(a.responder)],
    [6, partyToCbor(a.ttp)],
    [7, descriptionToCbor(a.originatorItem)],
    [8, descriptionToCbor(a.responderItem)],
    [9, a.deadline],
    [10, a.created],
  ]);
  if (a.escrowHash) m.set(11, a.escrowHash);
  return encodeCanonical(m);
}

/** The originator's signature over the agreement. */
export function signAgreement(a: Agreement, originatorKey: Uint8Array): Uint8Array {
  return signSign1(agreementPayload(a), originatorKey);
}

export interface OpenedAgreement {
  agreement: Agreement;
  /** The O-signed COSE_Sign1 as received. */
  signed: Uint8Array;
  /** SHA-256 of the signed payload: what payments, receipts and decisions bind to. */
  hash: Uint8Array;
}

/** Decodes an agreement and checks it is signed by the originator it names. */
export function openAgreement(signed: Uint8Array): OpenedAgreement {
  const { sign1, f } = openSigned(signed, AGREEMENT);
  f.only([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const protocol = f.text(3, 16);
  if (!(PROTOCOLS as readonly string[]).includes(protocol)) f.fail(3, `one of ${PROTOCOLS.join(', ')}`);
  const a: Agreement = {
    id: f.bytes(2, 16),
    protocol: protocol as ProtocolName,
    originator: partyOf(f.m.get(4), f, 4),
    responder: partyOf(f.m.get(5), f, 5),
    ttp: partyOf(f.m.get(6), f, 6),
    originatorItem: descriptionOf(f.map(7)),
    responderItem: descriptionOf(f.map(8)),
    deadline: f.uint(9),
    created: f.uint(10),
  };
  if (f.has(11)) a.escrowHash = f.bytes(11, 32);
  if (a.deadline <= a.created) f.fail(9, 'the deadline must come after the agreement');
  checkSignature(sign1, a.originator.publicKey, 'agreement');
  return { agreement: a, signed, hash: sha256(sign1.payload) };
}

/** The responder's countersignature: it agrees to exactly this agreement. */
export function signAcceptance(agreementHash: Uint8Array, responderKey: Uint8Array): Uint8Array {
  return signMap(new Map<number, HostCbor>([[1, ACCEPT], [2, agreementHash]]), responderKey);
}

export function verifyAcceptance(acceptance: Uint8Array, opened: OpenedAgreement): void {
  const f = verifySigned(acceptance, ACCEPT, opened.agreement.responder.publicKey).only([1, 2]);
  if (!sameBytes(f.bytes(2, 32), opened.hash)) throw new ExchangeError('WRONG_EXCHANGE', 'the countersignature is for another agreement');
}

// ------------------------------------------------------------------ escrow (generation by the third party)

const ESCROW_PURPOSE = new TextEncoder().encode('semper-escrow/1');
const escrowAad = (exchangeId: Uint8Array): Uint8Array => encodeCanonical(['semper-escrow', exchangeId]);

function escrowKey(shared: Uint8Array, exchangeId: Uint8Array, ephemeral: Uint8Array, ttp: Party): Uint8Array {
  return deriveA256GcmKey(shared, { salt: exchangeId, partyU: { nonce: ephemeral }, partyV: { identity: new TextEncoder().encode(ttp.name), other: ttp.publicKey }, purpose: ESCROW_PURPOSE });
}

/**
 * The originator's item encrypted to the third party (ECDH-ES with a fresh key, HKDF, A256GCM —
 * the construction of the transfer layer's confidentiality): canonical [ephemeral public key, COSE_Encrypt0].
 */
export function makeEscrow(item: Uint8Array, exchangeId: Uint8Array, ttp: Party): Uint8Array {
  const eph = p256.utils.randomPrivateKey();
  const ephPub = p256.getPublicKey(eph, false);
  const shared = p256.getSharedSecret(eph, ttp.publicKey, false).slice(1, 33);
  const key = escrowKey(shared, exchangeId, ephPub, ttp);
  return encodeCanonical([ephPub, encryptEncrypt0(item, key, { externalAad: escrowAad(exchangeId) })]);
}

/** The third party opens an escrow with its static key. MALFORMED if it does not decrypt. */
export function openEscrow(escrow: Uint8Array, exchangeId: Uint8Array, ttp: Party, ttpPrivateKey: Uint8Array): Uint8Array {
  let v: HostCbor;
  try {
    v = decodeCanonical(escrow, COSE_LIMITS);
  } catch (_e) {
    throw new ExchangeError('MALFORMED', 'escrow: not canonical CBOR', 'escrow');
  }
  if (!Array.isArray(v) || v.length !== 2 || !(v[0] instanceof Uint8Array) || v[0].length !== 65 || !(v[1] instanceof Uint8Array)) throw new ExchangeError('MALFORMED', 'escrow: [ephemeral key, COSE_Encrypt0] expected', 'escrow');
  try {
    decodeEncrypt0(v[1]);
    const shared = p256.getSharedSecret(ttpPrivateKey, v[0], false).slice(1, 33);
    return decryptEncrypt0(v[1], escrowKey(shared, exchangeId, v[0], ttp), { externalAad: escrowAad(exchangeId) });
  } catch (e) {
    throw new ExchangeError('MISMATCH', `escrow does not open: ${(e as Error).message}`, 'escrow');
  }
}

// ------------------------------------------------------------------ messages between the parties

const MESSAGE = 'semper-exchange-message';

/** Steps of a conversation (PROTOCOLS.md): who speaks when follows from the protocol and the roles. */
export const STEP = { propose: 0, agreement: 1, responderItem: 2, originatorItem: 3, done: 4, terms: 5, failed: 9 } as const;
export type StepName = keyof typeof STEP;
const STEP_NAMES = Object.keys(STEP) as StepName[];

export interface ExchangeMessage {
  exchangeId: Uint8Array;
  step: StepName;
  /** The sender's name: the receiver checks the signature with the key it expects for it. */
  sender: string;
  body: HostCborMap;
}

export function signMessage(msg: ExchangeMessage, privateKey: Uint8Array): Uint8Array {
  return signMap(new Map<number, HostCbor>([[1, MESSAGE], [2, msg.exchangeId], [3, STEP[msg.step]], [4, msg.sender], [5, msg.body]]), privateKey);
}

/** Decodes a message; its signature is checked by the caller with `checkSignature` once it knows the sender's key. */
export function openMessage(bytes: Uint8Array): { msg: ExchangeMessage; sign1: Sign1 } {
  const { sign1, f } = openSigned(bytes, MESSAGE);
  f.only([1, 2, 3, 4, 5]);
  const code = f.uint(3);
  const step = STEP_NAMES.find((n) => STEP[n] === code) ?? f.fail(3, 'unknown step');
  return { msg: { exchangeId: f.bytes(2, 16), step, sender: f.text(4), body: f.map(5).m }, sign1 };
}

// ------------------------------------------------------------------ the third party

const REQUEST = 'semper-ttp-request';
const DECISION = 'semper-ttp-decision';
const AFFIDAVIT = 'semper-affidavit';

export const TTP_OPS = ['resolve', 'abort', 'status'] as const;
export type TtpOp = (typeof TTP_OPS)[number];
export const OUTCOMES = ['resolved', 'expired', 'aborted', 'completed', 'open'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface TtpRequest {
  op: TtpOp;
  /** The originator-signed agreement. */
  agreement: Uint8Array;
  /** The responder's countersignature, when the requester has it. */
  acceptance?: Uint8Array;
  /** Encoded transfer-layer elements: the evidence (resolve: the responder's item; abort: the transfers made). */
  items: Uint8Array[];
  escrow?: Uint8Array;
  /** ms. */
  time: number;
}

export function signTtpRequest(r: TtpRequest, privateKey: Uint8Array): Uint8Array {
  const m = new Map<number, HostCbor>([[1, REQUEST], [2, r.op], [3, r.agreement], [5, r.items], [7, r.time]]);
  if (r.acceptance) m.set(4, r.acceptance);
  if (r.escrow) m.set(6, r.escrow);
  return signMap(m, privateKey);
}

export function openTtpRequest(bytes: Uint8Array): { request: TtpRequest; sign1: Sign1 } {
  const { sign1, f } = openSigned(bytes, REQUEST);
  f.only([1, 2, 3, 4, 5, 6, 7]);
  const op = f.text(2, 16);
  if (!(TTP_OPS as readonly string[]).includes(op)) f.fail(2, `one of ${TTP_OPS.join(', ')}`);
  const request: TtpRequest = { op: op as TtpOp, agreement: f.bytes(3), items: f.bytesList(5), time: f.uint(7) };
  if (f.has(4)) request.acceptance = f.bytes(4);
  if (f.has(6)) request.escrow = f.bytes(6);
  return { request, sign1 };
}

export interface Decision {
  exchangeId: Uint8Array;
  agreementHash: Uint8Array;
  outcome: Outcome;
  /** Items the third party generated in place of withheld ones (affidavits, opened escrows), encoded elements. */
  generated: Uint8Array[];
  /** The responder's items it was shown (forwarded to the originator), encoded elements. */
  forwarded: Uint8Array[];
  /** Refund authorisations (payment/README.md "semper-refund") for revoked payments. */
  refunds: Uint8Array[];
  /** ms. */
  time: number;
  reason: string;
}

export function signDecision(d: Decision, privateKey: Uint8Array): Uint8Array {
  return signMap(
    new Map<number, HostCbor>([
      [1, DECISION],
      [2, d.exchangeId],
      [3, d.agreementHash],
      [4, d.outcome],
      [5, d.generated],
      [6, d.forwarded],
      [7, d.refunds],
      [8, d.time],
      [9, d.reason],
    ]),
    privateKey,
  );
}

/** Verifies a decision under the third party's key and that it is about `agreementHash`. */
export function verifyDecision(bytes: Uint8Array, ttpKey: Uint8Array, agreementHash?: Uint8Array): Decision {
  const f = verifySigned(bytes, DECISION, ttpKey).only([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const outcome = f.text(4, 16);
  if (!(OUTCOMES as readonly string[]).includes(outcome)) f.fail(4, `one of ${OUTCOMES.join(', ')}`);
  const d: Decision = {
    exchangeId: f.bytes(2, 16),
    agreementHash: f.bytes(3, 32),
    outcome: outcome as Outcome,
    generated: f.bytesList(5),
    forwarded: f.bytesList(6),
    refunds: f.bytesList(7),
    time: f.uint(8),
    reason: typeof f.m.get(9) === 'string' ? (f.m.get(9) as string) : f.fail(9, 'text expected'),
  };
  if (agreementHash && !sameBytes(d.agreementHash, agreementHash)) throw new ExchangeError('WRONG_EXCHANGE', 'the decision is about another agreement');
  return d;
}

export interface Affidavit {
  exchangeId: Uint8Array;
  agreementHash: Uint8Array;
  /** The description of the item it stands in for. */
  replaces: ItemDescription;
  /** SHA-256 of the responder's evidence the third party checked. */
  evidenceHash: Uint8Array;
  time: number;
}

/** A third-party-signed statement standing in for a withheld signature (e.g. a receipt). */
export function signAffidavit(a: Affidavit, privateKey: Uint8Array): Uint8Array {
  return signMap(new Map<number, HostCbor>([[1, AFFIDAVIT], [2, a.exchangeId], [3, a.agreementHash], [4, descriptionToCbor(a.replaces)], [5, a.evidenceHash], [6, a.time]]), privateKey);
}

export function verifyAffidavit(bytes: Uint8Array, ttpKey: Uint8Array): Affidavit {
  const f = verifySigned(bytes, AFFIDAVIT, ttpKey).only([1, 2, 3, 4, 5, 6]);
  return { exchangeId: f.bytes(2, 16), agreementHash: f.bytes(3, 32), replaces: descriptionOf(f.map(4)), evidenceHash: f.bytes(5, 32), time: f.uint(6) };
}

export const AFFIDAVIT_FORMAT = 'semper-affidavit/1';

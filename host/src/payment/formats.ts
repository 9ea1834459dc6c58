// The signed objects of payment, host side: the card's payment token (board/card/APPLET.md,
// verified here with the card's CA-issued certificate), the account instrument's payment
// order, the buyer's load request and the issuer's load instruction (APPLET.md format).
// README.md in this folder lists every field.

import { LoadInstruction, PaymentToken, signLoadInstruction } from '../../../shared/src/purse';
import { sha256 } from '@noble/hashes/sha256';
import { encodeCanonical, HostCbor, HostCborMap } from '../../../shared/src/cbor';
import { Certificate, CertificateError, TrustStore } from '../../../shared/src/certificate';
import { CoseError, decodeMapStrict, decodeSign1, Sign1, signSign1, verifyDecodedSign1 } from '../../../shared/src/cose';

export type PaymentErrorCode =
  | 'MALFORMED' // not the format (detail: the field)
  | 'BAD_SIGNATURE' // the signature does not verify under the key it must come from
  | 'CERTIFICATE' // the card certificate does not validate (detail: the CertificateError code)
  | 'WRONG_CARD' // the token's card id is not the certificate's subject id
  | 'MISMATCH' // payee, amount, currency or transaction digest differ from what was expected
  | 'NOT_SETTLED'; // the bank refused or could not be reached (detail: its code)

export class PaymentError extends Error {
  override readonly name = 'PaymentError';
  constructor(
    readonly code: PaymentErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

const CURRENCY = /^[A-Z]{3}$/;
export const kidOf = (publicKey: Uint8Array): Uint8Array => sha256(publicKey).slice(0, 8);
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function fail(field: string, msg: string): never {
  throw new PaymentError('MALFORMED', `${field}: ${msg}`, field);
}

function cose<T>(f: () => T, code: PaymentErrorCode, what: string): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof CoseError) throw new PaymentError(code, `${what}: ${e.code}`, e.code);
    throw e;
  }
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isAmount = (v: unknown): v is number => isUint(v) && v > 0;

function money(v: HostCbor | undefined, field: string): [number, string] {
  if (!Array.isArray(v) || v.length !== 2 || !isAmount(v[0]) || typeof v[1] !== 'string' || !CURRENCY.test(v[1])) fail(field, '[amount > 0, ISO 4217 code] expected');
  return [v[0], v[1]];
}

function exactKeys(m: HostCborMap, required: number[], optional: number[], what: string): void {
  for (const k of m.keys()) if (typeof k !== 'number' || (!required.includes(k) && !optional.includes(k))) fail(`${what}/${String(k)}`, 'unexpected field');
  for (const k of required) if (!m.has(k)) fail(`${what}/${k}`, 'missing');
}

function signedMap(bytes: Uint8Array, what: string): { s: Sign1; m: HostCborMap } {
  const s = cose(() => decodeSign1(bytes), 'MALFORMED', what);
  return { s, m: cose(() => decodeMapStrict(s.payload), 'MALFORMED', `${what} payload`) };
}

// ------------------------------------------------------------------ payment token (card)

export type { PaymentToken };

/** Decodes a card payment token without checking its signature (the bank's first look). */
export function decodePaymentToken(bytes: Uint8Array): { token: PaymentToken; sign1: Sign1 } {
  const { s, m } = signedMap(bytes, 'token');
  exactKeys(m, [1, 2, 3, 4, 5, 6], [], 'token');
  const [cardId, counter, payee, , txDigest, time] = [1, 2, 3, 4, 5, 6].map((k) => m.get(k));
  if (!(cardId instanceof Uint8Array) || cardId.length !== 8) fail('token/1', 'card id of 8 bytes');
  if (!isUint(counter)) fail('token/2', 'counter');
  if (typeof payee !== 'string' || payee.length === 0) fail('token/3', 'payee');
  const [amount, currency] = money(m.get(4), 'token/4');
  if (!(txDigest instanceof Uint8Array) || txDigest.length !== 32) fail('token/5', 'transaction digest of 32 bytes');
  if (!isUint(time)) fail('token/6', 'time');
  return { token: { cardId, counter, payee, amount, currency, txDigest, time }, sign1: s };
}

/**
 * Verifies a card-signed payment token: the card certificate validates in `trust` at `at`
 * (seconds) with role buyer-card, the token's card id is the certificate's subject id, the
 * kid (when present) names the certified key, and the COSE signature verifies with it.
 */
export function verifyPaymentToken(bytes: Uint8Array, cardCertificate: Uint8Array, trust: TrustStore, at: number, intermediates: Uint8Array[] = []): { token: PaymentToken; certificate: Certificate } {
  const { token, sign1 } = decodePaymentToken(bytes);
  let cert: Certificate;
  try {
    [cert] = trust.validate(cardCertificate, at, { roles: ['buyer-card'], intermediates });
  } catch (e) {
    if (e instanceof CertificateError) throw new PaymentError('CERTIFICATE', `card certificate: ${e.message}`, e.code);
    throw e;
  }
  if (!cert.subjectId || hex(cert.subjectId) !== hex(token.cardId)) throw new PaymentError('WRONG_CARD', 'the token comes from another card than the certificate names');
  if (sign1.kid && hex(sign1.kid) !== hex(kidOf(cert.publicKey))) throw new PaymentError('BAD_SIGNATURE', 'the token names another key');
  cose(() => verifyDecodedSign1(sign1, cert.publicKey), 'BAD_SIGNATURE', 'token signature');
  return { token, certificate: cert };
}

// ------------------------------------------------------------------ payment order (account instrument)

export interface PaymentOrder {
  payer: string;
  payee: string;
  amount: number;
  currency: string;
  /** 16 random bytes, hex: the bank settles each order id once. */
  orderId: string;
  txDigest: Uint8Array;
  /** Seconds since 1970. */
  time: number;
}

const ORDER = 'semper-payment-order';

/** COSE_Sign1 by the payer's account key over {1: tag, 2: payer, 3: payee, 4: [amount, currency], 5: order id, 6: tx digest, 7: time}. */
export function signPaymentOrder(o: PaymentOrder, payerPrivateKey: Uint8Array, payerPublicKey: Uint8Array): Uint8Array {
  const m = new Map<number | string, HostCbor>([
    [1, ORDER],
    [2, o.payer],
    [3, o.payee],
    [4, [o.amount, o.currency]],
    [5, Buffer.from(o.orderId, 'hex')],
    [6, o.txDigest],
    [7, o.time],
  ]);
  decodeOrderMap(m); // the same rules as the reader
  return signSign1(encodeCanonical(m), payerPrivateKey, { kid: kidOf(payerPublicKey) });
}

function decodeOrderMap(m: HostCborMap): PaymentOrder {
  exactKeys(m, [1, 2, 3, 4, 5, 6, 7], [], 'order');
  const [tag, payer, payee, , id, txDigest, time] = [1, 2, 3, 4, 5, 6, 7].map((k) => m.get(k));
  if (tag !== ORDER) fail('order/1', 'not a payment order');
  if (typeof payer !== 'string' || payer.length === 0 || payer.length > 64) fail('order/2', 'payer account');
  if (typeof payee !== 'string' || payee.length === 0 || payee.length > 64) fail('order/3', 'payee account');
  const [amount, currency] = money(m.get(4), 'order/4');
  if (!(id instanceof Uint8Array) || id.length !== 16) fail('order/5', 'order id of 16 bytes');
  if (!(txDigest instanceof Uint8Array) || txDigest.length !== 32) fail('order/6', 'transaction digest of 32 bytes');
  if (!isUint(time)) fail('order/7', 'time');
  return { payer, payee, amount, currency, orderId: hex(id), txDigest, time };
}

export function decodePaymentOrder(bytes: Uint8Array): { order: PaymentOrder; sign1: Sign1 } {
  const { s, m } = signedMap(bytes, 'order');
  return { order: decodeOrderMap(m), sign1: s };
}

export function verifyPaymentOrder(bytes: Uint8Array, payerPublicKey: Uint8Array): PaymentOrder {
  const { order, sign1 } = decodePaymentOrder(bytes);
  cose(() => verifyDecodedSign1(sign1, payerPublicKey), 'BAD_SIGNATURE', 'order signature');
  return order;
}

// ------------------------------------------------------------------ load request and load instruction

export interface LoadRequest {
  /** The buyer's account to debit. */
  account: string;
  cardId: Uint8Array;
  amount: number;
  currency: string;
  /** Seconds since 1970. */
  time: number;
}

const LOAD_REQUEST = 'semper-load-request';

/** COSE_Sign1 by the buyer's account key over {1: tag, 2: account, 3: card id, 4: [amount, currency], 5: time}. */
export function signLoadRequest(r: LoadRequest, privateKey: Uint8Array): Uint8Array {
  const m = new Map<number | string, HostCbor>([
    [1, LOAD_REQUEST],
    [2, r.account],
    [3, r.cardId],
    [4, [r.amount, r.currency]],
    [5, r.time],
  ]);
  return signSign1(encodeCanonical(m), privateKey);
}

export function decodeLoadRequest(bytes: Uint8Array): { request: LoadRequest; sign1: Sign1 } {
  const { s, m } = signedMap(bytes, 'load request');
  exactKeys(m, [1, 2, 3, 4, 5], [], 'load');
  const [tag, account, cardId, , time] = [1, 2, 3, 4, 5].map((k) => m.get(k));
  if (tag !== LOAD_REQUEST) fail('load/1', 'not a load request');
  if (typeof account !== 'string' || account.length === 0) fail('load/2', 'account');
  if (!(cardId instanceof Uint8Array) || cardId.length !== 8) fail('load/3', 'card id of 8 bytes');
  const [amount, currency] = money(m.get(4), 'load/4');
  if (!isUint(time)) fail('load/5', 'time');
  return { request: { account, cardId, amount, currency, time }, sign1: s };
}

export function verifySignedBy(s: Sign1, publicKey: Uint8Array, what: string): void {
  cose(() => verifyDecodedSign1(s, publicKey), 'BAD_SIGNATURE', what);
}

export type { LoadInstruction };

/** The issuer's load instruction (APPLET.md): see shared/src/purse.ts. */
export function makeLoadInstruction(l: LoadInstruction, issuerPrivateKey: Uint8Array): Uint8Array {
  return signLoadInstruction(l, issuerPrivateKey);
}

export function verifyLoadInstruction(bytes: Uint8Array, issuerPublicKey: Uint8Array): LoadInstruction {
  const { s, m } = signedMap(bytes, 'load instruction');
  cose(() => verifyDecodedSign1(s, issuerPublicKey), 'BAD_SIGNATURE', 'load instruction');
  exactKeys(m, [1, 2, 3, 4], [5], 'instruction');
  const [cardId, loadCounter, , issuerName, time] = [1, 2, 3, 4, 5].map((k) => m.get(k));
  if (!(cardId instanceof Uint8Array) || !isUint(loadCounter) || typeof issuerName !== 'string') fail('instruction', 'fields');
  const [amount, currency] = money(m.get(3), 'instruction/3');
  const out: LoadInstruction = { cardId, loadCounter, amount, currency, issuerName };
  if (time !== undefined) out.time = time as number;
  return out;
}

// The signed objects of payment, host side: the card's payment token (board/card/APPLET.md,
// verified here with the card's CA-issued certificate), the account instrument's payment
// order, the buyer's load request and the issuer's load instruction (APPLET.md format).
// README.md in this folder lists every field.

import { LoadInstruction, PaymentToken, signLoadInstruction } from '../../../shared/src/purse';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { encodeCanonical, HostCbor, HostCborMap, Tag } from '../../../shared/src/cbor';
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
    // the COSE words (what is wrong), its code stays in detail for programs
    if (e instanceof CoseError) throw new PaymentError(code, `${what}: ${e.message}`, e.code);
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

/** What validates card certificates: a TrustStore, or something that remembers its answers (the bank's ValidatedChains). */
export type ChainValidator = Pick<TrustStore, 'validate'>;

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
export function verifyPaymentToken(bytes: Uint8Array, cardCertificate: Uint8Array, trust: ChainValidator, at: number, intermediates: Uint8Array[] = []): { token: PaymentToken; certificate: Certificate } {
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

// ------------------------------------------------------------------ payment references

/** What a refund or a status query is about: a deposited purse token, or an account payment's order. */
export type PaymentReference = { cardId: Uint8Array; counter: number } | { orderId: string };

/** The reference as JSON (hex bytes), as the bank's answers carry it. */
export type PaymentReferenceJson = { cardId: string; counter: number } | { orderId: string };

const ORDER_ID = /^[0-9a-f]{32}$/;

export function encodeReference(r: PaymentReference): HostCbor {
  if ('orderId' in r) {
    if (!ORDER_ID.test(r.orderId)) fail('reference', 'order id of 32 lowercase hex characters');
    return new Uint8Array(Buffer.from(r.orderId, 'hex'));
  }
  if (r.cardId.length !== 8 || !isUint(r.counter)) fail('reference', '[card id of 8 bytes, counter]');
  return [r.cardId, r.counter];
}

function decodeReference(v: HostCbor | undefined, field: string): PaymentReference {
  if (v instanceof Uint8Array && v.length === 16) return { orderId: hex(v) };
  if (Array.isArray(v) && v.length === 2 && v[0] instanceof Uint8Array && v[0].length === 8 && isUint(v[1])) return { cardId: v[0], counter: v[1] };
  return fail(field, 'reference: [card id bstr 8, counter] or order id bstr 16');
}

export const referenceJson = (r: PaymentReference): PaymentReferenceJson => ('orderId' in r ? { orderId: r.orderId } : { cardId: hex(r.cardId), counter: r.counter });

/** A stable text key of a reference (database column, map key). */
export const referenceKey = (r: PaymentReference): string => ('orderId' in r ? `order:${r.orderId}` : `card:${hex(r.cardId)}:${r.counter}`);

function signMap(entries: [number, HostCbor][], privateKey: Uint8Array): Uint8Array {
  const pub = p256.getPublicKey(privateKey, false);
  return signSign1(encodeCanonical(new Map<number | string, HostCbor>(entries)), privateKey, { kid: kidOf(pub) });
}

function verifiedMap(bytes: Uint8Array, publicKey: Uint8Array, what: string): HostCborMap {
  const { s, m } = signedMap(bytes, what);
  cose(() => verifyDecodedSign1(s, publicKey), 'BAD_SIGNATURE', `${what} signature`);
  return m;
}

const isText = (v: unknown, max: number, min = 1): v is string => typeof v === 'string' && v.length >= min && v.length <= max;

// ------------------------------------------------------------------ refund authorisation

/**
 * A payment named by what it is bound to rather than by its bank reference: its transaction
 * digest and its payee. A fair-exchange third party refunds the payments of an aborted exchange
 * this way — it knows their descriptions from the agreement, not the card counter or order id
 * a cheating party may never show it.
 */
export interface BindingReference {
  txDigest: Uint8Array;
  payee: string;
}

export type RefundReference = PaymentReference | BindingReference;

export const isBinding = (r: RefundReference): r is BindingReference => 'txDigest' in r;

function encodeRefundReference(r: RefundReference): HostCbor {
  if (!isBinding(r)) return encodeReference(r);
  if (r.txDigest.length !== 32 || !isText(r.payee, 64)) fail('reference', '[transaction digest of 32 bytes, payee]');
  return [r.txDigest, r.payee];
}

function decodeRefundReference(v: HostCbor | undefined, field: string): RefundReference {
  if (Array.isArray(v) && v.length === 2 && v[0] instanceof Uint8Array && v[0].length === 32 && isText(v[1], 64)) return { txDigest: v[0], payee: v[1] };
  return decodeReference(v, field);
}

export interface RefundAuthorisation {
  reference: RefundReference;
  amount: number;
  currency: string;
  /** 16 bytes, hex: each refund id is refunded once. */
  refundId: string;
  reason: string;
  /** Seconds since 1970. */
  time: number;
}

const REFUND = 'semper-refund';

/** COSE_Sign1 (kid = the signer's) over {1: "semper-refund", 2: reference, 3: [amount, currency], 4: refund id, 5: reason, 6: time}: the payee's or a TTP's decision to pay back. */
export function signRefund(r: RefundAuthorisation, privateKey: Uint8Array): Uint8Array {
  const entries: [number, HostCbor][] = [
    [1, REFUND],
    [2, encodeRefundReference(r.reference)],
    [3, [r.amount, r.currency]],
    [4, ORDER_ID.test(r.refundId) ? new Uint8Array(Buffer.from(r.refundId, 'hex')) : fail('refund/4', 'refund id of 32 lowercase hex characters')],
    [5, r.reason],
    [6, r.time],
  ];
  decodeRefundMap(new Map(entries)); // the reader's rules
  return signMap(entries, privateKey);
}

/**
 * signRefund for callers that hold the reference as its CBOR value and the refund id as bytes
 * (the exchange layer's RefundSigner: its third party signs refund decisions with this).
 */
export function signRefundCbor(r: { reference: HostCbor; amount: number; currency: string; refundId: Uint8Array; reason: string; time: number }, privateKey: Uint8Array): Uint8Array {
  if (r.refundId.length !== 16) fail('refund/4', 'refund id of 16 bytes');
  return signRefund({ reference: decodeRefundReference(r.reference, 'refund/2'), amount: r.amount, currency: r.currency, refundId: hex(r.refundId), reason: r.reason, time: r.time }, privateKey);
}

function decodeRefundMap(m: HostCborMap): RefundAuthorisation {
  exactKeys(m, [1, 2, 3, 4, 5, 6], [], 'refund');
  if (m.get(1) !== REFUND) fail('refund/1', 'not a refund authorisation');
  const reference = decodeRefundReference(m.get(2), 'refund/2');
  const [amount, currency] = money(m.get(3), 'refund/3');
  const id = m.get(4);
  if (!(id instanceof Uint8Array) || id.length !== 16) fail('refund/4', 'refund id of 16 bytes');
  const reason = m.get(5);
  if (!isText(reason, 256, 0)) fail('refund/5', 'reason of at most 256 characters');
  const time = m.get(6);
  if (!isUint(time)) fail('refund/6', 'time');
  return { reference, amount, currency, refundId: hex(id), reason, time };
}

/** Decodes a refund authorisation without checking its signature (the bank then finds out who signed). */
export function decodeRefund(bytes: Uint8Array): { refund: RefundAuthorisation; sign1: Sign1 } {
  const { s, m } = signedMap(bytes, 'refund');
  return { refund: decodeRefundMap(m), sign1: s };
}

// ------------------------------------------------------------------ bank receipt

export type ReceiptOp = 'deposit' | 'payment' | 'refund';

export interface BankReceipt {
  op: ReceiptOp;
  reference: PaymentReference;
  amount: number;
  currency: string;
  /** The ledger entry's debit and credit accounts. */
  debit: string;
  credit: string;
  entry: number;
  time: number;
  /** Refunds only. */
  refundId?: string;
}

const RECEIPT = 'semper-receipt';

/** The bank's signed receipt {1: "semper-receipt", 2: op, 3: reference, 4: [amount, currency], 5: debit, 6: credit, 7: entry, 8: time, ? 9: refund id}. */
export function signBankReceipt(r: BankReceipt, bankPrivateKey: Uint8Array): Uint8Array {
  const entries: [number, HostCbor][] = [
    [1, RECEIPT],
    [2, r.op],
    [3, encodeReference(r.reference)],
    [4, [r.amount, r.currency]],
    [5, r.debit],
    [6, r.credit],
    [7, r.entry],
    [8, r.time],
  ];
  if (r.refundId !== undefined) entries.push([9, new Uint8Array(Buffer.from(r.refundId, 'hex'))]);
  return signMap(entries, bankPrivateKey);
}

/** Verifies a receipt with the bank key and decodes it. PaymentError BAD_SIGNATURE / MALFORMED. */
export function verifyBankReceipt(bytes: Uint8Array, bankPublicKey: Uint8Array): BankReceipt {
  const m = verifiedMap(bytes, bankPublicKey, 'receipt');
  exactKeys(m, [1, 2, 3, 4, 5, 6, 7, 8], [9], 'receipt');
  const op = m.get(2);
  if (m.get(1) !== RECEIPT) fail('receipt/1', 'not a receipt');
  if (op !== 'deposit' && op !== 'payment' && op !== 'refund') fail('receipt/2', 'op');
  const [amount, currency] = money(m.get(4), 'receipt/4');
  const [debit, credit, entry, time, refundId] = [5, 6, 7, 8, 9].map((k) => m.get(k));
  if (!isText(debit, 64) || !isText(credit, 64)) fail('receipt/5', 'accounts');
  if (!isUint(entry) || !isUint(time)) fail('receipt/7', 'entry and time');
  const out: BankReceipt = { op, reference: decodeReference(m.get(3), 'receipt/3'), amount, currency, debit, credit, entry, time };
  if (refundId !== undefined) {
    if (!(refundId instanceof Uint8Array) || refundId.length !== 16 || op !== 'refund') fail('receipt/9', 'refund id of a refund');
    out.refundId = hex(refundId);
  }
  return out;
}

// ------------------------------------------------------------------ payment status

export interface PaymentStatus {
  reference: PaymentReference;
  settled: boolean;
  /** When the bank made the statement (s). */
  time: number;
  amount?: number;
  currency?: string;
  payee?: string;
  payer?: string;
  refunded?: number;
  settledAt?: number;
  nonce?: Uint8Array;
}

const STATUS = 'semper-payment-status';

/** The bank's signed statement about one payment (README: status). */
export function signPaymentStatus(st: PaymentStatus, bankPrivateKey: Uint8Array): Uint8Array {
  const entries: [number, HostCbor][] = [
    [1, STATUS],
    [2, encodeReference(st.reference)],
    [3, st.settled],
    [4, st.time],
  ];
  if (st.settled) {
    entries.push([5, [st.amount!, st.currency!]], [6, st.payee!]);
    if (st.payer !== undefined) entries.push([7, st.payer]);
    entries.push([8, st.refunded ?? 0], [9, st.settledAt!]);
  }
  if (st.nonce) entries.push([10, st.nonce]);
  return signMap(entries, bankPrivateKey);
}

/** Verifies a status statement with the bank key and decodes it. PaymentError BAD_SIGNATURE / MALFORMED. */
export function verifyPaymentStatus(bytes: Uint8Array, bankPublicKey: Uint8Array): PaymentStatus {
  const m = verifiedMap(bytes, bankPublicKey, 'status');
  const settled = m.get(3);
  if (typeof settled !== 'boolean') fail('status/3', 'settled flag');
  exactKeys(m, settled ? [1, 2, 3, 4, 5, 6, 8, 9] : [1, 2, 3, 4], settled ? [7, 10] : [10], 'status');
  if (m.get(1) !== STATUS) fail('status/1', 'not a payment status');
  const time = m.get(4);
  if (!isUint(time)) fail('status/4', 'time');
  const st: PaymentStatus = { reference: decodeReference(m.get(2), 'status/2'), settled, time };
  if (settled) {
    [st.amount, st.currency] = money(m.get(5), 'status/5');
    const [payee, payer, refunded, settledAt] = [6, 7, 8, 9].map((k) => m.get(k));
    if (!isText(payee, 64)) fail('status/6', 'payee');
    if (payer !== undefined && !isText(payer, 64)) fail('status/7', 'payer');
    if (!isUint(refunded) || refunded > st.amount) fail('status/8', 'refunded amount');
    if (!isUint(settledAt)) fail('status/9', 'settlement time');
    st.payee = payee;
    if (payer !== undefined) st.payer = payer;
    st.refunded = refunded;
    st.settledAt = settledAt;
  }
  const nonce = m.get(10);
  if (nonce !== undefined) {
    if (!(nonce instanceof Uint8Array) || nonce.length < 8 || nonce.length > 32) fail('status/10', 'nonce of 8..32 bytes');
    st.nonce = nonce;
  }
  return st;
}

// ------------------------------------------------------------------ card-signed account payment (account-card/1)

/** A payment order as the card signs it: no time (the device statement has none), a headline instead. */
export interface CardOrder extends Omit<PaymentOrder, 'time'> {
  /** The statement's headline on the device. */
  title: string;
}

const CARD_ORDER_TEXT = /^payer ([a-z0-9][a-z0-9._:-]{0,63})\norder ([0-9a-f]{64})$/;

/**
 * The device statement (protocol/SPEC.md §5.4, kind PAYMENT) the card signs for an account
 * payment: every field the bank acts on is one the user reads on the device.
 */
export function cardOrderStatement(o: CardOrder): Uint8Array {
  const m = new Map<number | string, HostCbor>([
    [1, 1],
    [2, o.title],
    [3, [o.amount, o.currency]],
    [4, o.payee],
    [6, o.orderId],
    [7, `payer ${o.payer}\norder ${hex(o.txDigest)}`],
  ]);
  decodeCardOrderStatement(m);
  return encodeCanonical(m);
}

function decodeCardOrderStatement(m: HostCborMap): CardOrder {
  exactKeys(m, [1, 2, 3, 4, 6, 7], [8, 9, 10], 'statement');
  if (m.get(1) !== 1) fail('statement/1', 'not a PAYMENT statement');
  const [title, payee, orderId, text] = [2, 4, 6, 7].map((k) => m.get(k));
  if (!isText(title, 64)) fail('statement/2', 'title');
  if (!isText(payee, 64)) fail('statement/4', 'payee account');
  const [amount, currency] = money(m.get(3), 'statement/3');
  if (typeof orderId !== 'string' || !ORDER_ID.test(orderId)) fail('statement/6', 'order id of 32 lowercase hex characters');
  const t = typeof text === 'string' ? CARD_ORDER_TEXT.exec(text) : null;
  if (!t) fail('statement/7', '"payer <account>\\norder <tx digest hex>"');
  return { payer: t[1], payee, amount, currency, orderId, txDigest: new Uint8Array(Buffer.from(t[2], 'hex')), title };
}

/** COSE_Sign1 from the parts of a device SIGN answer (SPEC §5.6): 18([protected, {4: kid}, statement, signature]). */
export function sign1FromDevice(r: { protected: Uint8Array; kid: Uint8Array; statement: Uint8Array; signature: Uint8Array }): Uint8Array {
  return encodeCanonical(new Tag([r.protected, new Map<number | string, HostCbor>([[4, r.kid]]), r.statement, r.signature], 18));
}

/** The card order: canonical CBOR {1: signed statement, 2: card certificate, ? 3: [intermediates]}. */
export function encodeCardOrder(signedStatement: Uint8Array, certificate: Uint8Array, intermediates: Uint8Array[] = []): Uint8Array {
  const m = new Map<number | string, HostCbor>([[1, signedStatement], [2, certificate]]);
  if (intermediates.length) m.set(3, intermediates);
  return encodeCanonical(m);
}

/** Decodes a card order (signature not checked). */
export function decodeCardOrder(bytes: Uint8Array): { order: CardOrder; sign1: Sign1; certificate: Uint8Array; intermediates: Uint8Array[] } {
  const m = cose(() => decodeMapStrict(bytes), 'MALFORMED', 'card order');
  exactKeys(m, [1, 2], [3], 'card order');
  const [signed, certificate, im] = [1, 2, 3].map((k) => m.get(k));
  if (!(signed instanceof Uint8Array) || !(certificate instanceof Uint8Array)) fail('card order', '{1: signed statement, 2: certificate}');
  const intermediates = im ?? [];
  if (!Array.isArray(intermediates) || intermediates.length > 4 || !intermediates.every((c) => c instanceof Uint8Array)) fail('card order/3', 'at most 4 certificates');
  const { s, m: st } = signedMap(signed, 'statement');
  return { order: decodeCardOrderStatement(st), sign1: s, certificate, intermediates: intermediates as Uint8Array[] };
}

/**
 * Verifies a card order: the certificate validates in `trust` at `at` with role buyer-card,
 * the kid names the certified key, the card's signature verifies.
 */
export function verifyCardOrder(bytes: Uint8Array, trust: ChainValidator, at: number): { order: CardOrder; certificate: Certificate } {
  const d = decodeCardOrder(bytes);
  let cert: Certificate;
  try {
    [cert] = trust.validate(d.certificate, at, { roles: ['buyer-card'], intermediates: d.intermediates });
  } catch (e) {
    if (e instanceof CertificateError) throw new PaymentError('CERTIFICATE', `card certificate: ${e.message}`, e.code);
    throw e;
  }
  if (!cert.subjectId) throw new PaymentError('WRONG_CARD', 'the certificate names no card');
  if (d.sign1.kid && hex(d.sign1.kid) !== hex(kidOf(cert.publicKey))) throw new PaymentError('BAD_SIGNATURE', 'the order names another key');
  cose(() => verifyDecodedSign1(d.sign1, cert.publicKey), 'BAD_SIGNATURE', 'card order signature');
  return { order: d.order, certificate: cert };
}

// ------------------------------------------------------------------ signed read (GET /v1/accounts/{id})

const READ = 'semper-read';

/** Authorization: SEMPER-Signed <this, base64url>: {1: "semper-read", 2: path, 3: time (s)} by the account's key. */
export function signRead(path: string, time: number, privateKey: Uint8Array): Uint8Array {
  return signMap([[1, READ], [2, path], [3, time]], privateKey);
}

export function decodeRead(bytes: Uint8Array): { path: string; time: number; sign1: Sign1 } {
  const { s, m } = signedMap(bytes, 'read');
  exactKeys(m, [1, 2, 3], [], 'read');
  const [tag, path, time] = [1, 2, 3].map((k) => m.get(k));
  if (tag !== READ || !isText(path, 256) || !isUint(time)) fail('read', '{1: "semper-read", 2: path, 3: time}');
  return { path, time, sign1: s };
}

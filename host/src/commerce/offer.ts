// The commerce building blocks' signed documents (SEMPER §2.2, §3.5): the merchant's offer,
// the buyer's order — the statement the device shows and the card signs — and the merchant's
// receipt and delivery note. README.md in this folder lists every field.

import { sha256 } from '@noble/hashes/sha256';
import { encodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { Certificate, CertificateError, TrustStore } from '../../../shared/src/certificate';
import { signSign1 } from '../../../shared/src/cose';
import { Statement } from '../device/client';
import { ExchangeError } from '../exchange/errors';
import { checkSignature, Fields, hex, openSigned } from '../exchange/formats';

export type CommerceErrorCode = 'MALFORMED' | 'BAD_SIGNATURE' | 'CERTIFICATE' | 'EXPIRED' | 'MISMATCH' | 'REFUSED' | 'UNTRUSTED_WORKFLOW' | 'NOT_FOUND' | 'NO_COMMON_PAYMENT';

export class CommerceError extends Error {
  override readonly name = 'CommerceError';
  constructor(
    readonly code: CommerceErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** Runs a decoder of the exchange layer's helpers, turning its errors into CommerceErrors. */
export function commerce<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ExchangeError) throw new CommerceError(e.code === 'BAD_SIGNATURE' ? 'BAD_SIGNATURE' : 'MALFORMED', `${what}: ${e.message}`, e.detail);
    throw e;
  }
}

export interface OfferLine {
  sku: string;
  title: string;
  quantity: number;
  /** Minor units. */
  unitPrice: number;
  /** Digital goods: the media type and SHA-256 of the document the merchant commits to deliver. */
  content?: { mediaType: string; hash: Uint8Array };
}

/** digital: every line is a document delivered on-line; physical: every line is shipped; mixed: some of each. */
export type DeliveryKind = 'digital' | 'physical' | 'mixed';

export interface Offer {
  /** 16 random bytes. */
  id: Uint8Array;
  /** The merchant's name as its certificate says — and its account id at the bank (what the card shows and signs as payee). */
  merchant: string;
  lines: OfferLine[];
  total: number;
  currency: string;
  delivery: DeliveryKind;
  /** Seconds since 1970: delivery promised by; the refund period ends. */
  deliverBy?: number;
  refundUntil?: number;
  /** Seconds since 1970: the offer stands until. */
  validUntil: number;
  /** The workflow (terms of business) the purchase runs, "name/version". */
  workflow: string;
  created: number;
  /**
   * The payment instruments the merchant takes for this offer ("name/version", its preference
   * first), signed with the offer so the buyer's agent negotiates against what the merchant
   * really said. Absent: `device-purse/1` only (offers made before the field existed).
   */
  payment?: string[];
}

/** What an offer without field 12 accepts. */
export const DEFAULT_PAYMENT = ['device-purse/1'];

/** The instruments the merchant takes for this offer, its preference first. */
export function acceptedPayment(o: Offer): string[] {
  return o.payment ?? DEFAULT_PAYMENT;
}

const OFFER = 'semper-offer';

export function offerPayload(o: Offer): Uint8Array {
  const m = new Map<number, HostCbor>([
    [1, OFFER],
    [2, o.id],
    [3, o.merchant],
    [4, o.lines.map((l): HostCbor => (l.content ? [l.sku, l.title, l.quantity, l.unitPrice, l.content.mediaType, l.content.hash] : [l.sku, l.title, l.quantity, l.unitPrice]))],
    [5, [o.total, o.currency]],
    [6, o.delivery],
    [7, o.validUntil],
    [8, o.workflow],
    [9, o.created],
  ]);
  if (o.deliverBy !== undefined) m.set(10, o.deliverBy);
  if (o.refundUntil !== undefined) m.set(11, o.refundUntil);
  if (o.payment !== undefined) m.set(12, o.payment);
  return encodeCanonical(m);
}

/** The merchant signs its offer (the key its certificate names). */
export function signOffer(o: Offer, merchantKey: Uint8Array): Uint8Array {
  if (o.lines.length === 0) throw new CommerceError('MALFORMED', 'an offer has at least one line');
  if (o.payment !== undefined && !validPaymentList(o.payment)) throw new CommerceError('MALFORMED', 'the accepted payment instruments are 1..8 distinct "name/version" references');
  const sum = o.lines.reduce((a, l) => a + l.quantity * l.unitPrice, 0);
  if (sum !== o.total) throw new CommerceError('MISMATCH', `the lines add up to ${sum}, not ${o.total}`);
  return signSign1(offerPayload(o), merchantKey);
}

export interface VerifiedOffer {
  offer: Offer;
  /** The offer bytes as signed. */
  signed: Uint8Array;
  /** SHA-256 of the signed offer: what the device remembers after VERIFY_OFFER, and the order names. */
  digest: Uint8Array;
  certificate: Certificate;
  certificateBytes: Uint8Array;
}

const INSTRUMENT_REF = /^[a-z0-9][a-z0-9.-]{0,63}\/[1-9][0-9]{0,5}$/;

function validPaymentList(p: unknown): p is string[] {
  return Array.isArray(p) && p.length >= 1 && p.length <= 8 && p.every((r) => typeof r === 'string' && INSTRUMENT_REF.test(r)) && new Set(p).size === p.length;
}

function offerOf(f: Fields): Offer {
  f.only([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const lines = f.m.get(4);
  if (!Array.isArray(lines) || lines.length === 0 || lines.length > 100) return f.fail(4, '1..100 lines expected');
  const parsed = lines.map((l, i): OfferLine => {
    const [sku, title, quantity, unitPrice, mediaType, hash] = Array.isArray(l) && (l.length === 4 || l.length === 6) ? l : [];
    if (typeof sku !== 'string' || typeof title !== 'string' || typeof quantity !== 'number' || typeof unitPrice !== 'number' || quantity < 1 || unitPrice < 0) return f.fail(4, `line ${i}: [sku, title, quantity ≥ 1, unit price, ? media type, ? SHA-256] expected`);
    if (mediaType === undefined) return { sku, title, quantity, unitPrice };
    if (typeof mediaType !== 'string' || !(hash instanceof Uint8Array) || hash.length !== 32) return f.fail(4, `line ${i}: media type and SHA-256 of the content expected`);
    return { sku, title, quantity, unitPrice, content: { mediaType, hash } };
  });
  const money = f.m.get(5);
  const [total, currency] = Array.isArray(money) && money.length === 2 ? money : [];
  if (typeof total !== 'number' || total < 0 || typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) return f.fail(5, '[total ≥ 0, currency] expected');
  const delivery = f.text(6, 16);
  if (delivery !== 'digital' && delivery !== 'physical' && delivery !== 'mixed') return f.fail(6, 'digital, physical or mixed');
  const documents = parsed.filter((l) => l.content).length;
  // digital: every line a document (or none: a registration's credential is the delivery); physical: none; mixed: some of each
  if (delivery === 'digital' ? documents !== 0 && documents !== parsed.length : delivery === 'physical' ? documents !== 0 : documents === 0 || documents === parsed.length) return f.fail(4, `the lines' documents do not fit a ${delivery} delivery`);
  const offer: Offer = { id: f.bytes(2, 16), merchant: f.text(3, 64), lines: parsed, total, currency, delivery, validUntil: f.uint(7), workflow: f.text(8, 64), created: f.uint(9) };
  if (f.has(10)) offer.deliverBy = f.uint(10);
  if (f.has(11)) offer.refundUntil = f.uint(11);
  if (f.has(12)) {
    const p = f.m.get(12);
    if (!validPaymentList(p)) return f.fail(12, '1..8 distinct payment instrument references ("name/version") expected');
    offer.payment = p;
  }
  return offer;
}

/** Checks an offer as the buyer's agent does before anything is shown: certificate (role merchant) at `now`, signature, name, sums, expiry. */
export function verifyOffer(signed: Uint8Array, certificate: Uint8Array, trust: TrustStore, now: number, intermediates: Uint8Array[] = []): VerifiedOffer {
  let chain: Certificate[];
  try {
    chain = trust.validate(certificate, now, { roles: ['merchant'], intermediates });
  } catch (e) {
    if (e instanceof CertificateError) throw new CommerceError('CERTIFICATE', `the merchant certificate does not validate: ${e.message}`, e.code);
    throw e;
  }
  const cert = chain[0];
  const { sign1, f } = commerce('offer', () => openSigned(signed, OFFER));
  commerce('offer', () => checkSignature(sign1, cert.publicKey, 'offer'));
  const o = commerce('offer', () => offerOf(f));
  if (o.merchant !== cert.name) throw new CommerceError('MISMATCH', `the offer names ${o.merchant}, the certificate ${cert.name}`);
  if (o.lines.reduce((a, l) => a + l.quantity * l.unitPrice, 0) !== o.total) throw new CommerceError('MISMATCH', 'the offer lines do not add up to its total');
  if (o.validUntil < now) throw new CommerceError('EXPIRED', `the offer expired at ${new Date(o.validUntil * 1000).toISOString()}`);
  return { offer: o, signed, digest: sha256(signed), certificate: cert, certificateBytes: certificate };
}

/**
 * The order: the PAYMENT statement (protocol/SPEC.md §5.4) the device shows and the card signs
 * (PURSE_DEBIT: its digest is the token's transaction digest). It names the verified offer, so the
 * device shows the merchant as verified, and the order id as reference, so it is unique per deal.
 */
const DELIVERY_WORDS: Record<DeliveryKind, string> = { digital: 'delivered online', physical: 'shipped by post', mixed: 'documents online, goods by post' };

export function orderStatement(v: VerifiedOffer, orderId: Uint8Array, origin?: string): Statement {
  const o = v.offer;
  const first = o.lines[0];
  const title = (o.lines.length === 1 ? `${first.quantity > 1 ? `${first.quantity} x ` : ''}${first.title}` : `${o.lines.length} articles`).slice(0, 64);
  const text = o.lines
    .map((l) => `${l.quantity} x ${l.title}`)
    .join('\n')
    .slice(0, 400);
  const s: Statement = { kind: 1, title, amount: { amount: o.total, currency: o.currency }, payee: o.merchant, offer: v.digest, reference: `order ${hex(orderId)}`.slice(0, 40), text: `${text}\n${DELIVERY_WORDS[o.delivery]}` };
  if (o.deliverBy !== undefined) s.deliverBy = o.deliverBy;
  if (o.refundUntil !== undefined) s.refundUntil = o.refundUntil;
  if (origin) s.origin = origin.slice(0, 96);
  return s;
}

/**
 * A registration (workflow registration/1): the DOCUMENT statement the device shows and the card
 * signs (SIGN) — with whom the holder registers, for what, under which terms. It names the
 * verified offer, so the device shows the provider as verified, and the order id as reference.
 */
export function registrationOrder(v: VerifiedOffer, orderId: Uint8Array, terms: string, origin?: string): Statement {
  const o = v.offer;
  const what = o.lines.map((l) => l.title).join('\n');
  const s: Statement = { kind: 2, title: `Register with ${o.merchant}`.slice(0, 64), offer: v.digest, reference: `registration ${hex(orderId)}`.slice(0, 40), text: `${what}\nTerms: ${terms}`.slice(0, 400) };
  if (origin) s.origin = origin.slice(0, 96);
  return s;
}

export { Fields };

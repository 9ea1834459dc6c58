// A buyer's archive with purchases in it, written by the real commerce code where it can run
// without a device: the merchant's certificate and signed offer (signOffer, verifyOffer), the
// order statement the device would show (orderStatement, encodeStatement), the deal's states
// (DealStore), the merchant's receipt (makeSignature), a third party's decision (signDecision).
// The records are appended with the fields commerce/buyer.ts gives them. Only the card's
// payment token is a stand-in (a COSE_Sign1 by a test key): the statement does not open it.

import { randomBytes } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha256';
import { issueCertificate } from '../../../shared/src/certificate';
import { signSign1 } from '../../../shared/src/cose';
import { DealStore } from '../../../host/src/commerce/deal';
import { orderStatement, signOffer, verifyOffer } from '../../../host/src/commerce/offer';
import { encodeStatement } from '../../../host/src/device/client';
import { signDecision } from '../../../host/src/exchange/formats';
import { makeSignature } from '../../../host/src/exchange/modules';
import { SqliteArchive } from '../../../host/src/services/archive';
import { ca, key, trustStore } from '../bank/rig';

/** 2026-11-20 10:00 UTC: the fixture's clock starts here and moves a minute per record. */
export const START = Date.UTC(2026, 10, 20, 10, 0);

export function fixtureClock(stepMs = 60_000): () => number {
  let t = START;
  return () => (t += stepMs);
}

export type Ending = 'paid' | 'refused' | 'pending' | 'refunded';

export interface FixturePurchase {
  merchant: string;
  title: string;
  price: number;
  currency?: string;
  ending: Ending;
  /** The merchant signs the offer with another key than its certificate's (a forged offer). */
  forgedOffer?: boolean;
}

const card = key('statement fixture card');
const ttp = key('statement fixture ttp');
let serial = 900;

/** Appends one purchase as the buyer's agent records it; returns the deal id. */
export async function recordPurchase(archive: SqliteArchive, p: FixturePurchase, nowSeconds: number): Promise<string> {
  const currency = p.currency ?? 'EUR';
  const merchantKey = key(`statement fixture merchant ${p.merchant}`);
  const certificate = issueCertificate({ name: p.merchant, publicKey: merchantKey.publicKey, role: 'merchant', subjectId: Uint8Array.of(7, serial & 0xff), issuerId: Uint8Array.of(0xca, 1), notBefore: 0, notAfter: 4102444800, serial: serial++ }, ca.privateKey);
  const offer = { id: new Uint8Array(randomBytes(16)), merchant: p.merchant, lines: [{ sku: 'SKU-1', title: p.title, quantity: 1, unitPrice: p.price }], total: p.price, currency, delivery: 'physical' as const, validUntil: nowSeconds + 3600, workflow: 'mail-order/1', created: nowSeconds };
  const signed = signOffer(offer, merchantKey.privateKey);
  const v = verifyOffer(signed, certificate, trustStore(), nowSeconds);
  const orderId = new Uint8Array(randomBytes(16));
  const deal = Buffer.from(orderId).toString('hex');
  const statement = orderStatement(v, orderId, 'https://shop.example');
  const order = encodeStatement(statement);
  const orderDigest = sha256(order);
  const stored = p.forgedOffer ? signOffer(offer, key('someone else').privateKey) : signed;
  await archive.append({ kind: 'offer', deal, counterparty: p.merchant, label: `offer of ${p.merchant}`, amount: p.price, currency, evidence: stored });
  await archive.append({ kind: 'order', deal, counterparty: p.merchant, label: statement.title, amount: -p.price, currency, evidence: order });
  const deals = new DealStore(archive);
  const exchange = Buffer.from(randomBytes(16)).toString('hex');
  await deals.save({
    id: deal,
    role: 'buyer',
    peer: { name: p.merchant, publicKey: merchantKey.publicKey, certificate },
    attributes: ['integrity', 'origin', 'receipt'],
    modules: { workflow: 'mail-order/1', payment: 'device-purse/1' },
    state: 'ordered',
    offer: Buffer.from(v.digest).toString('hex'),
    order: Buffer.from(orderDigest).toString('hex'),
  });
  if (p.ending === 'refused') {
    await deals.update(deal, { state: 'failed', exchange, modules: { exchange: 'gen-ev/1' }, note: 'the user refused the payment on the device' });
    return deal;
  }
  await archive.append({ kind: 'payment-token', deal, counterparty: p.merchant, label: 'card payment', amount: -p.price, currency, evidence: signSign1(orderDigest, card.privateKey) });
  if (p.ending === 'pending') {
    await archive.append({ kind: 'transfer', deal: exchange, counterparty: 'SEMPER TTP', label: 'exchange ttp resolve', note: 'the merchant did not answer' });
    await deals.update(deal, { state: 'paid', exchange, modules: { exchange: 'gen-ev/1' }, note: 'waiting for the third party' });
    return deal;
  }
  const receipt = makeSignature(undefined, `${p.merchant} received ${p.price} ${currency}`, merchantKey.privateKey, { contentHash: orderDigest, time: nowSeconds * 1000 });
  await archive.append({ kind: 'transfer', deal: exchange, counterparty: p.merchant, label: 'exchange final completed', note: 'both items delivered' });
  await deals.update(deal, { state: 'completed', exchange, modules: { exchange: 'gen-ev/1' }, note: 'both items delivered' });
  await archive.append({ kind: 'receipt', deal, counterparty: p.merchant, label: receipt.format, evidence: receipt.document });
  if (p.ending === 'refunded') {
    const decision = signDecision({ exchangeId: Buffer.from(exchange, 'hex'), agreementHash: sha256(order), outcome: 'aborted', generated: [], forwarded: [], refunds: [], time: nowSeconds * 1000, reason: 'goods returned' }, ttp.privateKey);
    await archive.append({ kind: 'ttp-decision', deal: exchange, counterparty: 'SEMPER TTP', label: 'exchange aborted', evidence: decision, note: 'goods returned' });
    await archive.append({ kind: 'refund', deal, counterparty: p.merchant, label: 'refund', amount: p.price, currency, note: 'goods returned within the refund period' });
  }
  return deal;
}

/** The statement tests' archive: a paid, a refused, a pending and a refunded purchase, and a paid one in another currency. */
export const PURCHASES: FixturePurchase[] = [
  { merchant: 'music.example', title: 'Trial recordings CD', price: 15_00, ending: 'paid' },
  { merchant: 'books.example', title: 'A book not wanted', price: 23_50, ending: 'refused' },
  { merchant: 'maps.example', title: 'Map of Hildesheim', price: 7_20, ending: 'pending' },
  { merchant: 'shirts.example', title: 'T-shirt, size M', price: 19_99, ending: 'refunded' },
  { merchant: 'tokyo.example', title: 'Tea set', price: 4_800, currency: 'JPY', ending: 'paid' },
];

/** `stepMs`: how far the archive's clock moves per record (default a minute). */
export async function fixtureArchive(path: string, purchases: FixturePurchase[] = PURCHASES, stepMs?: number): Promise<{ archive: SqliteArchive; deals: string[] }> {
  const now = fixtureClock(stepMs);
  const archive = SqliteArchive.open(path, { now });
  const deals: string[] = [];
  for (const p of purchases) deals.push(await recordPurchase(archive, p, Math.floor(START / 1000)));
  return { archive, deals };
}


// The buyer's agent (seed §3.5): takes a merchant's offer bundle, checks the offer (certificate,
// signature, sums, expiry) and the workflow (certified by an evaluator the buyer trusts, the
// one the offer names), has the device verify the offer itself (so it shows the merchant as
// verified), builds the order the device will show, and runs the workflow's fair exchange:
// the card-signed payment — one OK and one PIN on the device — against the receipt, or the
// goods and the receipt. Every step lands in the archive under the deal.

import { randomBytes } from '@noble/hashes/utils';
import { sha256 } from '@noble/hashes/sha256';
import { TrustStore } from '../../../shared/src/certificate';
import { ArchiveStore } from '../services/archive';
import { Channel } from '../transfer/channel';
import { Element, payment } from '../transfer/items';
import { encodeStatement, SignResult, Statement, VerifyOfferResult } from '../device/client';
import { encodePurseEvidence } from '../payment/manager';
import { sign1FromDevice } from '../payment/formats';
import { decodeCertificate } from '../../../shared/src/certificate';
import { hex, sameBytes } from '../exchange/formats';
import { ExchangeManager, ExchangeOutcome } from '../exchange/manager';
import { cardStatement, cardStatementDescription, paymentDescription } from '../exchange/modules';
import { CommerceError, orderStatement, registrationOrder, verifyOffer, VerifiedOffer } from './offer';
import { OfferBundle, sellerDescription } from './seller';
import { Evaluator, verifyWorkflow, Workflow } from './workflow';
import { Deal, DealState, DealStore } from './deal';

/** The device as the buyer's agent needs it (DeviceClient implements it). */
export interface BuyerDevice {
  verifyOffer(certificate: Uint8Array, offer: Uint8Array): Promise<VerifyOfferResult>;
  purseDebit(statement: Uint8Array): Promise<{ token: Uint8Array }>;
  /** The card signs a statement the holder read on the device (registrations); without it the agent registers nowhere. */
  sign?(statement: Uint8Array): Promise<SignResult>;
}

export interface BuyerOptions {
  exchange: ExchangeManager;
  archive: ArchiveStore;
  /** CA roots merchant certificates chain to. */
  trust: TrustStore;
  /** Evaluators whose certified workflows this buyer runs. */
  evaluators: Evaluator[];
  device: BuyerDevice;
  /** The card's certificate, sent with its payment tokens. */
  cardCertificate: Uint8Array;
  now?(): number;
}

export interface Purchase {
  deal: string;
  offer: VerifiedOffer;
  workflow: Workflow;
  order: Uint8Array;
  orderDigest: Uint8Array;
  outcome: ExchangeOutcome;
  /** What the buyer holds now: the receipt (or the third party's affidavit), the goods. */
  receipt?: Element;
  goods: Element[];
  /** The person at the device said no (or did not answer): nothing was paid. */
  userRefused?: boolean;
}

export type PurchaseStep = 'offer-checked' | 'offer-verified-on-device' | 'waiting-for-user' | 'exchanging' | 'done';

export class Buyer {
  private readonly now: () => number;
  readonly deals: DealStore;

  constructor(private readonly o: BuyerOptions) {
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
    this.deals = new DealStore(o.archive);
  }

  /**
   * After a restart: finishes the exchanges the archive shows open (through the third party
   * where needed) and brings their deals up to date. Returns the deals it touched.
   */
  async resume(): Promise<Deal[]> {
    const outcomes = await this.o.exchange.recover();
    const open = await this.deals.list({ open: true });
    const touched: Deal[] = [];
    for (const out of outcomes) {
      const d = open.find((x) => x.exchange === out.exchangeId);
      if (d) touched.push(await this.deals.update(d.id, { state: dealState(out), note: out.reason.slice(0, 200) }));
    }
    return touched;
  }

  /** What the buyer gives to a registration: the card's signature over the registration the holder read on the device. */
  private registration(deal: string, order: Uint8Array, orderDigest: Uint8Array, provider: string, step: (s: PurchaseStep) => void, refused: () => void): { description: ReturnType<typeof cardStatementDescription>; make: () => Promise<Element> } {
    const card = decodeCertificate(this.o.cardCertificate);
    const sign = this.o.device.sign as NonNullable<BuyerDevice['sign']>;
    return {
      description: cardStatementDescription({ name: card.name, publicKey: card.publicKey }, orderDigest, `registration of ${card.name} with ${provider}`),
      make: async () => {
        step('waiting-for-user');
        const signed = sign1FromDevice(
          await sign(order).catch((e: unknown) => {
            if (isUserRefusal(e)) refused();
            throw e;
          }),
        );
        await this.o.archive.append({ kind: 'signature', deal, counterparty: provider, label: 'card-signed registration', evidence: signed });
        return cardStatement(signed, this.o.cardCertificate);
      },
    };
  }

  /** Buys what `bundle` offers from the merchant behind `channel`. CommerceError before anything is paid; afterwards the outcome tells. */
  async purchase(bundle: OfferBundle, channel: Channel, opts: { origin?: string; progress?: (step: PurchaseStep) => void } = {}): Promise<Purchase> {
    const step = opts.progress ?? (() => undefined);
    const v = verifyOffer(bundle.offer, bundle.certificate, this.o.trust, this.now());
    const workflow = verifyWorkflow(bundle.workflow, this.o.evaluators);
    if (workflow.name !== v.offer.workflow) throw new CommerceError('MISMATCH', `the offer runs ${v.offer.workflow}, the definition sent is ${workflow.name}`);
    if (workflow.delivery !== v.offer.delivery) throw new CommerceError('MISMATCH', `the workflow ${workflow.name} is for ${workflow.delivery} goods`);
    step('offer-checked');
    // the device checks the offer itself (against the CA key on the card) and will show the merchant as verified
    const onDevice = await this.o.device.verifyOffer(bundle.certificate, bundle.offer);
    if (onDevice.merchant !== v.offer.merchant || !sameBytes(onDevice.offerDigest, v.digest)) throw new CommerceError('MISMATCH', 'the device verified another merchant or offer than this agent did');
    step('offer-verified-on-device');
    const registering = workflow.buyerGives === 'registration';
    if (registering ? v.offer.total !== 0 : v.offer.total <= 0) throw new CommerceError('MISMATCH', registering ? 'a registration under registration/1 is free: this offer asks for money' : 'the offer asks for no money: only a registration is free');
    if (registering && !this.o.device.sign) throw new CommerceError('REFUSED', 'this agent\u2019s device cannot sign a registration');
    const orderId = randomBytes(16);
    const deal = hex(orderId);
    const statement: Statement = registering ? registrationOrder(v, orderId, workflow.title, opts.origin) : orderStatement(v, orderId, opts.origin);
    const order = encodeStatement(statement);
    const orderDigest = sha256(order);
    await this.o.archive.append({ kind: 'offer', deal, counterparty: v.offer.merchant, label: `offer of ${v.offer.merchant}`, amount: v.offer.total, currency: v.offer.currency, evidence: bundle.offer });
    await this.o.archive.append({ kind: 'order', deal, counterparty: v.offer.merchant, label: statement.title, amount: -v.offer.total, currency: v.offer.currency, evidence: order });
    const merchant = { name: v.offer.merchant, publicKey: v.certificate.publicKey };
    const o = v.offer;
    await this.deals.save({
      id: deal,
      role: 'buyer',
      peer: { ...merchant, certificate: bundle.certificate },
      attributes: ['integrity', 'origin', 'receipt'],
      modules: registering ? { workflow: workflow.name } : { workflow: workflow.name, payment: 'device-purse/1' },
      state: 'ordered',
      offer: hex(v.digest),
      order: hex(orderDigest),
    });
    step('exchanging');
    let userRefused = false;
    const outcome = await this.o.exchange.exchange(channel, {
      peer: merchant,
      fair: workflow.fair,
      deadlineMs: workflow.deadlineSeconds * 1000,
      context: order,
      want: sellerDescription(o, workflow, orderDigest, merchant),
      give: registering ? this.registration(deal, order, orderDigest, o.merchant, step, () => (userRefused = true)) : {
        description: paymentDescription(o.total, o.currency, o.merchant, { txDigest: orderDigest, label: `${o.total} ${o.currency} to ${o.merchant}` }),
        make: async () => {
          step('waiting-for-user');
          const { token } = await this.o.device.purseDebit(order).catch((e: unknown) => {
            if (isUserRefusal(e)) userRefused = true;
            throw e;
          });
          await this.o.archive.append({ kind: 'payment-token', deal, counterparty: o.merchant, label: 'card payment', amount: -o.total, currency: o.currency, evidence: token });
          return payment({ instrument: 'device-purse/1', amount: o.total, currency: o.currency, payee: o.merchant, evidence: encodePurseEvidence(token, this.o.cardCertificate) });
        },
      },
    });
    const got = outcome.received;
    const items = got?.kind === 'package' ? got.children : got ? [got] : [];
    const receipt = items.find((i) => i.kind === 'statement');
    const goods = items.filter((i) => i.kind === 'information');
    await this.deals.update(deal, { state: dealState(outcome), exchange: outcome.exchangeId, modules: { exchange: outcome.protocol }, note: outcome.reason.slice(0, 200) });
    if (receipt) await this.o.archive.append({ kind: 'receipt', deal, counterparty: o.merchant, label: receipt.kind === 'statement' ? receipt.format : 'receipt', evidence: receipt.kind === 'statement' ? receipt.document : new Uint8Array() });
    step('done');
    return { deal, offer: v, workflow, order, orderDigest, outcome, ...(receipt ? { receipt } : {}), goods, ...(userRefused ? { userRefused } : {}) };
  }
}

function isUserRefusal(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'USER_REFUSED' || code === 'USER_TIMEOUT';
}

/** A deal's state from its exchange's outcome: pending means paid (or not) and final at the deadline. */
function dealState(out: ExchangeOutcome): DealState {
  if (out.outcome === 'completed' || out.outcome === 'resolved') return 'completed';
  if (out.outcome === 'pending') return 'paid';
  return 'failed';
}

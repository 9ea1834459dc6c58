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
import { Element, PaymentItem } from '../transfer/items';
import { TransferError } from '../transfer/errors';
import { ExchangeEnabling, ModuleRef, moduleRef } from '../transfer/openness';
import { encodeStatement, SignResult, Statement, VerifyOfferResult } from '../device/client';
import { AccountCardInstrument, decodePurseEvidence, DevicePurse, PaymentInstrument, PaymentManager } from '../payment/manager';
import { sign1FromDevice } from '../payment/formats';
import { decodeCertificate } from '../../../shared/src/certificate';
import { hex, sameBytes } from '../exchange/formats';
import { ExchangeManager, ExchangeOutcome } from '../exchange/manager';
import { cardStatement, cardStatementDescription, paymentDescription } from '../exchange/modules';
import { acceptedPayment, CommerceError, orderStatement, registrationOrder, verifyOffer, VerifiedOffer } from './offer';
import { OfferBundle, sellerDescription } from './seller';
import { Evaluator, verifyWorkflow, Workflow } from './workflow';
import { Deal, DealState, DealStore } from './deal';

/** The device as the buyer's agent needs it (DeviceClient implements it). */
export interface BuyerDevice {
  verifyOffer(certificate: Uint8Array, offer: Uint8Array): Promise<VerifyOfferResult>;
  purseDebit(statement: Uint8Array): Promise<{ token: Uint8Array }>;
  /** The card signs a statement the holder read on the device (registrations, account-card/1 payments); without it the agent neither registers nor pays from an account. */
  sign?(statement: Uint8Array): Promise<SignResult>;
}

/** The instruments a buyer's agent pays with: both have the card sign on the device. */
export type BuyerInstrument = 'device-purse/1' | 'account-card/1';

/**
 * How the buyer pays — its side of the negotiation against the instruments the offer accepts.
 * The first of `prefer` the merchant accepts and whose limit admits the amount is used (the
 * trials' wish: stored value for small purchases, the account for large ones).
 */
export interface BuyerPayment {
  /** The holder's order of preference. */
  prefer: BuyerInstrument[];
  /** The purse pays up to this amount (minor units); above it the next preference. */
  purseMax?: number;
  /** account-card/1: the holder's account at the bank, the one its card is registered for. */
  account?: string;
}

export interface BuyerOptions {
  exchange: ExchangeManager;
  archive: ArchiveStore;
  /** CA roots merchant certificates chain to. */
  trust: TrustStore;
  /** Evaluators whose certified workflows this buyer runs. */
  evaluators: Evaluator[];
  device: BuyerDevice;
  /** The card's certificate, sent with its payment tokens and card-signed orders. */
  cardCertificate: Uint8Array;
  /** Default: the purse only, for any amount (as before account payments were negotiated). */
  payment?: BuyerPayment;
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
    const p = o.payment;
    if (p) {
      if (!p.prefer.length || new Set(p.prefer).size !== p.prefer.length) throw new CommerceError('MALFORMED', 'the buyer pays with at least one instrument, each named once');
      if (p.prefer.includes('account-card/1') && (!p.account || !o.device.sign)) throw new CommerceError('MALFORMED', 'account-card/1 needs the buyer\u2019s account and a device that signs');
    }
  }

  /**
   * The buyer's payment manager for one order: its instruments in its order of preference, each
   * paying with the device — the purse debits against the order itself (the device shows the
   * order), the card signs an account order naming the order's digest (the statement headed by
   * the order's title). Built per order: the purse's PURSE_DEBIT needs the order's bytes.
   */
  private payments(order: Uint8Array, title: string, refused: () => void): PaymentManager {
    const p: BuyerPayment = this.o.payment ?? { prefer: ['device-purse/1'] };
    const user = <T>(x: Promise<T>): Promise<T> =>
      x.catch((e: unknown) => {
        if (isUserRefusal(e)) refused();
        throw e;
      });
    const make: Record<BuyerInstrument, () => PaymentInstrument> = {
      'device-purse/1': () => new DevicePurse({ debit: async () => (await user(this.o.device.purseDebit(order))).token, cardCertificate: this.o.cardCertificate, ...(p.purseMax !== undefined ? { maxAmount: p.purseMax } : {}) }),
      'account-card/1': () => {
        const sign = this.o.device.sign as NonNullable<BuyerDevice['sign']>;
        return new AccountCardInstrument({ account: p.account, sign: (s) => user(sign(s)), cardCertificate: this.o.cardCertificate, title: () => title });
      },
    };
    return new PaymentManager(p.prefer.map((r) => make[r]()));
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

  /** The payment's evidence under the deal: the purse's token, or the card-signed account order. */
  private async archivePayment(deal: string, merchant: string, item: PaymentItem): Promise<void> {
    const purse = item.instrument === 'device-purse/1';
    const evidence = purse ? decodePurseEvidence(item.evidence).token : item.evidence;
    await this.o.archive.append({ kind: 'payment-token', deal, counterparty: merchant, label: purse ? 'card payment' : `${item.instrument} card-signed order`, amount: -item.amount, currency: item.currency, evidence });
  }

  /** Buys what `bundle` offers from the merchant behind `channel`. CommerceError before anything is paid; afterwards the outcome tells. */
  async purchase(bundle: OfferBundle, channel: Channel, opts: { origin?: string; progress?: (step: PurchaseStep) => void } = {}): Promise<Purchase> {
    const step = opts.progress ?? (() => undefined);
    const v = verifyOffer(bundle.offer, bundle.certificate, this.o.trust, this.now());
    const workflow = verifyWorkflow(bundle.workflow, this.o.evaluators);
    if (workflow.name !== v.offer.workflow) throw new CommerceError('MISMATCH', `the offer runs ${v.offer.workflow}, the definition sent is ${workflow.name}`);
    if (workflow.delivery !== v.offer.delivery) throw new CommerceError('MISMATCH', `the workflow ${workflow.name} is for ${workflow.delivery} goods`);
    const registering = workflow.buyerGives === 'registration';
    // the instrument is negotiated before the device is asked anything: no common one, nothing shown
    let instrument: ModuleRef | undefined;
    let enables: readonly ExchangeEnabling[] = [];
    let userRefused = false;
    if (!registering) {
      const payable = (m: PaymentInstrument): boolean => m.maxAmount === undefined || v.offer.total <= m.maxAmount;
      try {
        const chosen = this.payments(new Uint8Array(), '', () => undefined).negotiate(acceptedPayment(v.offer), 'initiator', payable).info;
        instrument = moduleRef(chosen);
        enables = chosen.enables ?? [];
      } catch (e) {
        if (e instanceof TransferError) throw new CommerceError('NO_COMMON_PAYMENT', `no payment instrument both sides take for ${v.offer.total} ${v.offer.currency}: the merchant accepts [${acceptedPayment(v.offer).join(', ')}], this buyer pays with [${(this.o.payment?.prefer ?? ['device-purse/1']).join(', ')}]${this.o.payment?.purseMax !== undefined ? ` (the purse up to ${this.o.payment.purseMax})` : ''}`, 'payment');
        throw e;
      }
    }
    step('offer-checked');
    // the device checks the offer itself (against the CA key on the card) and will show the merchant as verified
    const onDevice = await this.o.device.verifyOffer(bundle.certificate, bundle.offer);
    if (onDevice.merchant !== v.offer.merchant || !sameBytes(onDevice.offerDigest, v.digest)) throw new CommerceError('MISMATCH', 'the device verified another merchant or offer than this agent did');
    step('offer-verified-on-device');
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
      modules: registering || !instrument ? { workflow: workflow.name } : { workflow: workflow.name, payment: instrument },
      state: 'ordered',
      offer: hex(v.digest),
      order: hex(orderDigest),
    });
    step('exchanging');
    const outcome = await this.o.exchange.exchange(channel, {
      peer: merchant,
      fair: workflow.fair,
      deadlineMs: workflow.deadlineSeconds * 1000,
      context: order,
      want: sellerDescription(o, workflow, orderDigest, merchant),
      give: registering ? this.registration(deal, order, orderDigest, o.merchant, step, () => (userRefused = true)) : {
        // the properties the negotiated instrument declares decide what the exchange can do with it
        description: paymentDescription(o.total, o.currency, o.merchant, { txDigest: orderDigest, label: `${o.total} ${o.currency} to ${o.merchant}`, enables }),
        make: async () => {
          step('waiting-for-user');
          const payments = this.payments(order, statement.title, () => (userRefused = true));
          const item = await payments.get(instrument as ModuleRef).pay({ payee: o.merchant, amount: o.total, currency: o.currency, txDigest: orderDigest, time: this.now() });
          await this.archivePayment(deal, o.merchant, item);
          return item;
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

// The seller's agent (seed §3.5, brief §2): makes signed offers under a certified workflow,
// answers the buyer's purchase as the exchange layer's server, checks that the order and the
// payment are exactly what its offer and its workflow ask, deposits the payment at the bank
// *before* it gives anything, and gives what the workflow says — a signed receipt, the goods
// and a receipt — and later, for physical goods, a signed delivery note.

import { randomBytes } from '@noble/hashes/utils';
import { sha256 } from '@noble/hashes/sha256';
import { decodeCanonical, encodeCanonical, HostCbor } from '../../../shared/src/cbor';
import { COSE_LIMITS, signSign1 } from '../../../shared/src/cose';
import { ArchiveStore } from '../services/archive';
import { Element, information, pkg, PaymentItem, StatementItem } from '../transfer/items';
import { PaymentManager, SettlementPort } from '../payment/manager';
import { ExchangeError } from '../exchange/errors';
import { hex, ItemDescription, Party, sameBytes } from '../exchange/formats';
import { ExchangeManager, Offering, Proposal, TtpPort } from '../exchange/manager';
import { CARD_STATEMENT_FORMAT, ExchangeModules, informationDescription, makeSignature, openCardStatement, packageDescription, signatureDescription } from '../exchange/modules';
import { TrustStore } from '../../../shared/src/certificate';
import { acceptedPayment, CommerceError, Offer, OfferLine, signOffer } from './offer';
import { readWorkflow, Workflow } from './workflow';
import { Deal, DealStore } from './deal';
import { formatMinorUnits } from '../services/money';

export interface OfferBundle {
  /** The signed offer. */
  offer: Uint8Array;
  /** The merchant's CA-issued certificate (role merchant). */
  certificate: Uint8Array;
  /** The evaluator-certified workflow the offer runs under. */
  workflow: Uint8Array;
}

export interface SellerOptions {
  /** name = certificate name = the merchant's account id at the bank (the payee the card signs). */
  identity: Party & { privateKey: Uint8Array; certificate: Uint8Array };
  archive: ArchiveStore;
  modules: ExchangeModules;
  ttp: { party: Party; port: TtpPort };
  /** The payee side's instruments (verify), and the bank they settle at. */
  payments: PaymentManager;
  bank: SettlementPort;
  /** Certified workflow definitions by name (the evaluator's signature inside). */
  workflows: Map<string, Uint8Array>;
  /** The document a digital line delivers. */
  content?(sku: string): { mediaType: string; data: Uint8Array } | undefined;
  /** Roots that certify buyers' cards: needed to take registrations (workflow registration/1). */
  trust?: TrustStore;
  /** Seconds since 1970 (default: system time). */
  now?(): number;
}

interface OpenOffer {
  offer: Offer;
  signed: Uint8Array;
  workflow: Workflow;
  /** Order digests already paid under this offer (an offer is sold once per order). */
  orders: Set<string>;
}

const DELIVERY_NOTE = 'semper-delivery-note';

/** What Seller.sale() tells about one offer. */
export interface Sale {
  offerId: string;
  /** The signed offer. */
  offer: Uint8Array;
  /** The deal, once the buyer's order came (state: ordered → paid → completed, or failed). */
  deal?: Deal;
  /** The signed receipt the seller gave (a COSE_Sign1 signature statement). */
  receipt?: Uint8Array;
  /** The signed delivery note, once the goods were shipped (ship()). */
  deliveryNote?: Uint8Array;
}

/** The receipt in what the seller gives: the signature statement itself, or the last child of a delivery package. */
function receiptIn(item: Element): StatementItem | undefined {
  if (item.kind === 'statement') return item;
  if (item.kind === 'package') for (const c of item.children) {
    const r = receiptIn(c);
    if (r) return r;
  }
  return undefined;
}

export class Seller {
  readonly exchange: ExchangeManager;
  /** Told of every offer made (offer id in hex, bundle): the HTTP face publishes them. */
  onOffer?: (offerId: string, bundle: OfferBundle) => void;
  /** Told once an offer's payment is deposited at the bank (e.g. to take shipped goods off the stock). */
  onPaid?: (offerId: string, offer: Offer) => void;
  readonly deals: DealStore;
  private readonly offers = new Map<string, OpenOffer>();
  /** Deal id by exchange id, for the steps after the order. */
  private readonly dealOf = new Map<string, string>();
  /** Deal id by offer id (hex), for sale(). */
  private readonly dealOfOffer = new Map<string, string>();
  /** The offer an exchange pays for, for onPaid. */
  private readonly offerOf = new Map<string, Offer>();
  /** The order digest an exchange's payment must be bound to. */
  private readonly orderOf = new Map<string, Uint8Array>();
  /** Escrowed deliveries by exchange id: given (recorded) when the payment is deposited. */
  private readonly escrowed = new Map<string, () => Promise<void>>();
  /** Registrations under way: the holder and card key the agreement names, by exchange id. */
  private readonly pending = new Map<string, { holder: string; cardKey: Uint8Array }>();
  private readonly now: () => number;

  constructor(private readonly o: SellerOptions) {
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
    this.deals = new DealStore(o.archive);
    this.exchange = new ExchangeManager({
      identity: o.identity,
      archive: o.archive,
      modules: o.modules,
      ttp: o.ttp,
      respond: (p) => this.respond(p),
      accept: (item, ctx) => (item.kind === 'payment' ? this.deposit(item, ctx.exchangeId) : this.register(item, ctx.exchangeId)),
    });
  }

  /** The merchant's certified name: the payee every card signs, its account at the bank. */
  get merchantName(): string {
    return this.o.identity.name;
  }

  /** The exchange layer's server: a channel handler (memoryChannel, serveTransfers). */
  get handler(): (b: Uint8Array) => Promise<Uint8Array> {
    return this.exchange.handler;
  }

  /** A signed offer for these lines under the workflow `workflowName`, valid for `validSeconds`. */
  async makeOffer(lines: OfferLine[], opts: { workflow: string; currency?: string; validSeconds?: number; deliverByDays?: number; refundDays?: number; payment?: string[] }): Promise<OfferBundle & { id: string }> {
    const certified = this.o.workflows.get(opts.workflow);
    if (!certified) throw new CommerceError('NOT_FOUND', `no certified workflow ${opts.workflow} here`);
    const workflow = readWorkflow(certified);
    const now = this.now();
    const withContent = lines.map((l) => {
      if (workflow.sellerGives !== 'goods-and-receipt') return l;
      const c = this.o.content?.(l.sku);
      // in a mixed delivery a line without a document is shipped
      if (!c && workflow.delivery === 'mixed') return l;
      if (!c) throw new CommerceError('NOT_FOUND', `no document for ${l.sku}: a digital offer commits to what it delivers`);
      return { ...l, content: { mediaType: c.mediaType, hash: sha256(c.data) } };
    });
    const offer: Offer = {
      id: randomBytes(16),
      merchant: this.o.identity.name,
      lines: withContent,
      total: withContent.reduce((a, l) => a + l.quantity * l.unitPrice, 0),
      currency: opts.currency ?? 'EUR',
      delivery: workflow.delivery,
      validUntil: now + (opts.validSeconds ?? 3600),
      workflow: workflow.name,
      created: now,
    };
    if (opts.deliverByDays !== undefined) offer.deliverBy = now + opts.deliverByDays * 86400;
    if (opts.refundDays !== undefined) offer.refundUntil = now + opts.refundDays * 86400;
    if (workflow.buyerGives !== 'registration' && offer.total > 0) {
      // what this merchant takes for the amount: its instruments whose limits admit it (or the ones asked for, if it has them)
      const takes = this.o.payments.offerFor(offer.total);
      const payment = opts.payment ?? takes;
      const unknown = payment.filter((r) => !takes.includes(r));
      if (!payment.length || unknown.length) throw new CommerceError('REFUSED', unknown.length ? `this merchant cannot take ${unknown.join(', ')} for ${offer.total} ${offer.currency}` : 'this merchant takes no payment instrument for this amount');
      offer.payment = payment;
    }
    const signed = signOffer(offer, this.o.identity.privateKey);
    this.offers.set(hex(sha256(signed)), { offer, signed, workflow, orders: new Set() });
    await this.o.archive.append({ kind: 'offer', deal: hex(offer.id), label: `offer ${offer.lines.map((l) => l.title).join(', ')}`.slice(0, 200), amount: offer.total, currency: offer.currency, evidence: signed });
    const bundle = { offer: signed, certificate: this.o.identity.certificate, workflow: certified };
    this.onOffer?.(hex(offer.id), bundle);
    return { ...bundle, id: hex(offer.id) };
  }

  /** What the seller gives for a proposal: only what its offer and workflow say, for exactly the payment they ask. */
  private async respond(p: Proposal): Promise<Offering> {
    if (!p.context) throw new ExchangeError('REFUSED', 'a purchase names its order');
    const order = decodeOrder(p.context);
    const open = this.offers.get(hex(order.offer));
    if (!open) throw new ExchangeError('REFUSED', 'the order names no offer of this merchant (or it expired here)');
    const { offer, workflow } = open;
    if (offer.validUntil < this.now()) throw new ExchangeError('REFUSED', 'the offer has expired');
    const registering = workflow.buyerGives === 'registration';
    if (registering !== (order.kind === 'registration')) throw new ExchangeError('MISMATCH', `the workflow ${workflow.name} asks for a ${registering ? 'registration' : 'payment'}, the order is a ${order.kind}`);
    if (!registering && (order.amount !== offer.total || order.currency !== offer.currency || order.payee !== offer.merchant)) throw new ExchangeError('MISMATCH', 'the order does not say what the offer says');
    const digest = sha256(p.context);
    if (open.orders.has(hex(digest))) throw new ExchangeError('REFUSED', registering ? 'this registration has been made already' : 'this order has been paid already');
    const spec = p.gives.spec;
    const bound = spec.get(3);
    if (registering) {
      // the card's signature over exactly this registration, as the device showed it
      if (p.gives.type !== 'statement' || spec.get(4) !== CARD_STATEMENT_FORMAT || typeof spec.get(1) !== 'string' || !(bound instanceof Uint8Array) || !sameBytes(bound, digest)) throw new ExchangeError('MISMATCH', 'the registration proposed is not the order\u2019s');
    } else {
      // the payment the buyer gives must be for this order, in full, to this merchant
      const money = spec.get(1);
      if (p.gives.type !== 'payment' || !Array.isArray(money) || money[0] !== offer.total || money[1] !== offer.currency || spec.get(2) !== offer.merchant || !(bound instanceof Uint8Array) || !sameBytes(bound, digest)) {
        throw new ExchangeError('MISMATCH', 'the payment proposed is not the order\u2019s');
      }
    }
    if (p.fair !== workflow.fair) throw new ExchangeError('REFUSED', `the workflow ${workflow.name} ${workflow.fair ? 'needs' : 'does not use'} a fair exchange`);
    open.orders.add(hex(digest));
    const deal = /^(?:order|registration) ([0-9a-f]{32})$/.exec(order.reference)?.[1] ?? hex(digest).slice(0, 32);
    this.dealOf.set(p.exchangeId, deal);
    this.dealOfOffer.set(hex(offer.id), deal);
    this.offerOf.set(p.exchangeId, offer);
    this.orderOf.set(p.exchangeId, digest);
    if (registering) this.pending.set(p.exchangeId, { holder: spec.get(1) as string, cardKey: spec.get(2) as Uint8Array });
    await this.o.archive.append({ kind: 'order', deal, counterparty: p.peer.name, label: `order for offer ${hex(offer.id)}`, amount: offer.total, currency: offer.currency, evidence: p.context });
    await this.deals.save({ id: deal, role: 'seller', peer: p.peer, attributes: ['integrity', 'origin', 'receipt'], modules: { workflow: workflow.name, exchange: workflow.fair ? 'fair' : 'plain/1' }, state: 'ordered', offer: hex(order.offer), order: hex(digest), exchange: p.exchangeId });
    const offering = sellerOffering(offer, workflow, digest, this.o.identity, this.o.content, registering ? (spec.get(1) as string) : undefined);
    return {
      description: offering.description,
      make: async (ctx) => {
        const item = await offering.make(ctx);
        const delivered = (): Promise<void> => this.delivered(deal, p.peer.name, offer, registering ? 'credential' : 'receipt', item);
        // an escrowed delivery is made at the proposal, before the payment: it is given once the deposit is made (deposit())
        if (ctx.agreementHash.some((x) => x !== 0)) await delivered();
        else this.escrowed.set(p.exchangeId, delivered);
        return item;
      },
    };
  }

  /** What the seller gave: its receipt (or credential) archived under the deal, which is completed. */
  private async delivered(deal: string, peer: string, offer: Offer, what: 'receipt' | 'credential', item: Element): Promise<void> {
    const receipt = receiptIn(item);
    if (receipt) await this.o.archive.append({ kind: 'receipt', deal, counterparty: peer, label: `${what} given for offer ${hex(offer.id)}`, amount: offer.total, currency: offer.currency, evidence: receipt.document });
    await this.deals.update(deal, { state: 'completed', note: 'delivered' });
  }

  /**
   * Before the seller gives a credential: the registration's card is certified (role buyer-card,
   * under the trust store's roots) for the name the agreement gives; the signed registration is
   * archived as the customer's evidence.
   */
  private async register(item: Element, exchangeId: string): Promise<void> {
    if (item.kind !== 'statement' || item.format !== CARD_STATEMENT_FORMAT) throw new ExchangeError('MISMATCH', 'a card-signed registration was expected');
    if (!this.o.trust) throw new ExchangeError('REFUSED', 'this seller takes no registrations: it has no trust store for card certificates');
    const deal = this.dealOf.get(exchangeId) ?? exchangeId;
    const sale = this.pending.get(exchangeId);
    this.pending.delete(exchangeId);
    const { certificate } = openCardStatement(item.document, sale?.cardKey ?? new Uint8Array());
    let holder: string;
    try {
      holder = this.o.trust.validate(certificate, this.now(), { roles: ['buyer-card'] })[0].name;
    } catch (e) {
      throw new ExchangeError('REFUSED', `the card is not certified: ${(e as Error).message}`);
    }
    if (sale && holder !== sale.holder) throw new ExchangeError('MISMATCH', `the card is certified for ${holder}, the registration names ${sale.holder}`);
    await this.o.archive.append({ kind: 'signature', deal, counterparty: holder, label: `registration of ${holder}`, evidence: item.document });
    if (this.dealOf.has(exchangeId)) await this.deals.update(deal, { state: 'paid', note: 'registration signed' });
  }

  /** Before the seller gives anything: the payment is deposited at the bank (double spending is caught there). */
  private async deposit(item: Element, exchangeId: string): Promise<void> {
    if (item.kind !== 'payment') throw new ExchangeError('MISMATCH', 'a payment was expected');
    const sold = this.offerOf.get(exchangeId);
    if (sold) {
      // only an instrument the signed offer named, and the payment checked by it for exactly this order
      if (!acceptedPayment(sold).includes(item.instrument)) throw new ExchangeError('REFUSED', `the offer does not take ${item.instrument}`, 'instrument');
      try {
        this.o.payments.verify(item, { payee: sold.merchant, amount: sold.total, currency: sold.currency, txDigest: this.orderOf.get(exchangeId) ?? new Uint8Array(32), time: this.now() });
      } catch (e) {
        throw new ExchangeError('MISMATCH', `the payment does not verify: ${(e as Error).message}`, (e as { detail?: string }).detail);
      }
    }
    const settled = await this.o.payments.settle(item as PaymentItem, this.o.bank, `deposit-${exchangeId}`).catch((e: unknown) => {
      throw new ExchangeError('REFUSED', `the bank did not take the payment: ${(e as Error).message}`, (e as { detail?: string }).detail);
    });
    const deal = this.dealOf.get(exchangeId) ?? exchangeId;
    await this.o.archive.append({ kind: 'deposit', deal, counterparty: 'bank', label: `deposit ${settled.instrument}`, amount: settled.amount, currency: settled.currency, note: `ledger entry ${settled.entry}` });
    if (this.dealOf.has(exchangeId)) await this.deals.update(deal, { state: 'paid', modules: { payment: settled.instrument } });
    // an escrowed delivery goes out right after this hook (and the third party holds it already): record it now
    const escrowed = this.escrowed.get(exchangeId);
    this.escrowed.delete(exchangeId);
    if (escrowed) await escrowed();
    const offer = this.offerOf.get(exchangeId);
    if (offer) {
      try {
        this.onPaid?.(hex(offer.id), offer);
      } catch (_e) {
        // the merchant's own bookkeeping must not undo a deposit the bank has made
      }
    }
  }

  /**
   * Where the sale of an offer stands, for the shop's order page: the deal (state, payment
   * instrument) once the buyer ordered, and the signed receipt once it was given. Read from the
   * archive, so it survives a restart. Undefined: no such offer was made here.
   */
  async sale(offerId: string): Promise<Sale | undefined> {
    if (!/^[0-9a-f]{32}$/.test(offerId)) return undefined;
    const offered = (await this.o.archive.list({ deal: offerId, kind: 'offer' }))[0];
    if (!offered) return undefined;
    let dealId = this.dealOfOffer.get(offerId);
    if (!dealId) {
      const label = `order for offer ${offerId}`;
      dealId = (await this.o.archive.list({ kind: 'order' })).find((r) => r.label === label)?.deal;
    }
    const sale: Sale = { offerId, offer: offered.evidence as Uint8Array };
    if (!dealId) return sale;
    const deal = await this.deals.get(dealId);
    if (deal) sale.deal = deal;
    const receipt = (await this.o.archive.list({ deal: dealId, kind: 'receipt' }))[0];
    if (receipt?.evidence) sale.receipt = receipt.evidence;
    const note = (await this.o.archive.list({ deal: dealId, kind: 'signature' })).find((r) => r.label === `delivery note for offer ${offerId}`);
    if (note?.evidence) sale.deliveryNote = note.evidence;
    return sale;
  }

  /**
   * Ships the paid goods of an offer: the signed delivery note for its shipped lines (those
   * without a document), archived under the deal (kind signature) for the order page and the
   * parcel. Once per offer; CommerceError when it was not paid or has nothing to ship.
   */
  async ship(offerId: string, carrierReference: string): Promise<Uint8Array> {
    const sale = await this.sale(offerId);
    if (!sale?.deal?.order || (sale.deal.state !== 'paid' && sale.deal.state !== 'completed')) throw new CommerceError('REFUSED', `offer ${offerId} is not paid: nothing is shipped`);
    if (sale.deliveryNote) throw new CommerceError('REFUSED', `offer ${offerId} has been shipped`);
    const offer = this.offers.get(sale.deal.offer ?? '')?.offer;
    const lines = offer?.lines.filter((l) => !l.content) ?? [];
    if (!lines.length) throw new CommerceError('REFUSED', `offer ${offerId} has no goods to ship (or this agent restarted since it was made)`);
    const note = this.deliveryNote(new Uint8Array(Buffer.from(sale.deal.order, 'hex')), { lines, carrierReference });
    await this.o.archive.append({ kind: 'signature', deal: sale.deal.id, counterparty: sale.deal.peer.name, label: `delivery note for offer ${offerId}`, note: carrierReference, evidence: note });
    await this.deals.update(sale.deal.id, { note: `shipped ${carrierReference}` });
    return note;
  }

  /** The signed delivery note of a shipped order (physical goods), bound to the order. */
  deliveryNote(orderDigest: Uint8Array, shipped: { lines: OfferLine[]; carrierReference: string }): Uint8Array {
    return signSign1(
      encodeCanonical(new Map<number, HostCbor>([[1, DELIVERY_NOTE], [2, orderDigest], [3, shipped.lines.map((l) => [l.sku, l.title, l.quantity])], [4, this.now()], [5, shipped.carrierReference]])),
      this.o.identity.privateKey,
    );
  }
}

/** The order statement's fields the seller checks (SPEC §5.4). */
export function decodeOrder(statement: Uint8Array): { kind: 'payment' | 'registration'; amount: number; currency: string; payee: string; offer: Uint8Array; reference: string } {
  let m: HostCbor;
  try {
    m = decodeCanonical(statement, COSE_LIMITS);
  } catch (_e) {
    throw new ExchangeError('MALFORMED', 'the order is not canonical CBOR');
  }
  if (!(m instanceof Map) || (m.get(1) !== 1 && m.get(1) !== 2)) throw new ExchangeError('MALFORMED', 'the order is neither a PAYMENT nor a DOCUMENT (registration) statement');
  const payee = m.get(4);
  const offer = m.get(5);
  const reference = m.get(6);
  if (!(offer instanceof Uint8Array) || offer.length !== 32 || typeof reference !== 'string') throw new ExchangeError('MALFORMED', 'the order lacks offer or reference');
  if (m.get(1) === 2) {
    // the device names the provider from the verified offer; a registration carries neither payee nor amount
    if (m.has(3) || m.has(4)) throw new ExchangeError('MALFORMED', 'a registration carries no amount and no payee');
    return { kind: 'registration', amount: 0, currency: '', payee: '', offer, reference };
  }
  if (typeof payee !== 'string') throw new ExchangeError('MALFORMED', 'the order lacks its payee');
  const money = m.get(3);
  const [amount, currency] = Array.isArray(money) && money.length === 2 ? money : [];
  if (typeof amount !== 'number' || typeof currency !== 'string') throw new ExchangeError('MALFORMED', 'the order lacks its amount');
  return { kind: 'payment', amount, currency, payee, offer, reference };
}

/** The descriptions of what the seller gives under a workflow: the buyer computes the same from the offer it verified. */
export function sellerDescription(offer: Offer, workflow: Workflow, orderDigest: Uint8Array, merchant: Party): ItemDescription {
  if (workflow.sellerGives === 'credential') return signatureDescription(merchant, { contentHash: orderDigest, label: `customer credential of ${merchant.name}` });
  const receipt = signatureDescription(merchant, { contentHash: orderDigest, label: `receipt of ${merchant.name}` });
  if (workflow.sellerGives === 'receipt') return receipt;
  // the documents travel in the exchange; shipped lines (mixed delivery) follow with the delivery note
  const documents = offer.lines.filter((l) => l.content);
  if (!documents.length || (offer.delivery === 'digital' && documents.length !== offer.lines.length)) throw new CommerceError('MALFORMED', 'a digital line names no content');
  const goods = documents.map((l) => ({ type: 'information', properties: 5, spec: new Map<number, HostCbor>([[1, l.content!.mediaType], [2, l.content!.hash]]), label: l.title }));
  return packageDescription('delivery', [...goods, receipt], `${documents.map((l) => l.title).join(', ')} and the receipt`);
}

/**
 * The receipt's words — what a court or an accountant reads: who received how much, in the
 * currency's own notation, for what, under which offer and order (the signature binds the
 * order's digest in full; the text names its first 16 hex digits and the offer's id).
 */
export function receiptText(merchant: string, offer: Offer, orderDigest: Uint8Array): string {
  const goods = offer.lines.map((l) => (l.quantity === 1 ? l.title : `${l.quantity} × ${l.title}`)).join(', ');
  const what = goods.length > 120 ? `${goods.slice(0, 119)}…` : goods;
  return `${merchant} received ${formatMinorUnits(offer.total, offer.currency) ?? offer.total} ${offer.currency} for ${what} (offer ${hex(offer.id)}, order ${hex(orderDigest).slice(0, 16)})`;
}

/** A customer credential's words: who registered whom, for what, under which customer number (the order digest's first 8 hex digits). */
export function credentialText(provider: string, offer: Offer, holder: string, orderDigest: Uint8Array): string {
  const what = offer.lines.map((l) => l.title).join(', ').slice(0, 120);
  return `${provider} registered ${holder} as customer ${hex(orderDigest).slice(0, 8).toUpperCase()} for ${what} (offer ${hex(offer.id)})`;
}

function sellerOffering(offer: Offer, workflow: Workflow, orderDigest: Uint8Array, me: Party & { privateKey: Uint8Array }, content: SellerOptions['content'], holder?: string): Offering {
  const description = sellerDescription(offer, workflow, orderDigest, me);
  return {
    description,
    make: async (ctx) => {
      // escrowed deliveries are made before the agreement exists: the receipt then binds through the order digest alone
      const bound = ctx.agreementHash.some((x) => x !== 0) ? ctx.agreementHash : undefined;
      if (workflow.sellerGives === 'credential') return makeSignature(bound, credentialText(me.name, offer, holder ?? 'the card holder', orderDigest), me.privateKey, { contentHash: orderDigest, time: ctx.now });
      const receipt = makeSignature(bound, receiptText(me.name, offer, orderDigest), me.privateKey, { contentHash: orderDigest, time: ctx.now });
      if (workflow.sellerGives === 'receipt') return receipt;
      const docs = offer.lines.filter((l) => l.content).map((l) => {
        const c = content?.(l.sku);
        if (!c) throw new ExchangeError('REFUSED', `the document of ${l.sku} is gone`);
        return information(c.mediaType, c.data);
      });
      return pkg('delivery', [...docs, receipt]);
    },
  };
}

export { informationDescription };

// The seller's agent behind a web shop: the shop's checkout (host/src/seller CheckoutHandler)
// becomes a signed offer under the workflow the cart's delivery asks for, handed to the buyer's
// page as a payment for the buyer's own agent; the order page's status comes from the seller's
// books (Seller.sale: the deal, the deposit, the receipt given), never from the browser. Shipped
// goods leave the stock when their payment is deposited.

import { sha256 } from '@noble/hashes/sha256';
import { decodeCanonical } from '../../../shared/src/cbor';
import { COSE_LIMITS, verifySign1 } from '../../../shared/src/cose';
import { hex } from '../exchange/formats';
import { Catalogue } from '../seller/catalogue';
import { Cart, CheckoutError, CheckoutHandler, DeliveryNoteView, OrderStatusSource, OrderUpdate, ReceiptView } from '../seller/checkout';
import { CommerceError, OfferLine } from './offer';
import { Seller } from './seller';

export interface ShopCheckoutOptions {
  seller: Seller;
  /** The merchant's public key (SEC1): the receipts shown are checked against it. */
  merchantKey: Uint8Array;
  /** The URL the buyer's agent fetches an offer bundle from (serveSeller's offerUrl). */
  offerUrl(offerId: string): string;
  /** The catalogue whose shipped goods leave the stock once paid (optional). */
  catalogue?: Catalogue;
  /** How long an offer stands, seconds (default 900: the buyer has a quarter of an hour to confirm). */
  validSeconds?: number;
  /** Operator log (stock that could not be taken off, an unreadable receipt). */
  log?: (line: string) => void;
  /** A warehouse that ships paid goods at once (the demo): the signed delivery note follows the deposit. */
  shipAtOnce?: boolean;
}

/** The workflow a cart runs: on-line goods against the documents and the receipt, shipped goods by mail order, both at once for a mixed cart. */
export function workflowFor(cart: Pick<Cart, 'shipsPhysicalGoods' | 'deliversOnline'>): string {
  if (cart.shipsPhysicalGoods && cart.deliversOnline) return 'mail-order-mixed/1';
  return cart.shipsPhysicalGoods ? 'mail-order/1' : 'information-purchase/1';
}

/** A delivery note the seller signed, read and checked against the merchant's key; undefined if it is not one. */
export function deliveryNoteView(document: Uint8Array, merchantKey: Uint8Array): DeliveryNoteView | undefined {
  try {
    const m = decodeCanonical(verifySign1(document, merchantKey).payload, COSE_LIMITS) as Map<number, unknown>;
    const lines = m.get(3);
    const time = m.get(4);
    const carrierReference = m.get(5);
    if (m.get(1) !== 'semper-delivery-note' || !Array.isArray(lines) || typeof time !== 'number' || typeof carrierReference !== 'string') return undefined;
    return { carrierReference, time: time * 1000, lines: lines.map((l) => ({ sku: String(l[0]), title: String(l[1]), quantity: Number(l[2]) })), document };
  } catch (_e) {
    return undefined;
  }
}

/** A receipt the seller gave, read and checked against the merchant's key; undefined if it is not one. */
export function receiptView(document: Uint8Array, signer: string, merchantKey: Uint8Array): ReceiptView | undefined {
  try {
    const sign1 = verifySign1(document, merchantKey);
    const m = decodeCanonical(sign1.payload as Uint8Array, COSE_LIMITS) as Map<number, unknown>;
    const text = m.get(4);
    const time = m.get(5);
    if (typeof text !== 'string' || typeof time !== 'number') return undefined;
    return { signer, text, time, digest: hex(sha256(document)), document };
  } catch (_e) {
    return undefined;
  }
}

export function shopCheckout(o: ShopCheckoutOptions): { checkout: CheckoutHandler; orderStatus: OrderStatusSource } {
  const log = o.log ?? (() => {});
  o.seller.onPaid = (offerId, offer) => {
    // shipped lines are the ones without a document
    const shipped = offer.lines.filter((x) => !x.content);
    for (const l of o.catalogue ? shipped : []) {
      try {
        o.catalogue?.adjustStock(l.sku, -l.quantity);
      } catch (e) {
        // sold and paid: the goods are owed whatever the stock says — the operator must know
        log(`offer ${offerId}: ${l.quantity} × ${l.sku} paid but not taken off the stock: ${(e as Error).message}`);
      }
    }
    // after the deposit's own bookkeeping has finished
    if (o.shipAtOnce && shipped.length) setImmediate(() => void o.seller.ship(offerId, `DEMO-POST-${offerId.slice(0, 10).toUpperCase()}`).catch((e: unknown) => log(`offer ${offerId}: not shipped: ${(e as Error).message}`)));
  };

  const checkout: CheckoutHandler = async (cart) => {
    const workflow = workflowFor(cart);
    const lines: OfferLine[] = cart.lines.map((l) => ({ sku: l.sku, title: l.title, quantity: l.quantity, unitPrice: l.unitPrice }));
    // the offer promises what every line can keep: the latest delivery, the shortest refund period
    // (none at all if one line has none: then the offer names no refund date)
    const refundDays = Math.min(...cart.lines.map((l) => l.refundUntilDays));
    let made;
    try {
      made = await o.seller.makeOffer(lines, {
        workflow,
        currency: cart.currency,
        validSeconds: o.validSeconds ?? 900,
        deliverByDays: Math.max(...cart.lines.map((l) => l.deliverByDays)),
        ...(refundDays > 0 ? { refundDays } : {}),
      });
    } catch (e) {
      if (e instanceof CommerceError) throw new CheckoutError('REFUSED', `The shop cannot offer this cart: ${e.message}. Nothing was charged.`);
      throw e;
    }
    const reference = `Order ${made.id.slice(0, 8).toUpperCase()}`;
    return {
      orderId: made.id,
      status: 'pending',
      message: `${reference}: the offer is signed by the shop and valid for ${Math.round((o.validSeconds ?? 900) / 60)} minutes.`,
      payment: { offer: o.offerUrl(made.id), amount: cart.total, currency: cart.currency, payee: o.seller.merchantName, reference },
    };
  };

  const orderStatus: OrderStatusSource = async (orderId) => {
    const sale = await o.seller.sale(orderId);
    if (!sale?.deal) return sale ? { status: 'pending' } : undefined;
    const { deal } = sale;
    if (deal.state === 'failed') return { status: 'refused', message: `The payment did not go through${deal.note ? `: ${deal.note}` : ''}. Nothing is owed.` };
    if (deal.state !== 'paid' && deal.state !== 'completed') return { status: 'pending' };
    const update: OrderUpdate = { status: 'paid', message: `Paid with ${deal.modules.payment ?? 'SEMPER'}; the payment is deposited at the bank.` };
    if (sale.receipt) {
      const receipt = receiptView(sale.receipt, o.seller.merchantName, o.merchantKey);
      if (receipt) update.receipt = receipt;
      else log(`offer ${orderId}: the receipt in the archive does not verify under the merchant's key`);
    }
    if (sale.deliveryNote) {
      const note = deliveryNoteView(sale.deliveryNote, o.merchantKey);
      if (note) update.deliveryNote = note;
      else log(`offer ${orderId}: the delivery note in the archive does not verify under the merchant's key`);
    }
    return update;
  };

  return { checkout, orderStatus };
}

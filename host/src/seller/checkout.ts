// The checkout hook between the shop's web front and whoever takes the money. The shop
// builds the priced cart and the buyer's checked details and calls a CheckoutHandler; the
// commerce layer implements it (offer → the buyer confirms on the device → payment verified
// → signed receipt). The shop only shows what the handler answers, after checking it.
//
// Without a commerce layer the shop runs with `paymentNotConnected`, which refuses every
// checkout with a clear message.

import type { ArticleKind } from './catalogue';

/** One line of the cart, priced from the catalogue when the cart is shown or checked out. */
export interface CartLine {
  sku: string;
  title: string;
  kind: ArticleKind;
  quantity: number;
  /** Minor units of `currency`. */
  unitPrice: number;
  lineTotal: number;
  currency: string;
  /** Delivery promised within this many days of payment (0: on-line, at once). */
  deliverByDays: number;
  /** Refund possible until this many days after delivery (0: none). */
  refundUntilDays: number;
}

/** The cart handed to a CheckoutHandler: a frozen copy, in one currency. */
export interface Cart {
  lines: readonly CartLine[];
  /** Sum of the line totals, minor units of `currency`. */
  total: number;
  currency: string;
  /** Physical goods in the cart: the buyer gave a postal address. */
  shipsPhysicalGoods: boolean;
  /** Digital goods in the cart: the buyer gave an e-mail address. */
  deliversOnline: boolean;
}

export interface PostalAddress {
  street: string;
  postcode: string;
  city: string;
  /** ISO 3166-1 alpha-2, upper case, e.g. "DE". */
  country: string;
}

/** What the buyer typed into the order form, checked. */
export interface BuyerInfo {
  name: string;
  /** Present when the cart holds digital goods (and when the buyer gave one anyway). */
  email?: string;
  /** Present exactly when the cart holds physical goods. */
  address?: PostalAddress;
}

/**
 * paid: payment verified, goods on their way (or delivered, for digital goods);
 * pending: accepted, payment or delivery still under way (e.g. awaiting the bank);
 * refused: the order exists but was not paid (the buyer declined on the device, the bank refused).
 */
export type CheckoutStatus = 'paid' | 'pending' | 'refused';
export const CHECKOUT_STATUSES: readonly CheckoutStatus[] = ['paid', 'pending', 'refused'];

export interface CheckoutResult {
  /** 1–64 of A–Z a–z 0–9 . _ : - */
  orderId: string;
  status: CheckoutStatus;
  /** Where the signed receipt can be fetched: http(s) or a path on the shop's site. */
  receiptUrl?: string;
  /** A sentence for the buyer (why refused, what happens next); at most 500 characters. */
  message?: string;
  /**
   * With status pending: the payment the order page starts in the buyer's browser, through the
   * buyer's own SEMPER agent and device. The shop learns the outcome from its `orderStatus`
   * source (the merchant's books), never from the page.
   */
  payment?: PaymentRequest;
}

/** A payment for the buyer's agent (@semper/client `purchase`): the signed offer and what it must say. */
export interface PaymentRequest {
  /** http(s) URL of the merchant's signed offer; the agent fetches it and the device verifies it. */
  offer: string;
  /** Minor units of `currency`, > 0. */
  amount: number;
  currency: string;
  /** The merchant as its certificate names it (1–64 characters). */
  payee: string;
  /** The order as the buyer knows it (1–40 characters). */
  reference: string;
}

/** The merchant's signed receipt, as the order page shows it. */
export interface ReceiptView {
  /** Who signed it (the merchant's certified name) and what it says. */
  signer: string;
  text: string;
  /** ms since 1970. */
  time: number;
  /** SHA-256 of the signed document, hex: what the buyer's archive holds too. */
  digest: string;
  /** The signed document (COSE_Sign1), offered for download. */
  document: Uint8Array;
}

/** The merchant's signed delivery note of shipped goods, as the order page shows it. */
export interface DeliveryNoteView {
  /** The carrier's reference (parcel number). */
  carrierReference: string;
  /** ms since 1970: when it was shipped. */
  time: number;
  lines: { sku: string; title: string; quantity: number }[];
  /** The signed document (COSE_Sign1), offered for download. */
  document: Uint8Array;
}

/** Where an order stands in the merchant's books. */
export interface OrderUpdate {
  status: CheckoutStatus;
  message?: string;
  receipt?: ReceiptView;
  deliveryNote?: DeliveryNoteView;
}

/** Asked when a pending order's page is shown: the merchant's books say whether it was paid since. */
export type OrderStatusSource = (orderId: string) => Promise<OrderUpdate | undefined>;

/** Takes the order and the payment; resolves with the order, or rejects with a CheckoutError. */
export type CheckoutHandler = (cart: Cart, buyer: BuyerInfo) => Promise<CheckoutResult>;

export type CheckoutErrorCode =
  | 'NOT_CONNECTED' // no payment service behind the shop
  | 'REFUSED' // no order was made (the buyer cancelled, the device or the bank said no)
  | 'UNAVAILABLE'; // the payment service cannot be reached now; the buyer may try again

/** Thrown by a handler when no order came about; the shop shows the message on the checkout page. */
export class CheckoutError extends Error {
  override readonly name = 'CheckoutError';
  constructor(
    readonly code: CheckoutErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isCheckoutError(e: unknown): e is CheckoutError {
  const x = e as { name?: unknown; code?: unknown; message?: unknown } | null;
  return typeof x === 'object' && x !== null && x.name === 'CheckoutError' && typeof x.code === 'string' && ['NOT_CONNECTED', 'REFUSED', 'UNAVAILABLE'].includes(x.code) && typeof x.message === 'string';
}

/** The default handler: the shop runs standalone and says plainly that it cannot take payment. */
export const paymentNotConnected: CheckoutHandler = async () => {
  throw new CheckoutError('NOT_CONNECTED', 'Payment is not connected: this shop runs without a payment service, so no order can be placed. Nothing was charged.');
};

const ORDER_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The handler's answer, checked before the shop stores or shows it; a reason when it is unusable. */
export function checkCheckoutResult(r: unknown): { ok: true; result: CheckoutResult } | { ok: false; reason: string } {
  if (typeof r !== 'object' || r === null) return { ok: false, reason: 'not an object' };
  const x = r as Record<string, unknown>;
  if (typeof x.orderId !== 'string' || !ORDER_ID.test(x.orderId)) return { ok: false, reason: 'orderId: 1–64 of A–Z a–z 0–9 . _ : -' };
  if (typeof x.status !== 'string' || !(CHECKOUT_STATUSES as readonly string[]).includes(x.status)) return { ok: false, reason: `status: one of ${CHECKOUT_STATUSES.join(', ')}` };
  if (x.receiptUrl !== undefined && (typeof x.receiptUrl !== 'string' || x.receiptUrl.length > 2048)) return { ok: false, reason: 'receiptUrl: text up to 2048 characters' };
  if (x.message !== undefined && (typeof x.message !== 'string' || x.message.length > 500)) return { ok: false, reason: 'message: text up to 500 characters' };
  let payment: PaymentRequest | undefined;
  if (x.payment !== undefined) {
    const checked = checkPaymentRequest(x.payment);
    if (typeof checked === 'string') return { ok: false, reason: `payment: ${checked}` };
    if (x.status !== 'pending') return { ok: false, reason: 'payment: only a pending order has a payment to start' };
    payment = checked;
  }
  const result: CheckoutResult = { orderId: x.orderId, status: x.status as CheckoutStatus };
  if (payment) result.payment = payment;
  if (x.receiptUrl !== undefined) result.receiptUrl = x.receiptUrl as string;
  if (x.message !== undefined) result.message = x.message as string;
  return { ok: true, result };
}

const TEXT = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max && !/\p{Cc}/u.test(v);

/** A handler's payment request, checked field by field; a reason when it is unusable. */
export function checkPaymentRequest(p: unknown): PaymentRequest | string {
  if (typeof p !== 'object' || p === null) return 'not an object';
  const x = p as Record<string, unknown>;
  if (!TEXT(x.offer, 512) || !/^https?:\/\/[^\s]+$/.test(x.offer)) return 'offer: an http(s) URL up to 512 characters';
  if (typeof x.amount !== 'number' || !Number.isSafeInteger(x.amount) || x.amount <= 0) return 'amount: whole minor units above 0';
  if (typeof x.currency !== 'string' || !/^[A-Z]{3}$/.test(x.currency)) return 'currency: an ISO 4217 code';
  if (!TEXT(x.payee, 64)) return 'payee: 1–64 characters of text';
  if (!TEXT(x.reference, 40)) return 'reference: 1–40 characters of text';
  return { offer: x.offer, amount: x.amount, currency: x.currency, payee: x.payee, reference: x.reference };
}

// ------------------------------------------------------------------ the order form

/** A field of the order form and what is wrong with it, for the buyer. */
export interface FieldProblem {
  field: 'name' | 'email' | 'street' | 'postcode' | 'city' | 'country';
  message: string;
}

const CONTROL = /\p{Cc}/u;
// deliberately plain: one @, no spaces, a dot in the domain (RFC 5322 allows more, shops do not)
const EMAIL = /^[^\s@<>()[\]\\,;:"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const POSTCODE = /^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$/;
const COUNTRY = /^[A-Z]{2}$/;

/**
 * Checks the order form against the cart: a name always, a postal address when physical goods
 * are shipped, an e-mail address when digital goods are delivered on-line. Returns the buyer,
 * or the problems (each field named) and no buyer.
 */
export function checkOrderForm(form: Readonly<Record<string, string | undefined>>, cart: Pick<Cart, 'shipsPhysicalGoods' | 'deliversOnline'>): { buyer: BuyerInfo; problems: [] } | { buyer?: undefined; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const field = (f: FieldProblem['field'], max: number, required: boolean, what: string): string | undefined => {
    const v = (form[f] ?? '').trim().replace(/\s+/g, ' ');
    if (v === '') {
      if (required) problems.push({ field: f, message: `Please give ${what}.` });
      return undefined;
    }
    if (v.length > max || CONTROL.test(v)) {
      problems.push({ field: f, message: `${what[0].toUpperCase()}${what.slice(1)} must be at most ${max} characters of text.` });
      return undefined;
    }
    return v;
  };
  const name = field('name', 100, true, 'your name');
  const email = field('email', 254, cart.deliversOnline, 'an e-mail address for the on-line delivery');
  if (email !== undefined && !EMAIL.test(email)) problems.push({ field: 'email', message: 'This does not look like an e-mail address (name@example.org).' });
  let address: PostalAddress | undefined;
  if (cart.shipsPhysicalGoods) {
    const street = field('street', 100, true, 'the street and house number');
    const postcode = field('postcode', 10, true, 'the postcode');
    if (postcode !== undefined && !POSTCODE.test(postcode)) problems.push({ field: 'postcode', message: 'A postcode has 2–10 letters, digits, spaces or hyphens.' });
    const city = field('city', 80, true, 'the town or city');
    const country = field('country', 20, true, 'the country')?.toUpperCase();
    if (country !== undefined && !COUNTRY.test(country)) problems.push({ field: 'country', message: 'The country is a two-letter code such as DE, FR or NL.' });
    if (street !== undefined && postcode !== undefined && city !== undefined && country !== undefined) address = { street, postcode, city, country };
  }
  if (problems.length) return { problems };
  const buyer: BuyerInfo = { name: name as string };
  if (email !== undefined) buyer.email = email;
  if (address) buyer.address = address;
  return { buyer, problems: [] };
}

// Shopping carts and the buyer's browser sessions: held in memory by the shop process (a cart
// is not an order and is not evidence; the order and receipt live in the commerce layer).
// A session is a random 128-bit id in a cookie plus a per-session form token; sessions idle
// longer than the time-out are dropped, and the least recently used one goes first when the
// store is full, so a flood of cookie-less requests cannot grow memory without bound.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Catalogue } from './catalogue';
import type { Cart, CartLine } from './checkout';
import { CatalogueError } from './errors';

export const MAX_CART_LINES = 50;
export const MAX_QUANTITY = 99;
export const MAX_SESSIONS = 10_000;
export const SESSION_IDLE_MS = 2 * 60 * 60 * 1000;

export interface Session {
  readonly id: string;
  /** The token every form of this session carries (checked on each POST). */
  readonly formToken: string;
  /** SKU → quantity, in the order the articles were added. */
  readonly items: Map<string, number>;
  /** Orders placed in this session (only they may be looked at from it). */
  readonly orders: Set<string>;
  lastSeen: number;
  /** A checkout is running: a second submit waits for the first instead of paying twice. */
  checkingOut: boolean;
}

const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly limit = MAX_SESSIONS,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** The session of this cookie value, if it exists and is not idle too long. */
  find(id: string | undefined): Session | undefined {
    if (id === undefined || !SESSION_ID.test(id)) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (this.now() - s.lastSeen > SESSION_IDLE_MS) {
      this.sessions.delete(id);
      return undefined;
    }
    // most recently used last: eviction takes the first
    this.sessions.delete(id);
    this.sessions.set(id, s);
    s.lastSeen = this.now();
    return s;
  }

  /** A new, empty session. */
  create(): Session {
    while (this.sessions.size >= this.limit) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    const s: Session = { id: randomBytes(16).toString('base64url'), formToken: randomBytes(16).toString('base64url'), items: new Map(), orders: new Set(), lastSeen: this.now(), checkingOut: false };
    this.sessions.set(s.id, s);
    return s;
  }
}

/** Constant-time comparison of a submitted form token with the session's. */
export function formTokenMatches(s: Session, submitted: string | undefined): boolean {
  if (typeof submitted !== 'string') return false;
  const a = Buffer.from(submitted);
  const b = Buffer.from(s.formToken);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Puts `quantity` more of an article in the cart; NOT_FOUND, or BAD_CART for a quantity or cart over the limits. */
export function addToCart(s: Session, catalogue: Catalogue, sku: string, quantity: number): void {
  const article = catalogue.require(sku);
  if (!Number.isSafeInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) throw new CatalogueError('BAD_CART', `The quantity must be a whole number from 1 to ${MAX_QUANTITY}.`, 'quantity');
  const had = s.items.get(article.sku) ?? 0;
  if (had === 0 && s.items.size >= MAX_CART_LINES) throw new CatalogueError('BAD_CART', `A cart holds at most ${MAX_CART_LINES} different articles.`, 'sku');
  if (article.kind !== 'physical' && had + quantity > 1) throw new CatalogueError('BAD_CART', `${article.title} is delivered on-line: one copy is all you need.`, 'quantity');
  if (had + quantity > MAX_QUANTITY) throw new CatalogueError('BAD_CART', `At most ${MAX_QUANTITY} of one article per order.`, 'quantity');
  s.items.set(article.sku, had + quantity);
}

export function removeFromCart(s: Session, sku: string): void {
  s.items.delete(sku);
}

/** A cart line that cannot be ordered as it stands, for the buyer. */
export interface CartProblem {
  sku: string;
  message: string;
}

/**
 * The session's cart priced from the catalogue now (prices and stock may have changed since
 * the articles were added), frozen; with the problems that stop a checkout: articles gone
 * from the catalogue, not enough stock, more than one currency.
 */
export function priceCart(s: Session, catalogue: Catalogue): { cart: Cart; problems: CartProblem[] } {
  const lines: CartLine[] = [];
  const problems: CartProblem[] = [];
  for (const [sku, quantity] of s.items) {
    const a = catalogue.get(sku);
    if (!a) {
      problems.push({ sku, message: `${sku} is no longer in the catalogue; please remove it.` });
      continue;
    }
    if (a.stock !== null && a.stock < quantity) problems.push({ sku, message: a.stock === 0 ? `${a.title} is sold out.` : `Only ${a.stock} of ${a.title} in stock.` });
    lines.push(Object.freeze({ sku, title: a.title, kind: a.kind, quantity, unitPrice: a.price, lineTotal: a.price * quantity, currency: a.currency, deliverByDays: a.deliverByDays, refundUntilDays: a.refundUntilDays }));
  }
  const currency = lines.length ? lines[0].currency : 'EUR';
  if (lines.some((l) => l.currency !== currency)) problems.push({ sku: '', message: 'The cart holds prices in more than one currency; please order them separately.' });
  const total = lines.reduce((sum, l) => sum + l.lineTotal, 0);
  if (!Number.isSafeInteger(total)) problems.push({ sku: '', message: 'The cart total is too large.' });
  const cart: Cart = Object.freeze({
    lines: Object.freeze(lines),
    total,
    currency,
    shipsPhysicalGoods: lines.some((l) => l.kind === 'physical'),
    deliversOnline: lines.some((l) => l.kind !== 'physical'),
  });
  return { cart, problems };
}

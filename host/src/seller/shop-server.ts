// The demo shop's web site: node:http on 127.0.0.1, pages rendered on the server
// (shop-pages.ts), a cookie session with a cart (cart.ts), and the checkout handed to a
// pluggable CheckoutHandler (checkout.ts). `startShop` is the entry point; it imports nothing
// of SEMPER's commerce layer, which plugs in through the handler.
//
//   GET  /                  catalogue: ?q= search text, kind, min, max (decimal), sort, page
//   GET  /article/<SKU>     one article
//   GET  /cart              the cart, priced now
//   POST /cart/add          sku, quantity, token → 303 /cart
//   POST /cart/remove       sku, token → 303 /cart
//   GET  /checkout          the order form
//   POST /checkout          the form, token → the handler → 303 /order/<id>
//   GET  /order/<id>        the order (only in the session that ordered): while it is pending
//                           with a payment, the box that pays through the buyer's SEMPER agent
//                           (the page's only script); once paid, the merchant's signed receipt
//   GET  /order/<id>/receipt.cose, /order/<id>/delivery-note.cose   the signed documents, to keep
//   GET  /shop.css          the one stylesheet
//   GET  /semper/pay.mjs, /semper/client.mjs   the pay box's script and the pinned @semper/client
//
// Defences, all in this file: the Host header must name this server (DNS rebinding); POSTs
// must be form-encoded, from this origin when the browser says so, carry the session's cookie
// (SameSite=Strict, HttpOnly) and its form token; a strict CSP with no script at all; bodies
// and sessions bounded. A search the language cannot read is a 400 page, never a 500. Only the
// pay box's page runs script, from this server ('self'), talking to the agent's address alone.

import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listen } from '../services/http-server';
import { AddressInfo } from 'node:net';
import { Catalogue, isArticleKind, SEARCH_SORTS, SearchPage, SearchRequest, SearchSort } from './catalogue';
import { addToCart, formTokenMatches, priceCart, removeFromCart, Session, SessionStore } from './cart';
import { CheckoutHandler, checkCheckoutResult, checkOrderForm, isCheckoutError, OrderStatusSource, paymentNotConnected } from './checkout';
import { isCatalogueError } from './errors';
import { articlePage, CatalogueFilters, cartPage, cataloguePage, checkoutPage, errorPage, orderPage, OrderView, PageContext, parseAmount, SHOP_CSS } from './shop-pages';

export interface ShopOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The catalogue the shop sells from (opened by the caller, e.g. with openDemoCatalogue). */
  catalogue: Catalogue;
  /** Takes order and payment; default `paymentNotConnected` (every checkout refused, clearly). */
  checkout?: CheckoutHandler;
  /** Shown in the header and the page titles (default "SEMPER Demo Shop"). */
  shopName?: string;
  /** The currency of the price filter (default EUR). */
  currency?: string;
  /** Operator log: handler failures, 500s (default: nothing). */
  log?: (line: string) => void;
  /** The clock of the session time-out (default Date.now). */
  now?: () => number;
  /** The merchant's books: asked whether a pending order has been paid since (default: never asked). */
  orderStatus?: OrderStatusSource;
  /** The buyer's SEMPER agent, where pay boxes send the payment (default http://127.0.0.1:37139). */
  agentUrl?: string;
}

export interface RunningShop {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  server: Server;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

export const SESSION_COOKIE = 'shop_session';
const MAX_BODY = 16 * 1024;
const MAX_ORDERS = 10_000;

const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
export const DEFAULT_AGENT_URL = 'http://127.0.0.1:37139';

/** The pay box's page: its script from here, and connections to the agent's origin alone (HTTP and its events WebSocket). */
function payingCsp(agentUrl: string): string {
  const agent = new URL(agentUrl);
  return `${CSP}; script-src 'self'; connect-src ${agent.origin} ws://${agent.host}`;
}

/** The pay box's script (web/pay.mjs here) and the @semper/client module it imports, read once at start. */
function payScripts(): { pay: string; client: string } | undefined {
  const up = (n: number): string => join(__dirname, ...Array<string>(n).fill('..'));
  for (const root of [up(3), up(4)]) {
    const pay = join(root, 'host', 'src', 'seller', 'web', 'pay.mjs');
    const client = join(root, 'web', 'semper-client', 'index.mjs');
    if (existsSync(pay) && existsSync(client)) return { pay: readFileSync(pay, 'utf8'), client: readFileSync(client, 'utf8') };
  }
  return undefined;
}

const SECURITY_HEADERS: Record<string, string> = {
  // no script (but on the pay box's page); forms post only here; the page cannot be framed
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  // search words are in the URL: they do not travel to other sites. Not no-referrer: under it
  // browsers send "Origin: null" with the shop's own form posts, which are then refused
  'Referrer-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const FILTER_LABELS: Record<string, string> = { kind: 'Kind', minPrice: 'Lowest price', maxPrice: 'Highest price', currency: 'Currency', page: 'Page', pageSize: 'Page size', sort: 'Order' };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}


function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new HttpError(415, 'Unsupported request', 'The shop accepts form posts only.');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'Request too large', `A form may carry at most ${MAX_BODY} bytes.`);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** The form's fields as a record (the first value of each name). */
function formRecord(p: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of p) if (!(k in out)) out[k] = v;
  return out;
}

class Shop {
  private readonly sessions: SessionStore;
  private readonly orders = new Map<string, OrderView>();
  private readonly scripts = payScripts();
  private readonly agentUrl: string;
  private readonly checkout: CheckoutHandler;
  private readonly shopName: string;
  private readonly currency: string;
  private readonly log: (line: string) => void;
  port = 0;

  constructor(private readonly o: ShopOptions) {
    this.sessions = new SessionStore(o.now ?? Date.now);
    this.checkout = o.checkout ?? paymentNotConnected;
    this.shopName = o.shopName ?? 'SEMPER Demo Shop';
    this.currency = o.currency ?? 'EUR';
    this.log = o.log ?? (() => {});
    this.agentUrl = o.agentUrl ?? DEFAULT_AGENT_URL;
    const agent = new URL(this.agentUrl);
    if (agent.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(agent.hostname)) throw new Error(`agentUrl: the buyer's agent listens on the buyer's own machine (http://127.0.0.1:PORT), not ${this.agentUrl}`);
    // without them a pay box would wait for ever: say so at start, not when a buyer is stuck
    if (o.orderStatus && !this.scripts) this.log('the pay box scripts (host/src/seller/web/pay.mjs, web/semper-client/index.mjs) were not found: pending orders cannot be paid from their page');
  }

  private get catalogue(): Catalogue {
    return this.o.catalogue;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    let session: Session | undefined;
    this.route(req, res, (s) => (session = s)).catch((e: unknown) => {
      const known = e instanceof HttpError;
      if (!known) this.log(`${req.method} ${req.url}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (res.headersSent) return void res.end();
      const status = known ? e.status : 500;
      const ctx = this.context(session);
      this.page(res, status, errorPage(ctx, known ? e.title : 'Something went wrong', known ? e.message : 'The shop could not show this page. Please try again.'));
    });
  }

  private context(s: Session | undefined, text?: string): PageContext {
    let cartCount = 0;
    if (s) for (const q of s.items.values()) cartCount += q;
    return { shopName: this.shopName, cartCount, formToken: s?.formToken ?? '', text };
  }

  private page(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  private redirect(res: ServerResponse, to: string): void {
    res.writeHead(303, { Location: to, 'Content-Length': 0 });
    res.end();
  }

  /** The browser's session, made (and its cookie set) when it has none. */
  private sessionFor(req: IncomingMessage, res: ServerResponse): Session {
    const found = this.sessions.find(cookieValue(req, SESSION_COOKIE));
    if (found) return found;
    const s = this.sessions.create();
    // no Secure flag: the demo serves http on 127.0.0.1; behind TLS add Secure and the __Host- prefix
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${s.id}; Path=/; HttpOnly; SameSite=Strict`);
    return s;
  }

  private allowedHosts(): string[] {
    return [`127.0.0.1:${this.port}`, `localhost:${this.port}`];
  }

  private async route(req: IncomingMessage, res: ServerResponse, seen: (s: Session) => void): Promise<void> {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!this.allowedHosts().includes(host)) throw new HttpError(421, 'Wrong address', `This shop answers at http://127.0.0.1:${this.port}/ only.`);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', `http://${host}`);
    } catch (_e) {
      throw new HttpError(400, 'Bad address', 'The address cannot be read.');
    }
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' || method === 'HEAD') {
      if (path === '/shop.css') {
        res.writeHead(200, { 'Content-Type': 'text/css; charset=utf-8', 'Content-Length': Buffer.byteLength(SHOP_CSS), 'Cache-Control': 'max-age=3600' });
        return void res.end(SHOP_CSS);
      }
      if (path === '/favicon.ico') return void res.writeHead(204).end(); // no icon, and no 404 in the console
      if (path === '/semper/pay.mjs' || path === '/semper/client.mjs') {
        if (!this.scripts) throw new HttpError(404, 'Not found', 'The pay box\'s scripts are not installed with this shop.');
        const body = path === '/semper/pay.mjs' ? this.scripts.pay : this.scripts.client;
        res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache' });
        return void res.end(body);
      }
      const s = this.sessionFor(req, res);
      seen(s);
      if (path === '/') return this.cataloguePage(res, s, url.searchParams);
      const article = /^\/article\/([^/]+)$/.exec(path);
      if (article) return this.articlePage(res, s, article[1]);
      if (path === '/cart') {
        const { cart, problems } = priceCart(s, this.catalogue);
        return this.page(res, 200, cartPage(this.context(s), cart, problems));
      }
      if (path === '/checkout') return this.checkoutForm(res, s);
      const order = /^\/order\/([^/]+)(?:\/(receipt|delivery-note)\.cose)?$/.exec(path);
      if (order) return order[2] ? this.signedFile(res, s, order[1], order[2] as 'receipt' | 'delivery-note') : this.orderPage(res, s, order[1]);
      throw new HttpError(404, 'Not found', 'There is no such page in this shop.');
    }
    if (method !== 'POST') {
      res.setHeader('Allow', 'GET, HEAD, POST');
      throw new HttpError(405, 'Not allowed', `Method ${method.slice(0, 20)} is not used here.`);
    }
    // CSRF: the cookie is SameSite=Strict (a cross-site POST arrives without a session), the
    // browser names the origin of a form post, and every form carries the session's token
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null' && !this.allowedHosts().some((h) => origin.toLowerCase() === `http://${h}`)) throw new HttpError(403, 'Refused', 'Forms from other sites are not accepted.');
    if (origin === 'null' || req.headers['sec-fetch-site'] === 'cross-site') throw new HttpError(403, 'Refused', 'Forms from other sites are not accepted.');
    const s = this.sessions.find(cookieValue(req, SESSION_COOKIE));
    if (!s) throw new HttpError(403, 'Session expired', 'Your session has expired or cookies are off. Please go back, reload the page and try again.');
    seen(s);
    const form = formRecord(await readForm(req));
    if (!formTokenMatches(s, form.token)) throw new HttpError(403, 'Session expired', 'This form is from an older visit. Please reload the page and try again.');
    switch (path) {
      case '/cart/add':
        return this.addToCart(res, s, form);
      case '/cart/remove':
        removeFromCart(s, form.sku ?? '');
        return this.redirect(res, '/cart');
      case '/checkout':
        return this.placeOrder(res, s, form);
      default:
        throw new HttpError(404, 'Not found', 'There is no such form in this shop.');
    }
  }

  private cataloguePage(res: ServerResponse, s: Session, q: URLSearchParams): void {
    const f: CatalogueFilters = { q: q.get('q') ?? '', kind: q.get('kind') ?? '', min: q.get('min') ?? '', max: q.get('max') ?? '', sort: q.get('sort') ?? '' };
    const ctx = this.context(s, f.q);
    const fail = (error: string): void => this.page(res, 400, cataloguePage(ctx, f, { error }));
    const req: SearchRequest = { text: f.q, currency: this.currency, pageSize: 20 };
    if (f.kind !== '') {
      if (!isArticleKind(f.kind)) return fail('Choose a kind from the list.');
      req.kind = f.kind;
    }
    const min = parseAmount(f.min, this.currency);
    const max = parseAmount(f.max, this.currency);
    if (min === null) return fail('The lowest price is not an amount (e.g. 12.50).');
    if (max === null) return fail('The highest price is not an amount (e.g. 12.50).');
    req.minPrice = min;
    req.maxPrice = max;
    if (f.sort !== '') {
      if (!SEARCH_SORTS.includes(f.sort as SearchSort)) return fail('Choose an order from the list.');
      req.sort = f.sort as SearchSort;
    }
    const page = q.get('page');
    if (page !== null) {
      if (!/^\d{1,4}$/.test(page)) return fail('The page number is not a number.');
      req.page = Number(page);
    }
    let result: SearchPage;
    try {
      result = this.catalogue.search(req);
    } catch (e) {
      // the search text's refusals are sentences for the buyer; a filter's name the form's label
      if (isCatalogueError(e, 'BAD_QUERY')) return fail(e.field && e.field !== 'text' ? e.message.replace(/^\w+: /, `${FILTER_LABELS[e.field] ?? e.field}: `) : e.message);
      throw e;
    }
    this.page(res, 200, cataloguePage(ctx, f, result));
  }

  private articlePage(res: ServerResponse, s: Session, raw: string): void {
    let sku: string;
    try {
      sku = decodeURIComponent(raw);
    } catch (_e) {
      throw new HttpError(404, 'Not found', 'There is no such article.');
    }
    const a = this.catalogue.get(sku);
    if (!a) throw new HttpError(404, 'Not found', 'There is no such article in the catalogue.');
    this.page(res, 200, articlePage(this.context(s), a));
  }

  private addToCart(res: ServerResponse, s: Session, form: Record<string, string>): void {
    const quantity = /^\d{1,3}$/.test(form.quantity ?? '1') ? Number(form.quantity ?? '1') : NaN;
    try {
      addToCart(s, this.catalogue, form.sku ?? '', quantity);
    } catch (e) {
      if (!isCatalogueError(e)) throw e;
      const { cart, problems } = priceCart(s, this.catalogue);
      const notice = e.code === 'NOT_FOUND' ? 'That article is not in the catalogue.' : e.message;
      return this.page(res, e.code === 'NOT_FOUND' ? 404 : 400, cartPage(this.context(s), cart, problems, notice));
    }
    this.redirect(res, '/cart');
  }

  private checkoutForm(res: ServerResponse, s: Session): void {
    const { cart, problems } = priceCart(s, this.catalogue);
    if (cart.lines.length === 0 || problems.length) return this.redirect(res, '/cart');
    this.page(res, 200, checkoutPage(this.context(s), cart, {}, []));
  }

  private async placeOrder(res: ServerResponse, s: Session, form: Record<string, string>): Promise<void> {
    const { cart, problems } = priceCart(s, this.catalogue);
    if (cart.lines.length === 0) return this.redirect(res, '/cart');
    if (problems.length) return this.page(res, 409, cartPage(this.context(s), cart, problems, 'Your cart changed: please look at it again before ordering.'));
    const checked = checkOrderForm(form, cart);
    if (!checked.buyer) return this.page(res, 400, checkoutPage(this.context(s), cart, form, checked.problems));
    if (s.checkingOut) return this.page(res, 409, checkoutPage(this.context(s), cart, form, [], 'Your order is already being placed. Please confirm or cancel it on your payment device, then reload this page.'));
    s.checkingOut = true;
    let answer: unknown;
    try {
      answer = await this.checkout(cart, checked.buyer);
    } catch (e) {
      if (isCheckoutError(e)) return this.page(res, e.code === 'REFUSED' ? 409 : 503, checkoutPage(this.context(s), cart, form, [], e.message));
      this.log(`checkout handler failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      return this.page(res, 502, checkoutPage(this.context(s), cart, form, [], 'The payment service did not answer properly. If your payment device showed a payment, look in your transaction archive before ordering again.'));
    } finally {
      s.checkingOut = false;
    }
    const checkedResult = checkCheckoutResult(answer);
    const prior = checkedResult.ok ? this.orders.get(checkedResult.result.orderId) : undefined;
    if (!checkedResult.ok || (prior && !s.orders.has(checkedResult.result.orderId))) {
      this.log(`checkout handler answered unusably: ${checkedResult.ok ? 'an order id of another session' : checkedResult.reason}`);
      return this.page(res, 502, checkoutPage(this.context(s), cart, form, [], 'The payment service answered with something the shop cannot read. If your payment device showed a payment, look in your transaction archive before ordering again.'));
    }
    const result = checkedResult.result;
    while (this.orders.size >= MAX_ORDERS) this.orders.delete(this.orders.keys().next().value as string);
    this.orders.set(result.orderId, { result, cart, buyer: checked.buyer });
    s.orders.add(result.orderId);
    if (result.status !== 'refused') s.items.clear();
    this.redirect(res, `/order/${encodeURIComponent(result.orderId)}`);
  }

  /** The order of this session (another session's is as unknown as a missing one: it holds a name and an address). */
  private sessionOrder(s: Session, raw: string): OrderView {
    let id: string;
    try {
      id = decodeURIComponent(raw);
    } catch (_e) {
      id = '';
    }
    const order = this.orders.get(id);
    if (!order || !s.orders.has(id)) throw new HttpError(404, 'Not found', 'There is no such order in this visit to the shop.');
    return order;
  }

  private async orderPage(res: ServerResponse, s: Session, raw: string): Promise<void> {
    const order = this.sessionOrder(s, raw);
    // pending: paid since? paid with goods to ship: shipped since?
    if (this.o.orderStatus && (order.result.status === 'pending' || (order.result.status === 'paid' && order.cart.shipsPhysicalGoods && !order.deliveryNote))) {
      // the merchant's books say whether it was paid; what a page tells is never taken for it
      const update = await this.o.orderStatus(order.result.orderId).catch((e: unknown) => {
        this.log(`order status of ${order.result.orderId}: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      });
      if (update && update.status !== 'pending') {
        order.result = { orderId: order.result.orderId, status: update.status, ...(update.message ? { message: update.message } : {}) };
        if (update.receipt) order.receipt = update.receipt;
        if (update.deliveryNote) order.deliveryNote = update.deliveryNote;
      }
    }
    if (order.result.status === 'pending' && order.result.payment) res.setHeader('Content-Security-Policy', payingCsp(this.agentUrl));
    this.page(res, 200, orderPage(this.context(s), order, this.agentUrl));
  }

  /** The signed receipt or delivery note of this session's order, to keep. */
  private signedFile(res: ServerResponse, s: Session, raw: string, which: 'receipt' | 'delivery-note'): void {
    const order = this.sessionOrder(s, raw);
    const doc = which === 'receipt' ? order.receipt : order.deliveryNote;
    if (!doc) throw new HttpError(404, 'Not found', which === 'receipt' ? 'This order has no receipt yet: it is given when the payment has been made.' : 'This order has not been shipped yet.');
    const body = doc.document;
    res.writeHead(200, { 'Content-Type': 'application/cose; cose-type="cose-sign1"', 'Content-Length': body.byteLength, 'Content-Disposition': `attachment; filename="${which}-${order.result.orderId.replace(/[^A-Za-z0-9._-]/g, '_')}.cose"` });
    res.end(body);
  }
}

/** Starts the demo shop on 127.0.0.1; resolves when it listens. */
export async function startShop(o: ShopOptions): Promise<RunningShop> {
  const shop = new Shop(o);
  const listening = await listen(createServer((req, res) => shop.handle(req, res)), { port: o.port });
  const port = (listening.server.address() as AddressInfo).port;
  shop.port = port;
  return { ...listening, port };
}

// The demo shop's pages, rendered on the server with the `html` tag (html.ts): every value
// from the catalogue, the buyer or the checkout handler is escaped. No script at all, one
// stylesheet from this site: the Content-Security-Policy forbids everything else.

import { currencyExponent, formatMinorUnits, parseMinorUnits } from '../services/money';
import type { Article, ArticleKind, SearchPage, SearchSort } from './catalogue';
import type { CartProblem } from './cart';
import type { BuyerInfo, Cart, CartLine, CheckoutResult, DeliveryNoteView, FieldProblem, PaymentRequest, ReceiptView } from './checkout';
import { html, HtmlValue, pathWith, safeLink, SafeHtml } from './html';

/** What every page needs: the shop's name, the cart badge and the session's form token. */
export interface PageContext {
  shopName: string;
  cartCount: number;
  formToken: string;
  /** The search text to keep in the header's search box. */
  text?: string;
}

/** The catalogue page's filters as the buyer typed them (kept in the form and the paging links). */
export interface CatalogueFilters {
  q: string;
  kind: string;
  min: string;
  max: string;
  sort: string;
}

export const KIND_LABELS: Record<ArticleKind, string> = {
  physical: 'Goods (shipped)',
  'digital-document': 'Documents (on-line)',
  'database-query': 'Database queries (on-line)',
};

const SORT_LABELS: Record<SearchSort, string> = { relevance: 'Best match', title: 'Title', price: 'Price, lowest first', 'price-desc': 'Price, highest first' };

export function money(amount: number, currency: string): string {
  return `${formatMinorUnits(amount, currency) ?? String(amount)} ${currency}`;
}

/**
 * A price the buyer typed ("12", "12.5", "12,50") → minor units of `currency`; undefined for
 * empty text; null when it is not an amount.
 */
export function parseAmount(text: string, currency: string): number | null | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  return parseMinorUnits(t, currencyExponent(currency) === undefined ? 'EUR' : currency, true) ?? null;
}

export function availability(a: Pick<Article, 'kind' | 'stock' | 'deliverByDays'>): string {
  if (a.kind === 'database-query') return 'answered on-line at once';
  if (a.kind === 'digital-document') return 'delivered on-line at once';
  if (a.stock === 0) return 'sold out';
  return `in stock, delivered within ${a.deliverByDays} day${a.deliverByDays === 1 ? '' : 's'}`;
}

function refundTerms(a: Pick<Article, 'refundUntilDays'>): string {
  return a.refundUntilDays > 0 ? `returns accepted within ${a.refundUntilDays} days of delivery` : 'no refund once delivered';
}

const articleHref = (sku: string): string => `/article/${encodeURIComponent(sku)}`;

function token(ctx: PageContext): SafeHtml {
  return html`<input type="hidden" name="token" value="${ctx.formToken}">`;
}

/** The whole document around a page's main part. */
export function layout(ctx: PageContext, title: string, main: HtmlValue, head: HtmlValue = ''): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} — ${ctx.shopName}</title>
<link rel="stylesheet" href="/shop.css">
${head}</head>
<body>
<header>
<a class="brand" href="/">${ctx.shopName}</a>
<form class="search" role="search" method="get" action="/">
<label for="q">Search the catalogue</label>
<input id="q" type="search" name="q" value="${ctx.text ?? ''}" maxlength="200" placeholder="e.g. beethoven, navy size L, &quot;north sea&quot;, fact sheet">
<button type="submit">Search</button>
</form>
<a class="cart-link" href="/cart">Cart (${ctx.cartCount})</a>
</header>
<main>
${main}
</main>
<footer>Demo shop of SEMPER for a trusted device: you confirm every payment on your own payment device, never on this page.</footer>
</body>
</html>
`.html;
}

function option(value: string, label: string, selected: string): SafeHtml {
  return html`<option value="${value}"${value === selected ? html` selected` : ''}>${label}</option>`;
}

function addForm(ctx: PageContext, a: Article, withQuantity: boolean): HtmlValue {
  if (a.kind === 'physical' && a.stock === 0) return html`<span class="soldout">sold out</span>`;
  return html`<form class="add" method="post" action="/cart/add">${token(ctx)}<input type="hidden" name="sku" value="${a.sku}">${
    withQuantity && a.kind === 'physical'
      ? html`<label for="quantity">Quantity</label> <input id="quantity" type="number" name="quantity" value="1" min="1" max="99" required> `
      : html`<input type="hidden" name="quantity" value="1">`
  }<button type="submit" aria-label="Add ${a.title} to cart">Add to cart</button></form>`;
}

/** The catalogue: filters, results with paging, or the error of a search that cannot be read. */
export function cataloguePage(ctx: PageContext, f: CatalogueFilters, result: SearchPage | { error: string }): string {
  const filters = html`<form class="filters" method="get" action="/">
<input type="hidden" name="q" value="${f.q}">
<label for="kind">Kind</label>
<select id="kind" name="kind">${option('', 'Everything', f.kind)}${(Object.keys(KIND_LABELS) as ArticleKind[]).map((k) => option(k, KIND_LABELS[k], f.kind))}</select>
<label for="min">Price from</label> <input id="min" name="min" value="${f.min}" inputmode="decimal" size="7">
<label for="max">to</label> <input id="max" name="max" value="${f.max}" inputmode="decimal" size="7"> EUR
<label for="sort">Order</label>
<select id="sort" name="sort">${(Object.keys(SORT_LABELS) as SearchSort[]).map((s) => option(s, SORT_LABELS[s], f.sort || (f.q ? 'relevance' : 'title')))}</select>
<button type="submit">Apply</button>
</form>`;
  if ('error' in result) {
    return layout(ctx, 'Search', html`<h1>Search</h1>${filters}<p class="error" role="alert">${result.error}</p>`);
  }
  const heading = f.q ? html`<h1>Results for “${f.q}”</h1>` : html`<h1>Catalogue</h1>`;
  const summary = html`<p class="summary" role="status">${result.total} article${result.total === 1 ? '' : 's'}${result.total > 0 ? html`, page ${result.page} of ${result.pages}` : ''}</p>`;
  const link = (page: number): string => pathWith('/', { q: f.q, kind: f.kind, min: f.min, max: f.max, sort: f.sort, page: page === 1 ? undefined : page });
  const paging = html`<nav class="paging" aria-label="Pages">${result.page > 1 ? html`<a rel="prev" href="${link(result.page - 1)}">← Previous</a>` : ''} ${result.page < result.pages ? html`<a rel="next" href="${link(result.page + 1)}">Next →</a>` : ''}</nav>`;
  const hits = result.hits.map(
    (a) => html`<li class="hit">
<a class="title" href="${articleHref(a.sku)}">${a.title}</a>
<span class="category">${a.category}</span>
<span class="price">${money(a.price, a.currency)}</span>
<span class="availability">${availability(a)}</span>
<span class="description">${a.description.length > 160 ? `${a.description.slice(0, 159)}…` : a.description}</span>
${addForm(ctx, a, false)}
</li>`,
  );
  const none = result.total === 0 ? html`<p>Nothing found. Try fewer words, or a word with * for all words beginning with it (beeth*).</p>` : '';
  return layout(ctx, f.q ? `Search: ${f.q}` : 'Catalogue', html`${heading}${filters}${summary}${none}<ol class="hits">${hits}</ol>${paging}`);
}

export function articlePage(ctx: PageContext, a: Article): string {
  return layout(
    ctx,
    a.title,
    html`<article class="article">
<h1>${a.title}</h1>
<p class="category">${a.category} · ${KIND_LABELS[a.kind]} · article ${a.sku}</p>
<p class="description">${a.description}</p>
<dl>
<dt>Price</dt><dd class="price">${money(a.price, a.currency)}</dd>
<dt>Availability</dt><dd>${availability(a)}</dd>
<dt>Refund</dt><dd>${refundTerms(a)}</dd>
${a.mediaType ? html`<dt>Format</dt><dd>${a.mediaType}</dd>` : ''}
</dl>
${addForm(ctx, a, true)}
</article>`,
  );
}

function lineRow(l: CartLine, remove: HtmlValue): SafeHtml {
  return html`<tr>
<td><a href="${articleHref(l.sku)}">${l.title}</a><br><small>${l.sku} · ${availability({ kind: l.kind, stock: null, deliverByDays: l.deliverByDays })}</small></td>
<td class="num">${l.quantity}</td>
<td class="num">${money(l.unitPrice, l.currency)}</td>
<td class="num">${money(l.lineTotal, l.currency)}</td>
${remove}
</tr>`;
}

function problemList(problems: readonly { message: string }[]): HtmlValue {
  return problems.length ? html`<ul class="error" role="alert">${problems.map((p) => html`<li>${p.message}</li>`)}</ul>` : '';
}

export function cartPage(ctx: PageContext, cart: Cart, problems: readonly CartProblem[], notice?: string): string {
  if (cart.lines.length === 0) {
    return layout(ctx, 'Cart', html`<h1>Your cart</h1>${notice ? html`<p class="error" role="alert">${notice}</p>` : ''}<p>Your cart is empty. <a href="/">Browse the catalogue</a>.</p>`);
  }
  const rows = cart.lines.map((l) =>
    lineRow(
      l,
      html`<td><form method="post" action="/cart/remove">${token(ctx)}<input type="hidden" name="sku" value="${l.sku}"><button type="submit" aria-label="Remove ${l.title}">Remove</button></form></td>`,
    ),
  );
  return layout(
    ctx,
    'Cart',
    html`<h1>Your cart</h1>
${notice ? html`<p class="error" role="alert">${notice}</p>` : ''}${problemList(problems)}
<table class="cart">
<thead><tr><th>Article</th><th>Quantity</th><th>Price</th><th>Total</th><th></th></tr></thead>
<tbody>${rows}</tbody>
<tfoot><tr><th colspan="3">Total</th><td class="num total">${money(cart.total, cart.currency)}</td><td></td></tr></tfoot>
</table>
<p><a href="/">Continue shopping</a>${problems.length === 0 ? html` <a class="button" href="/checkout">Checkout</a>` : ''}</p>`,
  );
}

/** The order form; `form` keeps what the buyer typed, `problems` name the fields to correct. */
export function checkoutPage(ctx: PageContext, cart: Cart, form: Readonly<Record<string, string | undefined>>, problems: readonly FieldProblem[], refusal?: string): string {
  const problemOf = (f: FieldProblem['field']): HtmlValue => {
    const p = problems.find((x) => x.field === f);
    return p ? html`<span class="field-error" id="${f}-error">${p.message}</span>` : '';
  };
  const input = (f: FieldProblem['field'], label: string, type: string, autocomplete: string, value?: string): SafeHtml =>
    html`<p><label for="${f}">${label}</label> <input id="${f}" name="${f}" type="${type}" autocomplete="${autocomplete}" value="${value ?? form[f] ?? ''}" required${problems.some((x) => x.field === f) ? html` aria-invalid="true" aria-describedby="${f}-error"` : ''}> ${problemOf(f)}</p>`;
  return layout(
    ctx,
    'Checkout',
    html`<h1>Checkout</h1>
${refusal ? html`<p class="error" role="alert">${refusal}</p>` : ''}
<table class="cart">
<thead><tr><th>Article</th><th>Quantity</th><th>Price</th><th>Total</th></tr></thead>
<tbody>${cart.lines.map((l) => lineRow(l, ''))}</tbody>
<tfoot><tr><th colspan="3">Total</th><td class="num total">${money(cart.total, cart.currency)}</td></tr></tfoot>
</table>
<form class="order" method="post" action="/checkout" novalidate>
${token(ctx)}
<fieldset><legend>Your details</legend>
${input('name', 'Name', 'text', 'name')}
${cart.deliversOnline ? input('email', 'E-mail (for the on-line delivery)', 'email', 'email') : ''}
</fieldset>
${
  cart.shipsPhysicalGoods
    ? html`<fieldset><legend>Delivery address</legend>
${input('street', 'Street and number', 'text', 'street-address')}
${input('postcode', 'Postcode', 'text', 'postal-code')}
${input('city', 'Town or city', 'text', 'address-level2')}
${input('country', 'Country (two letters)', 'text', 'country', form.country ?? 'DE')}
</fieldset>`
    : ''
}
<p class="note">When you order, your payment device shows the shop's verified name and the amount of ${money(cart.total, cart.currency)}. Confirm there, with your PIN on the device's own keypad — this page never asks for it.</p>
<button type="submit">Order and pay</button>
</form>`,
  );
}

const STATUS_TEXT: Record<CheckoutResult['status'], string> = {
  paid: 'Paid — thank you for your order.',
  pending: 'Order accepted — the payment is still being confirmed.',
  refused: 'Not paid — the order was refused.',
};

/** An order as the shop keeps it: the handler's answer (updated from the merchant's books), the cart, the buyer. */
export interface OrderView {
  result: CheckoutResult;
  cart: Cart;
  buyer: BuyerInfo;
  receipt?: ReceiptView;
  deliveryNote?: DeliveryNoteView;
}

function paymentBox(orderId: string, p: PaymentRequest, agentUrl: string): SafeHtml {
  // the pay script reads what to ask for from here; the agent and the device check it against the signed offer
  return html`<section class="pay" id="semper-pay" data-agent="${agentUrl}" data-offer="${p.offer}" data-amount="${String(p.amount)}" data-currency="${p.currency}" data-payee="${p.payee}" data-reference="${p.reference}" data-order="${orderId}">
<h2>Pay with your SEMPER device</h2>
<p>Your payment device will show <strong>${p.payee}</strong> and <strong>${money(p.amount, p.currency)}</strong>. Check both on the device, press OK there and enter your PIN on its keypad — never on this page.</p>
<p class="pay-status" id="semper-status" role="status" aria-live="polite">Starting the payment with your SEMPER agent…</p>
<p class="pay-code" id="semper-code" hidden></p>
<p><button type="button" id="semper-start" hidden>Try again</button></p>
<noscript><p class="error">This page needs JavaScript to reach the SEMPER agent on your computer. Nothing was charged.</p></noscript>
</section>`;
}

function receiptBox(orderId: string, r: ReceiptView): SafeHtml {
  return html`<section class="receipt-box" aria-labelledby="receipt-title">
<h2 id="receipt-title">Your receipt</h2>
<blockquote>${r.text}</blockquote>
<p>Signed by <strong>${r.signer}</strong> on ${new Date(r.time).toISOString().replace('T', ' ').slice(0, 19)} UTC. Document SHA-256 <code>${r.digest}</code> — your SEMPER archive holds the same document.</p>
<p><a class="receipt" href="/order/${encodeURIComponent(orderId)}/receipt.cose" download>Download the signed receipt (COSE)</a></p>
</section>`;
}

function deliveryNoteBox(orderId: string, n: DeliveryNoteView): SafeHtml {
  return html`<section class="receipt-box" aria-labelledby="shipped-title">
<h2 id="shipped-title">Shipped</h2>
<p>${n.lines.map((l, i) => html`${i ? ', ' : ''}${l.quantity} × ${l.title}`)} left the warehouse on ${new Date(n.time).toISOString().slice(0, 10)}, parcel <strong>${n.carrierReference}</strong>. The delivery note is signed by the shop and bound to your order.</p>
<p><a class="delivery-note" href="/order/${encodeURIComponent(orderId)}/delivery-note.cose" download>Download the signed delivery note (COSE)</a></p>
</section>`;
}

export function orderPage(ctx: PageContext, order: OrderView, agentUrl: string): string {
  const { result, cart, buyer } = order;
  const receipt = result.receiptUrl === undefined ? undefined : safeLink(result.receiptUrl);
  const paying = result.status === 'pending' && result.payment !== undefined;
  return layout(
    ctx,
    `Order ${result.orderId}`,
    html`<h1>Order ${result.orderId}</h1>
<p class="status status-${result.status}" role="status">${paying ? 'Awaiting your payment — confirm it on your payment device.' : STATUS_TEXT[result.status]}</p>
${result.message ? html`<p class="message">${result.message}</p>` : ''}
${paying ? paymentBox(result.orderId, result.payment as PaymentRequest, agentUrl) : ''}
${order.deliveryNote ? deliveryNoteBox(result.orderId, order.deliveryNote) : ''}
${order.receipt ? receiptBox(result.orderId, order.receipt) : receipt ? html`<p><a class="receipt" href="${receipt}">Your signed receipt</a></p>` : result.receiptUrl !== undefined ? html`<p>Receipt: ${result.receiptUrl}</p>` : ''}
<table class="cart">
<thead><tr><th>Article</th><th>Quantity</th><th>Price</th><th>Total</th></tr></thead>
<tbody>${cart.lines.map((l) => lineRow(l, ''))}</tbody>
<tfoot><tr><th colspan="3">Total</th><td class="num total">${money(cart.total, cart.currency)}</td></tr></tfoot>
</table>
<p>Ordered by ${buyer.name}${buyer.email ? html`, ${buyer.email}` : ''}.${
      buyer.address ? html` Delivery to ${buyer.address.street}, ${buyer.address.postcode} ${buyer.address.city}, ${buyer.address.country}.` : ''
    }</p>
<p><a href="/">Back to the catalogue</a></p>`,
    paying ? html`<script type="module" src="/semper/pay.mjs"></script>` : '',
  );
}

export function errorPage(ctx: PageContext, title: string, message: string): string {
  return layout(ctx, title, html`<h1>${title}</h1><p class="error" role="alert">${message}</p><p><a href="/">Back to the catalogue</a></p>`);
}

export const SHOP_CSS = `
.pay{border:2px solid #0b6e4f;border-radius:6px;padding:.5rem 1rem;margin:1rem 0;background:#fff}
.pay-status{font-weight:600}
.pay-code{font:700 1.6rem/1.2 ui-monospace,monospace;letter-spacing:.2em}
.receipt-box{border:1px solid #b9c3cc;border-radius:6px;padding:.5rem 1rem;margin:1rem 0;background:#fff}
.receipt-box blockquote{margin:.5rem 0;padding:.5rem 1rem;border-left:4px solid #0b6e4f;background:#f1f6f3}
.receipt-box code{word-break:break-all;font-size:.85em}
*{box-sizing:border-box}
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2327;background:#f6f7f9}
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.75rem 1.25rem;background:#0b3d5c;color:#fff}
header a{color:#fff}
.brand{font-weight:700;font-size:1.2rem;text-decoration:none}
.search{display:flex;gap:.5rem;align-items:center;flex:1}
.search label{position:absolute;left:-9999px}
.search input{flex:1;min-width:12rem;padding:.4rem .6rem;border:0;border-radius:4px}
button,.button{font:inherit;padding:.35rem .8rem;border:1px solid #0b3d5c;border-radius:4px;background:#fff;color:#0b3d5c;cursor:pointer;text-decoration:none}
header button{border-color:#fff}
.order button,.button{background:#0b6e4f;border-color:#0b6e4f;color:#fff}
main{max-width:62rem;margin:1rem auto;padding:0 1.25rem}
.filters{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.5rem 0 1rem}
.hits{list-style:none;padding:0}
.hit{display:grid;grid-template-columns:1fr auto;gap:.1rem 1rem;background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.6rem .8rem;margin:.4rem 0}
.hit .title{font-weight:600}
.hit .description{grid-column:1/3;color:#333;font-size:.92rem}
.hit .price,.article .price{font-weight:700}
.category,.availability,small{color:#555}
.add{display:inline-flex;gap:.4rem;align-items:center}
.soldout{color:#a33}
.error{color:#a02020;background:#fdecec;border:1px solid #f3b5b5;border-radius:4px;padding:.5rem .75rem}
.field-error{color:#a02020}
.cart{width:100%;border-collapse:collapse;background:#fff}
.cart th,.cart td{border-bottom:1px solid #dde1e6;padding:.4rem .5rem;text-align:left}
.num{text-align:right}
.total{font-weight:700}
fieldset{border:1px solid #dde1e6;border-radius:6px;background:#fff;margin:1rem 0}
.order label{display:inline-block;min-width:14rem}
.note{background:#eef6fb;border-left:4px solid #0b3d5c;padding:.5rem .75rem}
.status{font-size:1.2rem;font-weight:700}
.status-paid{color:#0b6e4f}.status-refused{color:#a02020}
footer{max-width:62rem;margin:2rem auto;padding:0 1.25rem;color:#666;font-size:.85rem}
`;

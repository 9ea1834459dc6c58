// The demo shop over real HTTP on 127.0.0.1: pages, search (and its refusals as 400 pages),
// escaping of everything from outside, the cart in a cookie session, the defences of every
// POST, and the checkout: the handler gets exactly the cart and the buyer, the order page
// shows what it answered, and a refusing, failing or garbled handler is shown for what it is.

import { Catalogue, NewArticle } from '../../../host/src/seller/catalogue';
import { SessionStore, SESSION_IDLE_MS } from '../../../host/src/seller/cart';
import { BuyerInfo, Cart, CheckoutError, CheckoutHandler, CheckoutResult, checkOrderForm } from '../../../host/src/seller/checkout';
import { ensureDemoCatalogue } from '../../../host/src/seller/demo-catalogue';
import { RunningShop, startShop } from '../../../host/src/seller/shop-server';
import { ShopClient, visibleText } from './shop-client';

const goods = (sku: string, title: string, price: number, over: Partial<NewArticle> = {}): NewArticle => ({
  sku,
  title,
  description: `${title}, shipped by parcel.`,
  category: 'Music CD',
  kind: 'physical',
  price,
  currency: 'EUR',
  stock: 10,
  deliverByDays: 3,
  refundUntilDays: 14,
  ...over,
});
const XSS_TITLE = '<img src=x onerror="alert(1)">Evil & Co\'s "CD"';

function articles(): NewArticle[] {
  return [
    goods('CD-1', 'Harbour Lights', 1299),
    goods('CD-2', 'Winter Songs', 899, { stock: 1 }),
    goods('CD-3', XSS_TITLE, 500),
    { sku: 'DOC-1', title: 'Colour management report', description: 'PDF, on-line.', category: 'Documents', kind: 'digital-document', price: 250, currency: 'EUR', mediaType: 'application/pdf', content: 'x', deliverByDays: 0, refundUntilDays: 0 },
  ];
}

/** A handler that records its calls and answers what the test sets. */
function recorder(answer: (cart: Cart, buyer: BuyerInfo) => Promise<unknown>): { handler: CheckoutHandler; calls: { cart: Cart; buyer: BuyerInfo }[] } {
  const calls: { cart: Cart; buyer: BuyerInfo }[] = [];
  return { calls, handler: async (cart, buyer) => (calls.push({ cart, buyer }), (await answer(cart, buyer)) as CheckoutResult) };
}

const ADDRESS = { name: 'Erika Mustermann', street: 'Heidestraße 17', postcode: '51147', city: 'Köln', country: 'de', email: 'erika@example.org' };

describe('the shop over HTTP', () => {
  let catalogue: Catalogue;
  let shop: RunningShop;
  let answer: (cart: Cart, buyer: BuyerInfo) => Promise<unknown>;
  let rec: ReturnType<typeof recorder>;
  const log: string[] = [];

  beforeAll(async () => {
    catalogue = Catalogue.open(':memory:');
    catalogue.addMany(articles());
    rec = recorder((c, b) => answer(c, b));
    shop = await startShop({ catalogue, checkout: rec.handler, log: (l) => log.push(l) });
  });
  afterAll(async () => {
    await shop.close();
    catalogue.close();
  });
  beforeEach(() => {
    rec.calls.length = 0;
    answer = async () => ({ orderId: `ord-${rec.calls.length}-${Date.now()}`, status: 'paid' });
  });

  test('the catalogue page: security headers, a session cookie (HttpOnly, SameSite=Strict), the articles', async () => {
    const c = new ShopClient(shop.port);
    const page = await c.get('/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['referrer-policy']).toBe('same-origin');
    expect(page.headers['set-cookie']?.[0]).toMatch(/^shop_session=[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(page.body).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)/); // no script, nothing from elsewhere
    expect(visibleText(page.body)).toMatch(/4 articles, page 1 of 1/);
    expect(visibleText(page.body)).toContain('Harbour Lights Music CD 12.99 EUR in stock, delivered within 3 days');
    const css = await c.get('/shop.css');
    expect([css.status, css.headers['content-type']]).toEqual([200, 'text/css; charset=utf-8']);
    // the cookie is kept: no second Set-Cookie
    expect((await c.get('/')).headers['set-cookie']).toBeUndefined();
  });

  test('article pages, and 404s for what does not exist', async () => {
    const c = new ShopClient(shop.port);
    const page = await c.get('/article/DOC-1');
    expect(page.status).toBe(200);
    expect(visibleText(page.body)).toContain('Colour management report Documents · Documents (on-line) · article DOC-1');
    expect(visibleText(page.body)).toContain('Availability delivered on-line at once Refund no refund once delivered Format application/pdf');
    expect((await c.get('/article/CD-99')).status).toBe(404);
    expect((await c.get('/article/%E0%A4%A')).status).toBe(404);
    expect((await c.get('/nowhere')).status).toBe(404);
    expect((await c.request('DELETE', '/')).status).toBe(405);
  });

  test('search: hits, filters, and unreadable text or filters as a 400 page with a reason', async () => {
    const c = new ShopClient(shop.port);
    const found = await c.get('/?q=harb*');
    expect(found.status).toBe(200);
    expect(visibleText(found.body)).toMatch(/Results for “harb\*” .* 1 article, page 1 of 1 Harbour Lights/);
    const cheap = visibleText((await c.get('/?kind=physical&max=9%2C00&sort=price')).body);
    expect(cheap).toMatch(/2 articles/);
    expect(cheap.indexOf('5.00 EUR')).toBeLessThan(cheap.indexOf('8.99 EUR'));
    for (const [query, reason] of [
      ['/?q=%22north+sea', 'a quotation mark is not closed'],
      ['/?q=-mozart', 'at least one word that is not excluded'],
      ['/?q=x*', 'at least 2 letters'],
      ['/?min=abc', 'The lowest price is not an amount'],
      ['/?min=5&max=1', 'Highest price: the highest price is below the lowest'],
      ['/?kind=cheese', 'Choose a kind'],
      ['/?sort=random', 'Choose an order'],
      ['/?page=-1', 'page number'],
      ['/?page=5000', 'Page: a whole number from 1 to 1000'],
    ]) {
      const r = await c.get(query);
      expect([query, r.status]).toEqual([query, 400]);
      expect(visibleText(r.body)).toContain(reason);
    }
    expect(log).toEqual([]); // none of it was a server error
  });

  test('XSS: search text, article titles and the handler’s answers are escaped; a javascript: receipt is no link', async () => {
    const c = new ShopClient(shop.port);
    // read as a search (no quotation mark) and refused as one (an open quotation mark): both escaped
    const readable = '<script>alert(1)</script><img src=x onerror=alert(2)>\'';
    const r = await c.get(`/?q=${encodeURIComponent(readable)}`);
    expect(r.status).toBe(200);
    expect(r.body).not.toContain('<script>alert(1)');
    expect(r.body).not.toContain('<img src=x');
    expect(r.body).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&#39;"');
    expect(r.body).toContain('Results for “&lt;script&gt;');
    const breakout = '"><script>alert(1)</script>';
    const refused = await c.get(`/?q=${encodeURIComponent(breakout)}`);
    expect(refused.status).toBe(400);
    expect(refused.body).not.toContain('<script>alert(1)');
    expect(refused.body).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    const listed = await c.get('/?q=evil');
    expect(listed.body).not.toContain('<img src=x onerror');
    expect(listed.body).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;Evil &amp; Co&#39;s &quot;CD&quot;');
    expect(visibleText(listed.body)).toContain(XSS_TITLE);

    answer = async () => ({ orderId: 'X-1', status: 'pending', receiptUrl: 'javascript:alert(3)', message: '<b>bold</b> & "quoted"' });
    expect((await c.post('/cart/add', { sku: 'CD-3', quantity: '1' })).status).toBe(303);
    const placed = await c.post('/checkout', ADDRESS);
    expect([placed.status, placed.headers.location]).toEqual([303, '/order/X-1']);
    const order = await c.get('/order/X-1');
    expect(order.body).not.toMatch(/href="javascript:/);
    expect(order.body).toContain('Receipt: javascript:alert(3)');
    expect(order.body).toContain('&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;');
    expect(order.body).not.toContain('<img src=x onerror');
  });

  test('cart: add, add again, remove; quantities and digital goods within their rules', async () => {
    const c = new ShopClient(shop.port);
    const added = await c.post('/cart/add', { sku: 'CD-1', quantity: '2' });
    expect([added.status, added.headers.location]).toEqual([303, '/cart']);
    await c.post('/cart/add', { sku: 'CD-1', quantity: '1' });
    await c.post('/cart/add', { sku: 'DOC-1', quantity: '1' });
    let cart = visibleText((await c.get('/cart')).body);
    expect(cart).toContain('Cart (4)');
    expect(cart).toMatch(/Harbour Lights CD-1 · in stock, delivered within 3 days 3 12\.99 EUR 38\.97 EUR/);
    expect(cart).toMatch(/Total 41\.47 EUR/);
    const twice = await c.post('/cart/add', { sku: 'DOC-1', quantity: '1' });
    expect(twice.status).toBe(400);
    expect(visibleText(twice.body)).toContain('is delivered on-line: one copy is all you need');
    expect((await c.post('/cart/add', { sku: 'CD-1', quantity: '0' })).status).toBe(400);
    expect((await c.post('/cart/add', { sku: 'CD-1', quantity: '99' })).status).toBe(400);
    expect((await c.post('/cart/add', { sku: 'CD-404', quantity: '1' })).status).toBe(404);
    expect((await c.post('/cart/remove', { sku: 'CD-1' })).status).toBe(303);
    cart = visibleText((await c.get('/cart')).body);
    expect(cart).not.toContain('Harbour Lights');
    expect(cart).toContain('Cart (1)');
    await c.post('/cart/remove', { sku: 'DOC-1' });
    expect(visibleText((await c.get('/cart')).body)).toContain('Your cart is empty');
  });

  test('every POST must come from the shop’s own pages: token, cookie, origin, content type, Host', async () => {
    const c = new ShopClient(shop.port);
    const cartOf = async () => visibleText((await c.get('/cart')).body);
    expect((await c.post('/cart/add', { sku: 'CD-1', quantity: '1' }, { noToken: true })).status).toBe(403);
    expect((await c.post('/cart/add', { sku: 'CD-1', quantity: '1', token: 'A'.repeat(22) })).status).toBe(403);
    expect((await c.post('/cart/add', { sku: 'CD-1', quantity: '1' }, { noCookie: true })).status).toBe(403);
    expect((await c.post('/cart/add', { sku: 'CD-1', quantity: '1' }, { headers: { Origin: 'http://evil.example' } })).status).toBe(403);
    expect((await c.post('/cart/add', { sku: 'CD-1', quantity: '1' }, { headers: { Origin: 'null' } })).status).toBe(403);
    expect((await c.post('/cart/add', { sku: 'CD-1', quantity: '1' }, { headers: { 'Sec-Fetch-Site': 'cross-site' } })).status).toBe(403);
    expect((await c.post('/cart/add', { sku: 'CD-1', quantity: '1' }, { headers: { 'Content-Type': 'text/plain' } })).status).toBe(415);
    expect((await c.post('/cart/add', { sku: 'CD-1', quantity: '1' }, { headers: { Host: `evil.example:${shop.port}` } })).status).toBe(421);
    const big = await c.post('/cart/add', { sku: 'CD-1', quantity: '1', pad: 'x'.repeat(20_000) });
    expect(big.status).toBe(413);
    expect(await cartOf()).toContain('Your cart is empty');
    expect((await c.request('GET', '/', { headers: { Host: 'rebound.example' } })).status).toBe(421);
  });

  test('checkout hands the handler exactly the priced cart and the checked buyer; the order page shows its answer', async () => {
    const c = new ShopClient(shop.port);
    await c.post('/cart/add', { sku: 'CD-1', quantity: '2' });
    await c.post('/cart/add', { sku: 'DOC-1', quantity: '1' });
    const form = await c.get('/checkout');
    expect(form.status).toBe(200);
    expect(form.body).toMatch(/id="email"/);
    expect(form.body).toMatch(/id="street"/);
    answer = async () => ({ orderId: 'ORD-2026-0001', status: 'paid', receiptUrl: '/receipts/ORD-2026-0001', message: 'The receipt is signed by the shop.' });
    const placed = await c.post('/checkout', { ...ADDRESS, name: '  Erika   Mustermann ' });
    expect([placed.status, placed.headers.location]).toEqual([303, '/order/ORD-2026-0001']);
    expect(rec.calls).toHaveLength(1);
    expect(rec.calls[0].cart).toEqual({
      lines: [
        { sku: 'CD-1', title: 'Harbour Lights', kind: 'physical', quantity: 2, unitPrice: 1299, lineTotal: 2598, currency: 'EUR', deliverByDays: 3, refundUntilDays: 14 },
        { sku: 'DOC-1', title: 'Colour management report', kind: 'digital-document', quantity: 1, unitPrice: 250, lineTotal: 250, currency: 'EUR', deliverByDays: 0, refundUntilDays: 0 },
      ],
      total: 2848,
      currency: 'EUR',
      shipsPhysicalGoods: true,
      deliversOnline: true,
    });
    expect(Object.isFrozen(rec.calls[0].cart) && Object.isFrozen(rec.calls[0].cart.lines) && Object.isFrozen(rec.calls[0].cart.lines[0])).toBe(true);
    expect(rec.calls[0].buyer).toEqual({ name: 'Erika Mustermann', email: 'erika@example.org', address: { street: 'Heidestraße 17', postcode: '51147', city: 'Köln', country: 'DE' } });
    const order = await c.get('/order/ORD-2026-0001');
    expect(order.status).toBe(200);
    const text = visibleText(order.body);
    expect(text).toContain('Order ORD-2026-0001 Paid — thank you for your order. The receipt is signed by the shop.');
    expect(order.body).toContain('<a class="receipt" href="/receipts/ORD-2026-0001">Your signed receipt</a>');
    expect(text).toContain('Total 28.48 EUR');
    expect(text).toContain('Delivery to Heidestraße 17, 51147 Köln, DE.');
    expect(text).toContain('Cart (0)'); // paid: the cart is emptied
    // another browser cannot look at it (it holds a name and an address)
    expect((await new ShopClient(shop.port).get('/order/ORD-2026-0001')).status).toBe(404);
  });

  test('the order form: what a mail-order shop needs, checked before the handler is called', async () => {
    const c = new ShopClient(shop.port);
    await c.post('/cart/add', { sku: 'CD-1', quantity: '1' });
    const r = await c.post('/checkout', { name: '', street: '', postcode: '!!', city: 'Köln', country: 'Germany' });
    expect(r.status).toBe(400);
    const text = visibleText(r.body);
    expect(text).toContain('Please give your name.');
    expect(text).toContain('Please give the street and house number.');
    expect(text).toContain('A postcode has 2–10 letters, digits, spaces or hyphens.');
    expect(text).toContain('The country is a two-letter code such as DE, FR or NL.');
    expect(r.body).toContain('value="Köln"'); // what was typed stays
    expect(r.body).not.toMatch(/id="email"/); // no digital goods: no e-mail asked
    expect(rec.calls).toHaveLength(0);
    // digital goods only: an e-mail address, no postal address
    expect(checkOrderForm({ name: 'Jan', email: 'not-an-address' }, { shipsPhysicalGoods: false, deliversOnline: true }).problems).toEqual([{ field: 'email', message: 'This does not look like an e-mail address (name@example.org).' }]);
    expect(checkOrderForm({ name: 'Jan', email: 'jan@example.nl', street: 'ignored' }, { shipsPhysicalGoods: false, deliversOnline: true })).toEqual({ buyer: { name: 'Jan', email: 'jan@example.nl' }, problems: [] });
    expect(checkOrderForm({ name: 'J\u0007an' }, { shipsPhysicalGoods: false, deliversOnline: false }).problems[0].field).toBe('name');
  });

  test('a refusing handler, a failing one and a garbled answer: the buyer reads why, the cart stays', async () => {
    const c = new ShopClient(shop.port);
    await c.post('/cart/add', { sku: 'CD-1', quantity: '1' });
    answer = async () => {
      throw new CheckoutError('REFUSED', 'You cancelled the payment on your device.');
    };
    let r = await c.post('/checkout', ADDRESS);
    expect(r.status).toBe(409);
    expect(visibleText(r.body)).toContain('You cancelled the payment on your device.');
    answer = async () => {
      throw new Error('socket hang up at 10.0.0.7');
    };
    r = await c.post('/checkout', ADDRESS);
    expect(r.status).toBe(502);
    expect(r.body).not.toContain('10.0.0.7'); // internals go to the log, not to the buyer
    expect(visibleText(r.body)).toContain('look in your transaction archive before ordering again');
    expect(log.pop()).toMatch(/checkout handler failed: Error: socket hang up/);
    for (const garbled of [null, { orderId: '../../etc', status: 'paid' }, { orderId: 'A-1', status: 'maybe' }, { orderId: 'A-1', status: 'paid', message: 'x'.repeat(501) }]) {
      answer = async () => garbled;
      r = await c.post('/checkout', ADDRESS);
      expect(r.status).toBe(502);
      expect(log.pop()).toMatch(/answered unusably/);
    }
    answer = async () => ({ orderId: 'R-1', status: 'refused', message: 'The bank refused the card.' });
    r = await c.post('/checkout', ADDRESS);
    expect(r.headers.location).toBe('/order/R-1');
    expect(visibleText((await c.get('/order/R-1')).body)).toContain('Not paid — the order was refused. The bank refused the card.');
    expect(visibleText((await c.get('/cart')).body)).toContain('Harbour Lights'); // refused: the cart stays
    expect(rec.calls).toHaveLength(7);
  });

  test('a second submit while the first checkout runs does not pay twice', async () => {
    const c = new ShopClient(shop.port);
    await c.post('/cart/add', { sku: 'CD-1', quantity: '1' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    answer = async () => {
      await gate;
      return { orderId: 'ONCE-1', status: 'paid' };
    };
    const token = await c.token();
    const first = c.post('/checkout', { ...ADDRESS, token });
    while (rec.calls.length === 0) await new Promise((r) => setImmediate(r));
    const second = await c.post('/checkout', { ...ADDRESS, token });
    expect(second.status).toBe(409);
    expect(visibleText(second.body)).toContain('Your order is already being placed');
    release();
    expect((await first).headers.location).toBe('/order/ONCE-1');
    expect(rec.calls).toHaveLength(1);
  });

  test('prices and stock are read again at checkout: a sold-out article stops it before the handler', async () => {
    const c = new ShopClient(shop.port);
    await c.post('/cart/add', { sku: 'CD-2', quantity: '1' });
    catalogue.adjustStock('CD-2', -1);
    try {
      expect((await c.get('/checkout')).headers.location).toBe('/cart');
      const r = await c.post('/checkout', ADDRESS);
      expect(r.status).toBe(409);
      expect(visibleText(r.body)).toContain('Winter Songs is sold out.');
      expect(rec.calls).toHaveLength(0);
    } finally {
      catalogue.adjustStock('CD-2', 1);
    }
  });
});

describe('the shop without a payment service', () => {
  test('the default handler refuses every checkout with a clear message and nothing else happens', async () => {
    const catalogue = Catalogue.open(':memory:');
    ensureDemoCatalogue(catalogue, { size: 300 });
    const shop = await startShop({ catalogue });
    try {
      const c = new ShopClient(shop.port);
      expect(visibleText((await c.get('/')).body)).toMatch(/300 articles, page 1 of 15/);
      const sku = /href="\/article\/([A-Z]+-\d+)"/.exec((await c.get('/?kind=physical&sort=price-desc')).body)?.[1] as string;
      const added = await c.post('/cart/add', { sku, quantity: '1' });
      expect([sku, added.status]).toEqual([sku, 303]);
      const r = await c.post('/checkout', ADDRESS);
      expect(r.status).toBe(503);
      expect(visibleText(r.body)).toContain('Payment is not connected: this shop runs without a payment service, so no order can be placed. Nothing was charged.');
      expect(visibleText((await c.get('/cart')).body)).toContain('Cart (1)');
    } finally {
      await shop.close();
      catalogue.close();
    }
  });
});

describe('sessions', () => {
  test('idle sessions expire and the least recently used one goes first when the store is full', () => {
    let now = 0;
    const store = new SessionStore(() => now, 3);
    const [a, b, c] = [store.create(), store.create(), store.create()];
    expect(store.find(a.id)).toBe(a); // a is now the most recently used
    const d = store.create();
    expect(store.size).toBe(3);
    expect(store.find(b.id)).toBeUndefined();
    expect([store.find(a.id), store.find(c.id), store.find(d.id)]).toEqual([a, c, d]);
    now += SESSION_IDLE_MS + 1;
    expect(store.find(a.id)).toBeUndefined();
    expect(store.find('not a session id')).toBeUndefined();
  });
});

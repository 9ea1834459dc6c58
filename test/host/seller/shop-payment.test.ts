// The shop's side of paying through the buyer's agent, over real HTTP: a pending order with a
// payment gets the pay box — the only page with script, from the shop itself, talking to the
// agent's origin alone — and the order turns paid only when the merchant's books say so (the
// orderStatus source), with the receipt to download in this session only. Handler answers with a
// malformed payment are refused whole (property test).

import fc from 'fast-check';
import { Catalogue } from '../../../host/src/seller/catalogue';
import { CheckoutResult, checkPaymentRequest, OrderUpdate } from '../../../host/src/seller/checkout';
import { RunningShop, startShop } from '../../../host/src/seller/shop-server';
import { ShopClient, visibleText } from './shop-client';

const ADDRESS = { name: 'Erika Mustermann', street: 'Heidestraße 17', postcode: '51147', city: 'Köln', country: 'DE' };
const AGENT = 'http://127.0.0.1:41111';
const RECEIPT = Uint8Array.from([0xd2, 0x84, 1, 2, 3]);

describe('the pay box and the merchant\u2019s books', () => {
  let catalogue: Catalogue;
  let shop: RunningShop;
  let books: Map<string, OrderUpdate>;
  let asked: string[];
  let next: CheckoutResult;
  const log: string[] = [];

  beforeAll(async () => {
    catalogue = Catalogue.open(':memory:');
    catalogue.add({ sku: 'CD-1', title: 'Harbour Lights', description: 'A CD.', category: 'Music CD', kind: 'physical', price: 1299, currency: 'EUR', stock: 5, deliverByDays: 3, refundUntilDays: 14 });
    books = new Map();
    asked = [];
    shop = await startShop({
      catalogue,
      agentUrl: AGENT,
      checkout: async () => next,
      orderStatus: async (id) => (asked.push(id), books.get(id)),
      log: (l) => log.push(l),
    });
  });
  afterAll(async () => {
    await shop.close();
    catalogue.close();
  });

  async function placeOrder(c: ShopClient, id: string): Promise<void> {
    next = { orderId: id, status: 'pending', payment: { offer: `http://127.0.0.1:4000/offers/${id}`, amount: 1299, currency: 'EUR', payee: 'demo-shop.example', reference: `Order ${id.slice(0, 8)}` } };
    await c.post('/cart/add', { sku: 'CD-1', quantity: '1' });
    const placed = await c.post('/checkout', ADDRESS);
    expect([placed.status, placed.headers.location]).toEqual([303, `/order/${id}`]);
  }

  test('a pending order with a payment: the pay box, its script from the shop, connections to the agent alone', async () => {
    const c = new ShopClient(shop.port);
    await placeOrder(c, 'a'.repeat(32));
    const page = await c.get(`/order/${'a'.repeat(32)}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(
      `default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'; script-src 'self'; connect-src ${AGENT} ws://127.0.0.1:41111`,
    );
    expect(page.body.match(/<script[^>]*>/g)).toEqual(['<script type="module" src="/semper/pay.mjs">']);
    expect(page.body).toContain(`data-agent="${AGENT}"`);
    expect(page.body).toContain('data-amount="1299"');
    expect(visibleText(page.body)).toContain('Awaiting your payment — confirm it on your payment device.');
    expect(visibleText(page.body)).toContain('Your payment device will show demo-shop.example and 12.99 EUR .');
    // the scripts it loads come from the shop, as JavaScript; the client is the pinned @semper/client
    const pay = await c.get('/semper/pay.mjs');
    expect([pay.status, pay.headers['content-type']]).toEqual([200, 'text/javascript; charset=utf-8']);
    expect(pay.body).toContain("from './client.mjs'");
    const client = await c.get('/semper/client.mjs');
    expect(client.body).toContain('export class SemperClient');
    // the catalogue and the cart still run no script at all
    expect((await c.get('/')).headers['content-security-policy']).not.toContain('script-src');
  });

  test('paid only when the books say so; the receipt shown and downloadable in this session only', async () => {
    const id = 'b'.repeat(32);
    const c = new ShopClient(shop.port);
    await placeOrder(c, id);
    expect((await c.get(`/order/${id}/receipt.cose`)).status).toBe(404); // nothing paid yet
    books.set(id, { status: 'pending' });
    expect(visibleText((await c.get(`/order/${id}`)).body)).toContain('Awaiting your payment');
    books.set(id, { status: 'paid', message: 'Paid with device-purse/1.', receipt: { signer: 'demo-shop.example', text: 'demo-shop.example received 12.99 EUR for <b>Harbour Lights</b>', time: Date.UTC(2026, 10, 24, 12), digest: 'ab'.repeat(32), document: RECEIPT } });
    const paid = await c.get(`/order/${id}`);
    const text = visibleText(paid.body);
    expect(text).toContain('Paid — thank you for your order. Paid with device-purse/1.');
    expect(text).toContain('demo-shop.example received 12.99 EUR for <b>Harbour Lights</b>'); // escaped, shown as text
    expect(text).toContain('Signed by demo-shop.example on 2026-11-24 12:00:00 UTC.');
    expect(paid.body).not.toContain('<script'); // paid: no pay box, no script
    expect(paid.headers['content-security-policy']).not.toContain('script-src');
    const file = await c.get(`/order/${id}/receipt.cose`);
    expect(file.status).toBe(200);
    expect(file.headers['content-type']).toBe('application/cose; cose-type="cose-sign1"');
    expect(file.headers['content-disposition']).toBe(`attachment; filename="receipt-${id}.cose"`);
    expect((await new ShopClient(shop.port).get(`/order/${id}/receipt.cose`)).status).toBe(404);
    // paid goods not yet shipped: the books are asked until the delivery note is there, then no more
    const n = asked.length;
    await c.get(`/order/${id}`);
    expect(asked.length).toBe(n + 1);
    expect((await c.get(`/order/${id}/delivery-note.cose`)).status).toBe(404);
    books.set(id, { ...(books.get(id) as OrderUpdate), deliveryNote: { carrierReference: 'PARCEL-<7>', time: Date.UTC(2026, 10, 25), lines: [{ sku: 'CD-1', title: 'Harbour Lights', quantity: 1 }], document: RECEIPT } });
    const shipped = visibleText((await c.get(`/order/${id}`)).body);
    expect(shipped).toContain('Shipped 1 × Harbour Lights left the warehouse on 2026-11-25, parcel PARCEL-<7> .');
    const note = await c.get(`/order/${id}/delivery-note.cose`);
    expect([note.status, note.headers['content-disposition']]).toEqual([200, `attachment; filename="delivery-note-${id}.cose"`]);
    const m = asked.length;
    await c.get(`/order/${id}`);
    expect(asked.length).toBe(m);
  });

  test('books that fail are logged and the order stays pending; a refused order is shown as refused', async () => {
    const id = 'c'.repeat(32);
    const c = new ShopClient(shop.port);
    await placeOrder(c, id);
    books.set(id, undefined as unknown as OrderUpdate);
    expect(visibleText((await c.get(`/order/${id}`)).body)).toContain('Awaiting your payment');
    books.set(id, { status: 'refused', message: 'The payment did not go through.' });
    expect(visibleText((await c.get(`/order/${id}`)).body)).toContain('Not paid — the order was refused. The payment did not go through.');
  });

  test('a handler\u2019s payment that is not well formed is refused whole, and the buyer is told', async () => {
    fc.assert(
      fc.property(fc.record({ offer: fc.oneof(fc.string(), fc.webUrl(), fc.constant('javascript:alert(1)')), amount: fc.oneof(fc.integer(), fc.double(), fc.constant(0)), currency: fc.string({ maxLength: 4 }), payee: fc.string({ maxLength: 70 }), reference: fc.string({ maxLength: 45 }) }, { requiredKeys: [] }), (p) => {
        const r = checkPaymentRequest(p);
        if (typeof r === 'string') return;
        expect(r.offer).toMatch(/^https?:\/\/\S+$/);
        expect(Number.isSafeInteger(r.amount) && r.amount > 0).toBe(true);
        expect(r.currency).toMatch(/^[A-Z]{3}$/);
        expect(r.payee.length).toBeGreaterThanOrEqual(1);
        expect(r.reference.length).toBeLessThanOrEqual(40);
      }),
      { numRuns: 2000 },
    );
    const c = new ShopClient(shop.port);
    next = { orderId: 'd'.repeat(32), status: 'pending', payment: { offer: 'javascript:alert(1)', amount: 1, currency: 'EUR', payee: 'x', reference: 'y' } };
    await c.post('/cart/add', { sku: 'CD-1', quantity: '1' });
    const placed = await c.post('/checkout', ADDRESS);
    expect(placed.status).toBe(502);
    expect(log.some((l) => /payment: offer/.test(l))).toBe(true);
  });
});

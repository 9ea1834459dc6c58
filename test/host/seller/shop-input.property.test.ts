// The shop's parsers of outside input under fast-check: the order form, typed prices, and the
// HTTP server itself with random search parameters and random form bodies — a clear answer
// every time (2xx, 3xx or 4xx), never a 500, and nothing unescaped from the input on the page.

import fc from 'fast-check';
import { Catalogue } from '../../../host/src/seller/catalogue';
import { checkOrderForm } from '../../../host/src/seller/checkout';
import { ensureDemoCatalogue } from '../../../host/src/seller/demo-catalogue';
import { money, parseAmount } from '../../../host/src/seller/shop-pages';
import { RunningShop, startShop } from '../../../host/src/seller/shop-server';
import { ShopClient } from './shop-client';

const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary', maxLength: 300 }), fc.constantFrom('', ' ', 'DE', '51147', 'a@b.de', '<script>x</script>'));

describe('the order form', () => {
  test('random forms: a buyer whose fields are clean and bounded, or problems naming fields — never a throw', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom('name', 'email', 'street', 'postcode', 'city', 'country', 'token', '__proto__'), text),
        fc.boolean(),
        fc.boolean(),
        (form, shipsPhysicalGoods, deliversOnline) => {
          const r = checkOrderForm(form, { shipsPhysicalGoods, deliversOnline });
          if (!r.buyer) {
            expect(r.problems.length).toBeGreaterThan(0);
            return;
          }
          const b = r.buyer;
          expect(Object.keys(b).sort()).toEqual(['name', ...(b.email !== undefined ? ['email'] : []), ...(shipsPhysicalGoods ? ['address'] : [])].sort());
          if (deliversOnline) expect(b.email).toMatch(/^[^\s@]+@[^\s@]+\.[^\s@]+$/);
          const values = [b.name, b.email ?? '', ...Object.values(b.address ?? {})];
          for (const v of values) expect(v).not.toMatch(/\p{Cc}|^\s|\s$/u);
          expect(b.name.length).toBeLessThanOrEqual(100);
          if (b.address) expect(b.address.country).toMatch(/^[A-Z]{2}$/);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('typed prices', () => {
  test('every amount the shop prints reads back as itself; anything else is null, never a wrong amount', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 12 }), fc.constantFrom('EUR', 'JPY', 'KWD'), (amount, currency) => {
        const shown = money(amount, currency).split(' ')[0];
        expect(parseAmount(shown, currency)).toBe(amount);
        expect(parseAmount(shown.replace('.', ','), currency)).toBe(amount);
      }),
    );
    fc.assert(
      fc.property(text, (t) => {
        const v = parseAmount(t, 'EUR');
        if (v === undefined) expect(t.trim()).toBe('');
        else if (v !== null) expect(Number.isSafeInteger(v) && v >= 0).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('the server with random input', () => {
  let catalogue: Catalogue;
  let shop: RunningShop;
  let client: ShopClient;
  beforeAll(async () => {
    catalogue = Catalogue.open(':memory:');
    ensureDemoCatalogue(catalogue, { size: 500 });
    shop = await startShop({ catalogue, checkout: async () => ({ orderId: 'P-1', status: 'pending' }) });
    client = new ShopClient(shop.port);
  });
  afterAll(async () => {
    await shop.close();
    catalogue.close();
  });

  test('GET / with random search parameters: 200 or 400, and the text never appears unescaped', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom('q', 'kind', 'min', 'max', 'sort', 'page'), text, { maxKeys: 6 }), async (params) => {
        const r = await client.get(`/?${new URLSearchParams(params).toString()}`);
        expect([200, 400]).toContain(r.status);
        if ((params.q ?? '').includes('<script>')) expect(r.body).not.toContain('<script>');
      }),
      { numRuns: 400 },
    );
  });

  test('POST with random forms and paths: a 3xx or 4xx page, never a 500', async () => {
    const token = await client.token();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/cart/add', '/cart/remove', '/checkout', '/nowhere'),
        fc.dictionary(fc.constantFrom('sku', 'quantity', 'name', 'email', 'street', 'postcode', 'city', 'country'), fc.oneof(text, fc.constantFrom('CD-00001', 'DOC-00001', '1', '99', '100'))),
        fc.boolean(),
        async (path, fields, withToken) => {
          const r = await client.post(path, withToken ? { ...fields, token } : fields, { noToken: !withToken });
          expect(r.status).toBeGreaterThanOrEqual(200);
          expect(r.status).toBeLessThan(500);
        },
      ),
      { numRuns: 400 },
    );
  });
});

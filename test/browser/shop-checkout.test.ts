// The demo shop in a real browser (Debian's Chromium through playwright-core): search the
// 13,000-article catalogue, open an article, put goods and a paid database query in the cart,
// fill in the order form and check out through a test CheckoutHandler, then read the order
// page. The page runs under the shop's strict CSP: any violation or page error fails the test.
// UPDATE_SCREENSHOTS=1 writes the pages to docs/screens/shop-*.png.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { Catalogue } from '../../host/src/seller/catalogue';
import { BuyerInfo, Cart, CheckoutHandler } from '../../host/src/seller/checkout';
import { DEMO_CATALOGUE_SIZE, openDemoCatalogue } from '../../host/src/seller/demo-catalogue';
import { RunningShop, startShop } from '../../host/src/seller/shop-server';
import { launchChromium } from '../helpers/chromium';

const SCREENS = join(__dirname, '..', '..', 'docs', 'screens');

describe('the demo shop in Chromium', () => {
  let dir: string;
  let catalogue: Catalogue;
  let shop: RunningShop;
  const calls: { cart: Cart; buyer: BuyerInfo }[] = [];
  const checkout: CheckoutHandler = async (cart, buyer) => {
    calls.push({ cart, buyer });
    return { orderId: 'SEMPER-2026-0042', status: 'paid', receiptUrl: '/receipts/SEMPER-2026-0042', message: 'Paid from your card’s purse; the signed receipt is in your transaction archive.' };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'semper-shop-browser-'));
    catalogue = openDemoCatalogue(join(dir, 'catalogue.db'));
    shop = await startShop({ catalogue, checkout, shopName: 'Versand Demo Shop' });
  });
  afterAll(async () => {
    await shop?.close();
    catalogue?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('search, add to cart, check out, see the order', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(String(e)));
      // every console error but the 400 of the order form sent empty on purpose
      page.on('console', (m) => (m.type() === 'error' || /Content Security Policy|Refused to/.test(m.text())) && !/status of 400/.test(m.text()) && problems.push(m.text()));
      const shot = async (p: Page, name: string): Promise<void> => {
        if (process.env.UPDATE_SCREENSHOTS === '1') await p.screenshot({ path: join(SCREENS, `shop-${name}.png`), fullPage: true });
      };

      await page.goto(shop.url);
      await page.getByRole('status').filter({ hasText: `${DEMO_CATALOGUE_SIZE.toLocaleString('en-US').replace(',', '')} articles` }).waitFor();

      // search for a symphony, as a buyer types it
      await page.getByLabel('Search the catalogue').fill('beethoven symph*');
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      await page.getByRole('heading', { name: 'Results for “beethoven symph*”' }).waitFor();
      const first = page.locator('.hit .title').first();
      const title = (await first.textContent()) ?? '';
      expect(title).toMatch(/^Beethoven: Symphony No\. \d$/);
      const expected = catalogue.search({ text: 'beethoven symph*' });
      expect(await page.getByRole('status').textContent()).toBe(`${expected.total} articles, page 1 of ${expected.pages}`);
      await shot(page, 'search');

      // the article page, two pieces into the cart
      await first.click();
      await page.getByRole('heading', { name: title }).waitFor();
      const sku = /article ([A-Z]+-\d+)/.exec((await page.locator('.article .category').textContent()) ?? '')?.[1] as string;
      await page.getByLabel('Quantity').fill('2');
      await shot(page, 'article');
      await page.getByRole('button', { name: `Add ${title} to cart` }).click();
      await page.getByRole('heading', { name: 'Your cart' }).waitFor();

      // a paid database query too (delivered on-line: the form will ask for an e-mail address)
      await page.getByLabel('Search the catalogue').fill('"fact sheet query" petrojarl');
      await page.getByLabel('Search the catalogue').press('Enter');
      await page.getByRole('heading', { name: /^Results for/ }).waitFor();
      const query = page.locator('.hit').first();
      const queryTitle = (await query.locator('.title').textContent()) ?? '';
      await query.getByRole('button', { name: /^Add .* to cart$/ }).click();
      await page.getByRole('heading', { name: 'Your cart' }).waitFor();
      expect(await page.locator('.cart-link').textContent()).toBe('Cart (3)');
      await shot(page, 'cart');

      // checkout: the order form of a mail-order shop
      await page.getByRole('link', { name: 'Checkout' }).click();
      await page.getByRole('heading', { name: 'Checkout' }).waitFor();
      await page.getByLabel('E-mail (for the on-line delivery)').fill('erika@example.org');
      await page.getByLabel('Street and number').fill('Heidestraße 17');
      await page.getByLabel('Postcode').fill('51147');
      await page.getByLabel('Town or city').fill('Köln');
      await page.getByRole('button', { name: 'Order and pay' }).click(); // no name: the shop says what is missing
      await page.getByText('Please give your name.').waitFor();
      expect(calls).toHaveLength(0);
      expect(await page.getByLabel('Town or city').inputValue()).toBe('Köln'); // what was typed stays
      await page.getByLabel('Name').fill('Erika Mustermann');
      await shot(page, 'checkout');
      await page.getByRole('button', { name: 'Order and pay' }).click();

      // the order page shows what the handler answered
      await page.getByRole('heading', { name: 'Order SEMPER-2026-0042' }).waitFor();
      expect(await page.getByRole('status').textContent()).toBe('Paid — thank you for your order.');
      expect(await page.getByRole('link', { name: 'Your signed receipt' }).getAttribute('href')).toBe('/receipts/SEMPER-2026-0042');
      expect(await page.locator('.cart-link').textContent()).toBe('Cart (0)');
      await shot(page, 'order');

      expect(calls).toHaveLength(1);
      const { cart, buyer } = calls[0];
      const article = catalogue.require(sku);
      expect(cart.lines.map((l) => [l.sku, l.title, l.quantity, l.unitPrice])).toEqual([
        [sku, title, 2, article.price],
        [expect.stringMatching(/^DBQ-\d{5}$/), queryTitle, 1, expect.any(Number)],
      ]);
      expect(cart.total).toBe(cart.lines.reduce((s, l) => s + l.lineTotal, 0));
      expect(buyer).toEqual({ name: 'Erika Mustermann', email: 'erika@example.org', address: { street: 'Heidestraße 17', postcode: '51147', city: 'Köln', country: 'DE' } });
      // the browser keeps the session cookie to itself: HttpOnly, SameSite=Strict
      const cookies = await page.context().cookies();
      expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([['shop_session', true, 'Strict']]);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

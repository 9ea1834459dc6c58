// The main job end to end, in a real browser: `npm start`'s world (demo/world.ts — bank, CA,
// third party, seller's agent, demo shop, buyer's agent, the real firmware in the emulator),
// and Chromium as the buyer's browser. Shop page → checkout → the pay box pairs the shop with
// the buyer's agent (the code on the page is the one on the device, OK) → the device shows the
// merchant as verified from its certificate and the amount → OK, PIN → the shop shows the
// receipt from its own books → the buyer's archive holds offer, order, payment and receipt,
// all verifying; the merchant was paid at the bank; no third-party call was needed. Then: the
// buyer refuses on the device (nothing paid), and the merchant vanishes after taking the money
// (the third party makes it fair).
// UPDATE_SCREENSHOTS=1 writes docs/screens/demo-*.png for the README's walk-through.

import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { DEMO_MERCHANT, DEMO_PIN, DemoWorld, startDemoWorld } from '../../demo/world';
import { verifyOffer } from '../../host/src/commerce/offer';
import { deliveryNoteView, receiptView } from '../../host/src/commerce/shop-checkout';
import { personAt, PersonAtDevice, sleep } from '../helpers/device-rig';
import { launchChromium } from '../helpers/chromium';

jest.setTimeout(240_000);
const SCREENS = join(__dirname, '..', '..', 'docs', 'screens');

let world: DemoWorld;
let browser: Browser;
let person: PersonAtDevice;
const problems: string[] = [];
const logs: string[] = [];

beforeAll(async () => {
  world = await startDemoWorld({ shopPort: 0, agentPort: 0, devicePort: 0, pairingTimeoutSeconds: 60, removeOnStop: true, log: (l) => logs.push(l) });
  person = personAt(() => world.emulator.device());
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await world?.stop();
});

async function shot(page: Page, name: string): Promise<void> {
  if (process.env.UPDATE_SCREENSHOTS === '1') await page.screenshot({ path: join(SCREENS, `demo-${name}.png`), fullPage: true });
}

async function deviceShot(name: string): Promise<void> {
  if (process.env.UPDATE_SCREENSHOTS !== '1') return;
  const page = await browser.newPage({ viewport: { width: 520, height: 760 } });
  await page.goto(world.urls.device);
  await sleep(400); // the page draws the panel from its event stream
  await page.screenshot({ path: join(SCREENS, `demo-${name}.png`) });
  await page.close();
}

async function newShopPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('console', (m) => (m.type() === 'error' || /Content Security Policy|Refused to/.test(m.text())) && problems.push(m.text()));
  return page;
}

/** Into the cart from a search, then the order form filled and sent: the page lands on the order with its pay box. */
async function order(page: Page, search: string, buyer: { email?: string; address?: boolean }): Promise<{ sku: string; title: string; orderId: string }> {
  await page.goto(world.shop.url);
  await page.getByLabel('Search the catalogue').fill(search);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const hit = page.locator('.hit').first();
  const title = (await hit.locator('.title').textContent()) ?? '';
  const sku = decodeURIComponent(((await hit.locator('a').first().getAttribute('href')) ?? '').replace('/article/', ''));
  await hit.getByRole('button', { name: /^Add .* to cart$/ }).click();
  await page.getByRole('heading', { name: 'Your cart' }).waitFor();
  await page.getByRole('link', { name: 'Checkout' }).click();
  await page.getByLabel('Name').fill('Erika Mustermann');
  if (buyer.email) await page.getByLabel('E-mail (for the on-line delivery)').fill(buyer.email);
  if (buyer.address) {
    await page.getByLabel('Street and number').fill('Heidestraße 17');
    await page.getByLabel('Postcode').fill('51147');
    await page.getByLabel('Town or city').fill('Köln');
  }
  await page.getByRole('button', { name: 'Order and pay' }).click();
  await page.getByRole('heading', { name: /^Order [0-9a-f]{32}$/ }).waitFor();
  const orderId = ((await page.getByRole('heading', { name: /^Order / }).textContent()) ?? '').slice(6);
  return { sku, title, orderId };
}

/** Reads a statement on the device to its end (OK is taken only then). */
async function readToEnd(): Promise<string> {
  await person.waitFor(/OK:|DOWN: read on/, 30_000);
  const seen = [person.screen()];
  for (let i = 0; i < 40 && !/-- end --/.test(person.screen()); i++) {
    await person.press('DOWN');
    seen.push(person.screen());
  }
  return seen.join('\n').replace(/\u007f?\n/g, '');
}

/** OK until `done()` (a press can be lost on a loaded machine; a second one lands on a result screen, harmlessly). */
async function pressUntil(key: string, done: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 8; i++) {
    await person.press(key);
    for (const t0 = Date.now(); Date.now() - t0 < 1500; await sleep(50)) if (await done()) return;
  }
  throw new Error(`${key} did not take; the device shows:\n${person.screen()}`);
}

/** The person at the device: connects the shop if asked (first contact), then reads the payment, OK, PIN, OK. */
async function payOnDevice(): Promise<string> {
  let statement = await readToEnd();
  if (/PAIR/i.test(statement)) {
    await pressUntil('OK', () => world.agent.isPaired(new URL(world.shop.url).origin));
    statement = await readToEnd();
  }
  await pressUntil('OK', () => /PIN/.test(person.screen()));
  await person.type(DEMO_PIN);
  await person.press('OK');
  return statement;
}

/** The order digest's 16 hex digits a receipt text names. */
const receiptOrder = (text: string | null): string => /order ([0-9a-f]{16})\)$/.exec(text ?? '')?.[1] ?? 'none';

const purse = async (): Promise<number> => (await world.device.purseBalance()).amount;

test('buy a CD in the shop, confirm on the device, get the receipt; the archive holds the evidence', async () => {
  const page = await newShopPage();
  const before = await purse();
  const { sku, title, orderId } = await order(page, 'beethoven symph*', { address: true });
  const stock0 = world.catalogue.require(sku).stock as number;

  // first contact: the device asks whether this shop may ask it for payments; the codes match
  const code = page.locator('#semper-code');
  await code.waitFor({ state: 'visible', timeout: 30_000 });
  await shot(page, 'pairing');
  await person.waitFor(/PAIR/i, 30_000);
  await deviceShot('device-pairing');
  const pairing = await readToEnd();
  expect(pairing).toContain((await code.textContent()) ?? 'no code');
  expect(pairing).toContain(new URL(world.shop.url).host);
  await pressUntil('OK', () => world.agent.isPaired(new URL(world.shop.url).origin));

  // the payment: merchant as its certificate says, the amount, then OK and the PIN
  await person.waitFor(/PAYMENT/, 30_000);
  await deviceShot('device-payment');
  const statement = await readToEnd();
  expect(statement).toMatch(/PAYMENT/);
  expect(statement).toContain(DEMO_MERCHANT);
  expect(statement).not.toMatch(/UNVERIFIED/);
  const price = (await page.locator('.pay strong').nth(1).textContent()) ?? '';
  expect(statement.replace(/\s+/g, ' ')).toContain(price.split(' ')[0]);
  await shot(page, 'paying');
  await pressUntil('OK', () => /PIN/.test(person.screen()));
  await person.type(DEMO_PIN);
  await person.press('OK');

  // the page reloads once the agent says done; the shop's books say paid, with the receipt
  await page.getByText('Paid — thank you for your order.').waitFor({ timeout: 60_000 });
  const receipt = page.locator('.receipt-box blockquote');
  expect(await receipt.textContent()).toBe(`${DEMO_MERCHANT} received ${price} for ${title} (offer ${orderId}, order ${receiptOrder(await receipt.textContent())})`);
  // the demo's warehouse ships at once: the order page shows the signed delivery note
  for (let i = 0; i < 50 && !(await page.getByRole('heading', { name: 'Shipped' }).count()); i++) {
    await sleep(200);
    await page.reload();
  }
  expect(await page.locator('.receipt-box').first().textContent()).toMatch(new RegExp(`1 × ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} left the warehouse on \\d{4}-\\d\\d-\\d\\d, parcel DEMO-POST-`));
  const note = await page.request.get(`${world.shop.url}/order/${orderId}/delivery-note.cose`);
  expect(note.status()).toBe(200);
  expect(deliveryNoteView(new Uint8Array(await note.body()), world.merchant.publicKey)?.lines).toEqual([{ sku, title, quantity: 1 }]);
  await shot(page, 'receipt');
  const download = await page.request.get(`${world.shop.url}/order/${orderId}/receipt.cose`);
  expect(download.status()).toBe(200);
  const receiptBytes = new Uint8Array(await download.body());

  // money: the purse paid the price, the merchant's account has it, the stock went down
  const sale = await world.seller.sale(orderId);
  expect(sale?.deal?.state).toMatch(/paid|completed/);
  const paid = before - (await purse());
  expect(paid).toBeGreaterThan(0);
  expect((await world.bankClient.account(DEMO_MERCHANT)).balance).toBe(paid);
  expect(world.catalogue.require(sku).stock).toBe(stock0 - 1);

  // evidence: the buyer's archive holds offer, order, payment and receipt under the deal, and verifies
  const deal = sale?.deal?.id as string;
  const kinds = (await world.buyerArchive.list({ deal })).map((r) => r.kind);
  expect(kinds).toEqual(expect.arrayContaining(['offer', 'order', 'payment-token', 'receipt', 'deal']));
  const buyerReceipt = (await world.buyerArchive.list({ deal, kind: 'receipt' }))[0];
  expect(Buffer.from(buyerReceipt.evidence as Uint8Array).equals(Buffer.from(receiptBytes))).toBe(true);
  // each piece verifies: the offer under the merchant's certificate from the CA, the receipt under its key
  const offerRecord = (await world.buyerArchive.list({ deal, kind: 'offer' }))[0];
  expect(verifyOffer(offerRecord.evidence as Uint8Array, world.merchant.certificate, world.trust, Math.floor(Date.now() / 1000)).offer.merchant).toBe(DEMO_MERCHANT);
  expect(receiptView(buyerReceipt.evidence as Uint8Array, DEMO_MERCHANT, world.merchant.publicKey)?.text).toMatch(/received/);
  // and the hash chains are intact (verify throws on any break)
  expect((await world.buyerArchive.verify()).records).toBeGreaterThanOrEqual(kinds.length);
  expect((await world.sellerArchive.verify()).records).toBeGreaterThan(0);
  expect(world.ttpCalls()).toBe(0);
  expect(problems).toEqual([]);

  // the buyer's own statement at the agent: the purchase, paid, the merchant checked, the archive intact
  const bankStatement = await newShopPage();
  await bankStatement.goto(`${world.urls.agent}/statement`);
  const text = (await bankStatement.locator('body').textContent()) ?? '';
  expect(text).toMatch(/Archive intact: \d+ records, chain verified/);
  expect(text).toContain(DEMO_MERCHANT);
  expect(text).toContain(title);
  expect(text).toContain(price);
  await shot(bankStatement, 'statement');
  expect(problems).toEqual([]);
  await bankStatement.close();
  await page.close();
});

test('the buyer says no on the device: the shop still waits for the payment, nothing is paid', async () => {
  const page = await newShopPage();
  const before = await purse();
  const balance0 = (await world.bankClient.account(DEMO_MERCHANT)).balance;
  const { orderId } = await order(page, '"fact sheet query"', { email: 'erika@example.org' });
  // paired already: straight to the payment
  await readToEnd();
  expect(person.screen()).toMatch(/-- end --/);
  await pressUntil('CANCEL', async () => /declined on the device/.test((await page.locator('#semper-status').textContent()) ?? ''));
  expect(await page.locator('#semper-status').textContent()).toMatch(/Nothing was charged/);
  await page.getByRole('button', { name: 'Try again' }).waitFor();
  // a reload does not ask the device again by itself: the buyer chooses to try again
  await page.reload();
  await page.getByText('Awaiting your payment').waitFor();
  await page.getByRole('button', { name: 'Pay with your device' }).waitFor();
  expect(person.screen()).not.toMatch(/PAYMENT/);
  expect(await purse()).toBe(before);
  expect((await world.bankClient.account(DEMO_MERCHANT)).balance).toBe(balance0);
  // the seller saw the order (an information purchase proposes before the device pays) but no money
  expect((await world.seller.sale(orderId))?.deal?.state ?? 'none').not.toMatch(/paid|completed/);
  expect(problems).toEqual([]);
  await page.close();
});

test('a paid database query and a CD in one order: the answer and the receipt at once, the CD by post', async () => {
  const page = await newShopPage();
  await page.goto(world.shop.url);
  // the CD into the cart first, then the query through the same order form
  await page.getByLabel('Search the catalogue').fill('beethoven symph*');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('.hit').first().getByRole('button', { name: /^Add .* to cart$/ }).click();
  await page.getByRole('heading', { name: 'Your cart' }).waitFor();
  const { orderId } = await order(page, '"fact sheet query"', { email: 'erika@example.org', address: true });
  const before = await purse();
  const statement = await payOnDevice();
  expect(statement).toMatch(/documents online,\s?goods by post/);
  await page.getByText('Paid — thank you for your order.').waitFor({ timeout: 60_000 });
  const sale = await world.seller.sale(orderId);
  expect(sale?.deal).toMatchObject({ state: 'completed', modules: { workflow: 'mail-order-mixed/1' } });
  expect(await page.locator('.receipt-box blockquote').textContent()).toMatch(/^demo-shop\.example received \d+\.\d\d EUR for .+, .+ \(offer [0-9a-f]{32}, order [0-9a-f]{16}\)$/);
  // the buyer's archive: the exchange delivered the document (an information item) with the receipt
  const deal = sale?.deal?.id as string;
  expect((await world.buyerArchive.list({ deal })).map((r) => r.kind)).toEqual(expect.arrayContaining(['offer', 'order', 'payment-token', 'receipt']));
  expect(before - (await purse())).toBeGreaterThan(0);
  expect(problems).toEqual([]);
  await page.close();
});

test('the merchant vanishes after the payment reached the bank: the third party stands in with a signed affidavit, and no value is lost', async () => {
  const page = await newShopPage();
  const before = await purse();
  const balance0 = (await world.bankClient.account(DEMO_MERCHANT)).balance;
  const ttp0 = world.ttpCalls();
  // the merchant's agent goes away the moment its deposit is booked, before its receipt leaves
  const paid = world.seller.onPaid;
  world.seller.onPaid = (id, offer) => {
    paid?.(id, offer);
    void world.sellerHttp.close();
  };
  const { orderId } = await order(page, 'beethoven symph*', { address: true });
  expect(await payOnDevice()).toContain(DEMO_MERCHANT);

  // the buyer's agent asked the third party and holds its affidavit in place of the receipt
  for (const t0 = Date.now(); world.ttpCalls() === ttp0 && Date.now() - t0 < 60_000; ) await sleep(100);
  expect(world.ttpCalls()).toBeGreaterThan(ttp0);
  const sale = await world.seller.sale(orderId);
  // the exchange layer files its steps under the exchange's id, which the deal names
  const exchangeId = sale?.deal?.exchange as string;
  const decisionsOf = (): ReturnType<typeof world.buyerArchive.list> => world.buyerArchive.list({ deal: exchangeId, kind: 'ttp-decision' });
  for (const t0 = Date.now(); Date.now() - t0 < 60_000; await sleep(200)) if ((await decisionsOf()).length) break;
  const decisions = await decisionsOf();
  expect(decisions.map((d) => d.label)).toEqual([expect.stringMatching(/^exchange (resolved|aborted)/)]);
  // fair and conserved: what left the purse is in the merchant's account (or back in the purse if aborted)
  const spent = before - (await purse());
  const received = (await world.bankClient.account(DEMO_MERCHANT)).balance - balance0;
  expect(spent).toBe(received);
  expect(spent).toBeGreaterThan(0);
  // the shop's own books: paid (the deposit is the merchant's); the buyer holds the third party's word.
  // The pay box may be reloading the page itself just now (the agent said done): look again from
  // the shop, and once more if that navigation was cut short by the box's own
  for (let i = 0; ; i++) {
    try {
      await page.goto(`${world.shop.url}/order/${orderId}`);
      break;
    } catch (e) {
      if (i >= 3) throw e;
      await sleep(200);
    }
  }
  await page.getByText(/Paid — thank you|Awaiting your payment/).waitFor();
  expect((await world.buyerArchive.verify()).records).toBeGreaterThan(0);
  await page.close();
});

// The statement of purchases made for real: `npm start`'s world (demo/world.ts — bank, CA,
// third party, seller's agent, the buyer's agent with the commerce handler, the real firmware
// in the emulator). A local program asks the buyer's agent for two purchases of the merchant's
// signed offers; the person at the device confirms one (OK, PIN) and refuses the other. The
// statement then shows what the archive of the real Buyer holds: one paid row with a receipt
// whose signature verifies under the merchant's certified key, one refused row costing nothing.
// Above the demo's purse limit the agent pays from the holder's account (account-card/1).

import { DEMO_ACCOUNT, DEMO_MERCHANT, DEMO_PIN, DEMO_PURSE_LIMIT, DemoWorld, startDemoWorld } from '../../../demo/world';
import { DealStore } from '../../../host/src/commerce/deal';
import { OFFER_PATH } from '../../../host/src/commerce/seller-http';
import { personAt, PersonAtDevice } from '../../helpers/device-rig';
import { request } from './rig';

jest.setTimeout(240_000);
let world: DemoWorld;
let person: PersonAtDevice;

beforeAll(async () => {
  world = await startDemoWorld({ shopPort: 0, agentPort: 0, devicePort: 0, pairingTimeoutSeconds: 30 });
  person = personAt(() => world.emulator.device());
});
afterAll(() => world?.stop());

const local = (): Record<string, string> => ({ Host: `127.0.0.1:${world.agent.port}`, Authorization: `Bearer ${world.agent.secrets.localToken}` });

/** The screens of the last statement read on the device. */
let shown: string[] = [];

/** Buys one article through the agent's API as a local program; `yes`: OK and the PIN on the device, else CANCEL. */
async function buy(title: string, price: number, yes: boolean): Promise<string> {
  const offer = await world.seller.makeOffer([{ sku: `T-${price}`, title, quantity: 1, unitPrice: price }], { workflow: 'mail-order/1' });
  const body = JSON.stringify({ offer: `${world.urls.seller}${OFFER_PATH}${offer.id}`, amount: { amount: price, currency: 'EUR' } });
  const started = await request(world.agent.port, 'POST', '/v1/purchases', { ...local(), 'Content-Type': 'application/json' }, body);
  expect(started.status).toBe(202);
  const id = (started.json.purchase as { id: string }).id;
  await person.waitFor(/PAYMENT/, 30_000);
  shown = [person.screen()];
  for (let i = 0; i < 40 && !/-- end --/.test(person.screen()); i++) shown.push((await person.press('DOWN'), person.screen()));
  if (yes) {
    await person.press('OK');
    await person.waitFor(/PIN/, 10_000);
    await person.type(DEMO_PIN);
    await person.press('OK');
  } else await person.press('CANCEL');
  for (;;) {
    const p = (await request(world.agent.port, 'GET', `/v1/purchases/${id}?wait=20`, local())).json.purchase as { state: string; result?: { details?: { deal?: string } } };
    if (p.state === 'pending') continue;
    expect(p.state).toBe(yes ? 'completed' : 'refused');
    return p.result?.details?.deal as string;
  }
}

test('a paid and a refused purchase, as the real Buyer archived them', async () => {
  const paid = await buy('Real CD', 12_50, true);
  const refused = await buy('Unwanted CD', 3_00, false);
  const page = (await request(world.agent.port, 'GET', '/statement', { Host: `localhost:${world.agent.port}`, 'Sec-Fetch-Site': 'none' })).text;
  expect(page).toMatch(/Archive intact: \d+ records, chain verified/);
  const row = (deal: string): string => new RegExp(`<tr data-deal="${deal}">([\\s\\S]*?)</tr>`).exec(page)?.[1] ?? 'no row';
  expect(row(paid)).toMatch(new RegExp(`${DEMO_MERCHANT.replace('.', '\\.')}[\\s\\S]*Real CD[\\s\\S]*-12\\.50 EUR[\\s\\S]*class="outcome paid">paid<[\\s\\S]*<td>yes</td>`));
  expect(row(refused)).toMatch(/Unwanted CD[\s\S]*class="num void">-3\.00 EUR[\s\S]*class="outcome refused">[\s\S]*<td>no<\/td>/);
  expect(page).toMatch(/<tr data-currency="EUR"><td>EUR<\/td><td class="num">12\.50 EUR<\/td>/);

  const evidence = (await request(world.agent.port, 'GET', `/statement/${paid}`, { Host: `127.0.0.1:${world.agent.port}`, 'Sec-Fetch-Site': 'same-origin' })).text;
  const checks = Object.fromEntries([...evidence.matchAll(/data-kind="([^"]+)" data-check="([^"]+)"/g)].map((m) => [m[1], m[2]]));
  expect(checks).toMatchObject({ offer: 'valid', order: 'unsigned', 'payment-token': 'unchecked', receipt: 'valid', deal: 'unsigned' });
  expect(evidence).toMatch(/its SHA-256 is the offer the deal names/);
  expect(evidence).toMatch(/its SHA-256 is the order the deal names/);
  // the exchange's messages sit under the exchange id: they are shown with the deal
  expect(evidence).toMatch(/data-kind="transfer"/);
  expect(evidence).not.toMatch(/DOES NOT VERIFY/);
});

test('the demo agent pays above its purse limit from the holder\u2019s account: the device shows the account order, the bank moves the money', async () => {
  const before = { purse: (await world.device.purseBalance()).amount, shop: (await world.bankClient.account(DEMO_MERCHANT)).balance, erika: (await world.bankClient.account(DEMO_ACCOUNT)).balance };
  const price = DEMO_PURSE_LIMIT + 15_00;
  const deal = await buy('Box set', price, true);
  expect(shown.join('\n')).toContain(`payer ${DEMO_ACCOUNT}`);
  expect((await new DealStore(world.buyerArchive).get(deal))?.modules.payment).toBe('account-card/1');
  expect({ purse: (await world.device.purseBalance()).amount, shop: (await world.bankClient.account(DEMO_MERCHANT)).balance, erika: (await world.bankClient.account(DEMO_ACCOUNT)).balance }).toEqual({ purse: before.purse, shop: before.shop + price, erika: before.erika - price });
  const record = (await world.buyerArchive.list({ deal, kind: 'payment-token' }))[0];
  expect(record.label).toBe('account-card/1 card-signed order');
});

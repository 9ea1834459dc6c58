// The whole buyer side as a page uses it: a purchase request to the buyer agent's local API
// names a merchant's offer URL; the commerce handler fetches the bundle, the device verifies
// the merchant, the user confirms the order on the device (OK, PIN), the merchant is paid
// through the fair exchange and its signed receipt lands in the buyer's archive. Also: a page
// that asks for another amount than the signed offer, and a user who says no.

import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { issueCertificate } from '../../../shared/src/certificate';
import { AgentServer } from '../../../host/src/agent/server';
import { BankClient } from '../../../host/src/bank/client';
import { DeviceClient } from '../../../host/src/device/client';
import { DevicePurse, PaymentManager } from '../../../host/src/payment/manager';
import { SqliteArchive } from '../../../host/src/services/archive';
import { ExchangeManager } from '../../../host/src/exchange/manager';
import { ThirdParty } from '../../../host/src/ttp/third-party';
import { standardModules } from '../../../host/src/ttp/modules';
import { Buyer } from '../../../host/src/commerce/buyer';
import { Seller } from '../../../host/src/commerce/seller';
import { serveSeller } from '../../../host/src/commerce/seller-http';
import { commercePurchaseHandler } from '../../../host/src/commerce/agent-handler';
import { certifyWorkflow, STANDARD_WORKFLOWS } from '../../../host/src/commerce/workflow';
import { MsgType } from '../../../protocol/src/messages';
import { ca, cardCertificateOf, issuer, key, RunningBank, startBank, tempDir, trustStore } from '../bank/rig';
import { closeAll, DeviceRig, deviceRig } from '../../helpers/device-rig';

jest.setTimeout(120000);
const SHOP = 'music.example';
let tmp: ReturnType<typeof tempDir>;
let bank: RunningBank;
let rig: DeviceRig;
let agent: AgentServer;
let seller: Seller;
let shop: Awaited<ReturnType<typeof serveSeller>>;
let buyerArchive: SqliteArchive;

beforeAll(async () => {
  tmp = tempDir('agent-purchase-');
  bank = await startBank(join(tmp.dir, 'bank.db'), { now: () => Date.now() });
  await bank.client.openAccount({ id: SHOP, kind: 'merchant', name: 'Music Mail Order', currency: 'EUR' });
  rig = await deviceRig({ ca, issuer, balance: 40_00 });
  const merchantKey = key('agent purchase merchant');
  const certificate = issueCertificate({ name: SHOP, publicKey: merchantKey.publicKey, role: 'merchant', subjectId: Uint8Array.of(8, 8), issuerId: Uint8Array.of(0xca, 1), notBefore: 0, notAfter: 4102444800, serial: 778 }, ca.privateKey);
  const evaluator = { name: 'SEMPER Evaluation Lab', ...key('agent purchase evaluator') };
  const ttpId = { name: 'SEMPER TTP', ...key('agent purchase ttp') };
  const modules = standardModules({ trust: trustStore() });
  const ttp = new ThirdParty({ identity: ttpId, archive: SqliteArchive.open(':memory:'), modules });
  const port = { request: (b: Uint8Array) => ttp.handle(b) };
  seller = new Seller({
    identity: { name: SHOP, ...merchantKey, certificate },
    archive: SqliteArchive.open(':memory:'),
    modules,
    ttp: { party: ttpId, port },
    payments: new PaymentManager([new DevicePurse({ trust: trustStore(), now: () => Math.floor(Date.now() / 1000) })]),
    bank: new BankClient(bank.url),
    workflows: new Map(STANDARD_WORKFLOWS.map((w) => [w.name, certifyWorkflow(w, evaluator, Math.floor(Date.now() / 1000))])),
  });
  shop = await serveSeller(seller);
  buyerArchive = SqliteArchive.open(join(tmp.dir, 'buyer.db'));
  const buyerKey = p256.utils.randomPrivateKey();
  const exchange = new ExchangeManager({ identity: { name: 'erika', privateKey: buyerKey, publicKey: p256.getPublicKey(buyerKey, false) }, archive: buyerArchive, modules, ttp: { party: ttpId, port } });
  const client = new DeviceClient(rig.host);
  const buyer = new Buyer({ exchange, archive: buyerArchive, trust: trustStore(), evaluators: [evaluator], device: { verifyOffer: (c, o) => client.verifyOffer(c, o), purseDebit: (s) => client.purseDebit(s) }, cardCertificate: cardCertificateOf(rig.persona, 'Erika Mustermann', 902) });
  agent = new AgentServer({ archive: buyerArchive, device: client, port: 0, handler: commercePurchaseHandler(buyer, trustStore()), deviceStatus: () => ({ state: 'connected', firmware: 'emulated', card: true }) });
  await agent.start();
});
afterAll(async () => {
  await agent.stop();
  await shop.close();
  closeAll();
  await bank.stop();
  buyerArchive.close();
  tmp.cleanup();
});

/** A local application's request to the agent (the local token; a page would use its origin's token). */
async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${agent.port}${path}`, {
    method,
    headers: { authorization: `Bearer ${agent.secrets.localToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function finished(id: string): Promise<Record<string, unknown>> {
  for (;;) {
    const r = await call('GET', `/v1/purchases/${id}?wait=20`);
    const p = r.json.purchase as { state: string };
    if (p.state !== 'pending') return p as Record<string, unknown>;
  }
}

const balance = async (): Promise<number> => ((await rig.host.request(MsgType.PURSE_BALANCE, {})) as { balance: { amount: number } }).balance.amount;

test('a purchase through the agent: the device verifies the merchant, the user confirms once, the merchant is paid, the receipt is archived', async () => {
  const made = await seller.makeOffer([{ sku: 'CD-7', title: 'Trial recordings CD', quantity: 1, unitPrice: 15_00 }], { workflow: 'mail-order/1', deliverByDays: 3, refundDays: 14 });
  const purse0 = await balance();
  const started = await call('POST', '/v1/purchases', { offer: shop.offerUrl(made.id), amount: { amount: 15_00, currency: 'EUR' } });
  expect(started.status).toBe(202);
  const id = (started.json.purchase as { id: string }).id;
  // the person at the device: the verified merchant and the amount, to the end, OK, PIN
  const screen = await rig.waitFor(/PAYMENT/, 30000);
  expect(screen).toMatch(/music\.example/);
  await rig.scrollTo(/-- end --/);
  await rig.press('OK');
  await rig.waitFor(/Enter your PIN/);
  await rig.type('1234');
  await rig.press('OK');
  const p = await finished(id);
  expect(p).toMatchObject({ state: 'completed', result: { details: { outcome: 'completed', workflow: 'mail-order/1' } } });
  expect((p.result as { message: string }).message).toMatch(/Paid 15\.00 EUR to music\.example/);
  expect(await balance()).toBe(purse0 - 15_00);
  expect((await bank.client.account(SHOP)).balance).toBeGreaterThanOrEqual(15_00);
  const deal = (p.result as { details: { deal: string } }).details.deal;
  expect((await buyerArchive.list({ deal })).map((r) => r.kind)).toEqual(expect.arrayContaining(['offer', 'order', 'payment-token', 'receipt', 'deal']));
});

test('a page that asks for another amount than the merchant signed is refused before the device is asked', async () => {
  const made = await seller.makeOffer([{ sku: 'CD-8', title: 'Another CD', quantity: 1, unitPrice: 9_00 }], { workflow: 'mail-order/1' });
  const started = await call('POST', '/v1/purchases', { offer: shop.offerUrl(made.id), amount: { amount: 90, currency: 'EUR' } });
  const p = await finished((started.json.purchase as { id: string }).id);
  expect(p).toMatchObject({ state: 'failed', error: { code: 'OFFER_MISMATCH' } });
  expect((p.error as { message: string }).message).toMatch(/0\.90 EUR.*9\.00 EUR/);
});

test('the user says no on the device: refused, nothing paid', async () => {
  const made = await seller.makeOffer([{ sku: 'CD-9', title: 'Not wanted', quantity: 1, unitPrice: 5_00 }], { workflow: 'mail-order/1' });
  const purse0 = await balance();
  const started = await call('POST', '/v1/purchases', { offer: shop.offerUrl(made.id), amount: { amount: 5_00, currency: 'EUR' } });
  await rig.waitFor(/PAYMENT/, 30000);
  await rig.press('CANCEL');
  const p = await finished((started.json.purchase as { id: string }).id);
  expect(p).toMatchObject({ state: 'refused' });
  expect(await balance()).toBe(purse0);
});

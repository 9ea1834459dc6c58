// The purchase's payment negotiated by the payment manager, with the real firmware in the
// emulator, a bank over HTTP and real SQLite: the merchant's signed offer names the instruments
// it takes, the buyer's agent pays with the first of its own preferences that the offer accepts
// and whose limit admits the amount — the purse up to 50.00 EUR, the account (the card signs an
// account order on the device, account-card/1) above. The merchant checks and settles whichever
// came; the third party resolves on a card-signed account payment too.

import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { randomBytes } from '@noble/hashes/utils';
import { sha256 } from '@noble/hashes/sha256';
import { BankClient } from '../../../host/src/bank/client';
import { DeviceClient, encodeStatement } from '../../../host/src/device/client';
import { AccountCardInstrument, DevicePurse, PaymentManager } from '../../../host/src/payment/manager';
import { SqliteArchive } from '../../../host/src/services/archive';
import { Channel, memoryChannel } from '../../../host/src/transfer/channel';
import { StatementItem } from '../../../host/src/transfer/items';
import { ExchangeManager } from '../../../host/src/exchange/manager';
import { AFFIDAVIT_FORMAT } from '../../../host/src/exchange/formats';
import { paymentDescription } from '../../../host/src/exchange/modules';
import { ThirdParty } from '../../../host/src/ttp/third-party';
import { standardModules } from '../../../host/src/ttp/modules';
import { Buyer, BuyerPayment } from '../../../host/src/commerce/buyer';
import { Seller, sellerDescription } from '../../../host/src/commerce/seller';
import { orderStatement, verifyOffer } from '../../../host/src/commerce/offer';
import { certifyWorkflow, readWorkflow, STANDARD_WORKFLOWS } from '../../../host/src/commerce/workflow';
import { MsgType } from '../../../protocol/src/messages';
import { ca, cardCertificateOf, issuer, key, RunningBank, startBank, tempDir, trustStore } from '../bank/rig';
import { closeAll, DeviceRig, deviceRig } from '../../helpers/device-rig';
import { commerceParties, vanishesAfterPaid } from './rig';

jest.setTimeout(90000);
const SHOP = 'account-shop.example';
const BUYER = 'erika';
const PREFER: BuyerPayment = { prefer: ['device-purse/1', 'account-card/1'], purseMax: 50_00, account: BUYER };

let tmp: ReturnType<typeof tempDir>;
let bank: RunningBank;
let rig: DeviceRig;
let cardCertificate: Uint8Array;
const { merchantKey, merchantCert, evaluator, ttpKey } = commerceParties(SHOP, 'account', 778);
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  tmp = tempDir('account-payment-');
  bank = await startBank(join(tmp.dir, 'bank.db'), { now: () => Date.now() });
  await bank.client.openAccount({ id: SHOP, kind: 'merchant', name: 'Account Shop', currency: 'EUR' });
  await bank.client.openAccount({ id: BUYER, kind: 'buyer', name: 'Erika Mustermann', currency: 'EUR', publicKey: key('erika account').publicKey });
  await bank.client.fund(BUYER, 500_00);
  await bank.client.openAccount({ id: 'max', kind: 'buyer', name: 'Max', currency: 'EUR', publicKey: key('max account').publicKey });
  await bank.client.fund('max', 500_00);
  rig = await deviceRig({ ca, issuer, balance: 60_00 });
  cardCertificate = cardCertificateOf(rig.persona, 'Erika Mustermann', 902);
  // the card pays from erika's account (account-card/1); max never registered it
  await bank.client.registerCard(BUYER, cardCertificate);
});
afterAll(async () => {
  closeAll();
  await bank.stop();
  tmp.cleanup();
});

/** What the device showed while the user read and confirmed (OK, PIN). */
let shown: string[] = [];

function world(opts: { seller?: 'purse' | 'account-card' | 'both'; payment?: BuyerPayment; sellerCrashAfterPaid?: boolean } = {}) {
  const trust = trustStore();
  const bankClient = new BankClient(bank.url);
  // the third party checks card tokens and card-signed orders, and asks the bank about what it resolves on
  const modules = standardModules({ trust, bank: bankClient });
  const ttpId = { name: 'SEMPER TTP', ...ttpKey };
  const ttp = new ThirdParty({ identity: ttpId, archive: SqliteArchive.open(':memory:'), modules });
  const port = { calls: 0, request: async (b: Uint8Array) => (port.calls++, ttp.handle(b)) };
  const workflows = new Map(STANDARD_WORKFLOWS.map((w) => [w.name, certifyWorkflow(w, evaluator, now())]));
  const sellerArchive = SqliteArchive.open(':memory:');
  const which = opts.seller ?? 'both';
  const instruments = [...(which !== 'account-card' ? [new DevicePurse({ trust, now })] : []), ...(which !== 'purse' ? [new AccountCardInstrument({ trust, now })] : [])];
  const seller = new Seller({ identity: { name: SHOP, ...merchantKey, certificate: merchantCert }, archive: sellerArchive, modules, ttp: { party: ttpId, port }, payments: new PaymentManager(instruments), bank: bankClient, workflows });
  const buyerKey = p256.utils.randomPrivateKey();
  const buyerArchive = SqliteArchive.open(':memory:');
  const exchange = new ExchangeManager({ identity: { name: BUYER, privateKey: buyerKey, publicKey: p256.getPublicKey(buyerKey, false) }, archive: buyerArchive, modules, ttp: { party: ttpId, port } });
  const client = new DeviceClient(rig.host);
  const asked = { verifyOffer: 0 };
  const approve = async <T>(p: Promise<T>): Promise<T> => {
    await rig.waitFor(/PAYMENT/);
    shown = await rig.approve('1234');
    return p;
  };
  const device = {
    verifyOffer: (c: Uint8Array, o: Uint8Array) => (asked.verifyOffer++, client.verifyOffer(c, o)),
    purseDebit: (s: Uint8Array) => approve(client.purseDebit(s)),
    sign: (s: Uint8Array) => approve(client.sign(s)),
  };
  const buyer = new Buyer({ exchange, archive: buyerArchive, trust, evaluators: [evaluator], device, cardCertificate, payment: opts.payment ?? PREFER });
  let channel: Channel = memoryChannel(seller.handler);
  if (opts.sellerCrashAfterPaid) channel = vanishesAfterPaid(channel);
  return { seller, buyer, exchange, client, channel, port, asked, sellerArchive, buyerArchive };
}

const purse = async (): Promise<number> => ((await rig.host.request(MsgType.PURSE_BALANCE, {})) as { balance: { amount: number } }).balance.amount;
const account = async (id: string): Promise<number> => (await bank.client.account(id)).balance;
const balances = async () => ({ purse: await purse(), shop: await account(SHOP), erika: await account(BUYER) });
const cd = (price: number, sku = 'CD-1') => [{ sku, title: 'SEMPER trials CD-ROM', quantity: 1, unitPrice: price }];

test('the signed offer names the instruments the merchant takes for its amount', async () => {
  const w = world();
  const bundle = await w.seller.makeOffer(cd(9_00), { workflow: 'mail-order/1' });
  expect(verifyOffer(bundle.offer, bundle.certificate, trustStore(), now()).offer.payment).toEqual(['device-purse/1', 'account-card/1']);
  // asking for an instrument this merchant has no module for is refused, nothing is offered
  await expect(world({ seller: 'purse' }).seller.makeOffer(cd(9_00), { workflow: 'mail-order/1', payment: ['account-card/1'] })).rejects.toMatchObject({ code: 'REFUSED' });
});

test('a small purchase is paid from the purse; the merchant is credited, the account untouched', async () => {
  const w = world();
  const bundle = await w.seller.makeOffer(cd(12_50), { workflow: 'mail-order/1' });
  const before = await balances();
  const p = await w.buyer.purchase(bundle, w.channel);
  expect(p.outcome.outcome).toBe('completed');
  expect(await balances()).toEqual({ purse: before.purse - 12_50, shop: before.shop + 12_50, erika: before.erika });
  expect((await w.buyer.deals.get(p.deal))?.modules.payment).toBe('device-purse/1');
  expect((await w.seller.sale(bundle.id))?.deal?.modules.payment).toBe('device-purse/1');
  const token = (await w.buyerArchive.list({ deal: p.deal, kind: 'payment-token' }))[0];
  expect(token.label).toBe('card payment');
});

test('a large purchase is paid from the account: the device shows the account order (OK + PIN), the card signs it, the bank settles it', async () => {
  const w = world();
  const bundle = await w.seller.makeOffer(cd(75_00, 'CD-BOX'), { workflow: 'mail-order/1' });
  const before = await balances();
  const p = await w.buyer.purchase(bundle, w.channel);
  expect(p.outcome.outcome).toBe('completed');
  expect(p.receipt?.kind).toBe('statement');
  // the account payment statement the user read: amount, payee, the paying account
  const screens = shown.join('\n');
  expect(screens).toMatch(/75[.,]00/);
  expect(screens).toMatch(/account-shop\.example/);
  expect(screens).toMatch(/payer erika/);
  expect(await balances()).toEqual({ purse: before.purse, shop: before.shop + 75_00, erika: before.erika - 75_00 });
  expect((await w.buyer.deals.get(p.deal))?.modules.payment).toBe('account-card/1');
  expect((await w.seller.sale(bundle.id))?.deal?.modules.payment).toBe('account-card/1');
  // the buyer's archive keeps the card-signed order as the payment's evidence
  const evidence = (await w.buyerArchive.list({ deal: p.deal, kind: 'payment-token' }))[0];
  expect(evidence.label).toBe('account-card/1 card-signed order');
  expect(evidence.amount).toBe(-75_00);
  expect(w.port.calls).toBe(0);
});

test('a merchant that takes only the account gets it, even for an amount the purse would pay', async () => {
  const w = world({ seller: 'account-card' });
  const bundle = await w.seller.makeOffer(cd(5_00), { workflow: 'mail-order/1' });
  const before = await balances();
  const p = await w.buyer.purchase(bundle, w.channel);
  expect(p.outcome.outcome).toBe('completed');
  expect((await w.buyer.deals.get(p.deal))?.modules.payment).toBe('account-card/1');
  expect(await balances()).toEqual({ purse: before.purse, shop: before.shop + 5_00, erika: before.erika - 5_00 });
});

test('no instrument both sides take: a CommerceError before the device is asked anything, nothing paid', async () => {
  // the merchant takes only the purse, the buyer's purse pays only up to 50.00
  const w = world({ seller: 'purse' });
  const bundle = await w.seller.makeOffer(cd(80_00, 'CD-BIG'), { workflow: 'mail-order/1' });
  const before = await balances();
  await expect(w.buyer.purchase(bundle, w.channel)).rejects.toMatchObject({ name: 'CommerceError', code: 'NO_COMMON_PAYMENT', message: expect.stringMatching(/device-purse\/1.*account-card\/1/) });
  expect(w.asked.verifyOffer).toBe(0);
  expect(await w.buyerArchive.list({})).toHaveLength(0);
  expect(await balances()).toEqual(before);
  // a buyer paying only with the purse has no common instrument with an account-only merchant either
  const v = world({ seller: 'account-card', payment: { prefer: ['device-purse/1'] } });
  await expect(v.buyer.purchase(await v.seller.makeOffer(cd(1_00), { workflow: 'mail-order/1' }), v.channel)).rejects.toMatchObject({ code: 'NO_COMMON_PAYMENT' });
  expect(v.asked.verifyOffer).toBe(0);
});

test('a card-signed order from an account the card is not registered for is refused: nothing given, nobody debited', async () => {
  const w = world({ payment: { ...PREFER, account: 'max' } });
  const bundle = await w.seller.makeOffer(cd(60_00, 'CD-MAX'), { workflow: 'mail-order/1' });
  const before = { ...(await balances()), max: await account('max') };
  const p = await w.buyer.purchase(bundle, w.channel);
  // the seller's bank refused the order, so it gave nothing; the third party, asked, finds the same
  expect(p.outcome.outcome).not.toMatch(/completed|resolved/);
  expect(p.outcome.reason).toMatch(/not registered for account max/);
  expect((await w.seller.sale(bundle.id))?.deal?.state).toBe('ordered');
  expect(await w.sellerArchive.list({ kind: 'deposit' })).toHaveLength(0);
  expect(p.receipt).toBeUndefined();
  expect({ ...(await balances()), max: await account('max') }).toEqual(before);
  expect(await w.sellerArchive.list({ kind: 'receipt' })).toHaveLength(0);
});

test('a card-signed order bound to another order is refused by the seller before it deposits', async () => {
  const w = world();
  const bundle = await w.seller.makeOffer(cd(70_00, 'CD-REPLAY'), { workflow: 'mail-order/1' });
  const v = verifyOffer(bundle.offer, bundle.certificate, trustStore(), now());
  await w.client.verifyOffer(bundle.certificate, bundle.offer);
  const order = encodeStatement(orderStatement(v, randomBytes(16)));
  const orderDigest = sha256(order);
  const workflow = readWorkflow(bundle.workflow);
  const merchant = { name: SHOP, publicKey: merchantKey.publicKey };
  // the card really signs an account order for this merchant and amount — but for another order's digest
  const card = new AccountCardInstrument({ account: BUYER, sign: (s) => w.client.sign(s).then((r) => r), cardCertificate });
  const before = await balances();
  const signing = card.pay({ payee: SHOP, amount: 70_00, currency: 'EUR', txDigest: sha256(new TextEncoder().encode('another order')), time: now() });
  await rig.waitFor(/PAYMENT/);
  await rig.approve('1234');
  const forged = await signing;
  const out = await w.exchange.exchange(w.channel, {
    peer: merchant,
    fair: workflow.fair,
    deadlineMs: workflow.deadlineSeconds * 1000,
    context: order,
    want: sellerDescription(v.offer, workflow, orderDigest, merchant),
    give: { description: paymentDescription(70_00, 'EUR', SHOP, { txDigest: orderDigest }), make: async () => forged },
  });
  // the seller's check refused it (and so does the third party, asked to resolve): nothing given, nothing settled
  expect(out.outcome).not.toMatch(/completed|resolved/);
  expect(out.reason).toMatch(/bound to another exchange/);
  expect(out.received).toBeUndefined();
  expect(await balances()).toEqual(before);
  expect(await w.sellerArchive.list({ kind: 'deposit' })).toHaveLength(0);
});

test('the merchant vanishes after an account payment: the third party checks the card-signed order with the bank and gives the affidavit', async () => {
  const w = world({ sellerCrashAfterPaid: true });
  const bundle = await w.seller.makeOffer(cd(55_00, 'CD-GONE'), { workflow: 'mail-order/1' });
  const before = await balances();
  const p = await w.buyer.purchase(bundle, w.channel);
  expect(p.outcome.outcome).toBe('resolved');
  expect((p.receipt as StatementItem).format).toBe(AFFIDAVIT_FORMAT);
  expect(w.port.calls).toBe(1);
  expect((await w.buyer.deals.get(p.deal))?.modules.payment).toBe('account-card/1');
  expect(await balances()).toEqual({ purse: before.purse, shop: before.shop + 55_00, erika: before.erika - 55_00 });
});

// The commerce layer as it really runs: the firmware bundle in the emulator with a card of the
// bank's CA, a bank over HTTP, a merchant with a CA-issued certificate and evaluator-certified
// workflows, a third party. The buyer reads the order on the device, presses OK and types the
// PIN once; the merchant deposits the card's token before it gives anything; the buyer gets the
// signed receipt (mail order) or the documents and the receipt (information purchase). Also:
// the merchant vanishing after it was paid, the user refusing, an untrusted workflow, a forged
// offer — and the money is where it should be after each.

import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { sha256 } from '@noble/hashes/sha256';
import { issueCertificate } from '../../../shared/src/certificate';
import { BankClient } from '../../../host/src/bank/client';
import { DeviceClient } from '../../../host/src/device/client';
import { DevicePurse, PaymentManager } from '../../../host/src/payment/manager';
import { SqliteArchive } from '../../../host/src/services/archive';
import { httpChannel, memoryChannel } from '../../../host/src/transfer/channel';
import { fetchOfferBundle, serveSeller } from '../../../host/src/commerce/seller-http';
import { InformationItem, StatementItem } from '../../../host/src/transfer/items';
import { ExchangeManager } from '../../../host/src/exchange/manager';
import { AFFIDAVIT_FORMAT, openMessage, verifyAffidavit } from '../../../host/src/exchange/formats';
import { ThirdParty } from '../../../host/src/ttp/third-party';
import { standardModules } from '../../../host/src/ttp/modules';
import { Buyer } from '../../../host/src/commerce/buyer';
import { Seller } from '../../../host/src/commerce/seller';
import { CommerceError } from '../../../host/src/commerce/offer';
import { certifyWorkflow, STANDARD_WORKFLOWS } from '../../../host/src/commerce/workflow';
import { MsgType } from '../../../protocol/src/messages';
import { ca, cardCertificateOf, issuer, key, RunningBank, startBank, tempDir, trustStore } from '../bank/rig';
import { closeAll, DeviceRig, deviceRig } from '../../helpers/device-rig';
import { commerceParties, vanishesAfterPaid } from './rig';

jest.setTimeout(90000);
const SHOP = 'cd-rom.example';
const report = new TextEncoder().encode('%PDF-1.4 SEMPER trial report (the document sold)');

let tmp: ReturnType<typeof tempDir>;
let bank: RunningBank;
let rig: DeviceRig;
let cardCertificate: Uint8Array;
const { merchantKey, merchantCert, evaluator, ttpKey } = commerceParties(SHOP, 'commerce', 777);
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  tmp = tempDir('commerce-');
  bank = await startBank(join(tmp.dir, 'bank.db'), { now: () => Date.now() });
  await bank.client.openAccount({ id: SHOP, kind: 'merchant', name: 'CD-ROM Versand', currency: 'EUR' });
  rig = await deviceRig({ ca, issuer, balance: 60_00 });
  cardCertificate = cardCertificateOf(rig.persona, 'Erika Mustermann', 901);

});
afterAll(async () => {
  closeAll();
  await bank.stop();
  tmp.cleanup();
});

/** The user at the device: reads the order to its end, OK, PIN, OK. */
async function userPays(pin = '1234'): Promise<void> {
  await rig.waitFor(/PAYMENT/);
  await rig.scrollTo(/-- end --/);
  await rig.press('OK');
  await rig.waitFor(/Enter your PIN/);
  await rig.type(pin);
  await rig.press('OK');
}

function world(opts: { sellerCrashAfter?: 'originatorItem'; ttpDown?: boolean } = {}) {
  const modules = standardModules({ trust: trustStore() });
  const ttpId = { name: 'SEMPER TTP', ...ttpKey };
  const ttp = new ThirdParty({ identity: ttpId, archive: SqliteArchive.open(':memory:'), modules });
  const port = { calls: 0, request: async (b: Uint8Array) => (port.calls++, ttp.handle(b)) };
  const workflows = new Map(STANDARD_WORKFLOWS.map((w) => [w.name, certifyWorkflow(w, evaluator, now())]));
  const sellerArchive = SqliteArchive.open(':memory:');
  const seller = new Seller({
    identity: { name: SHOP, ...merchantKey, certificate: merchantCert },
    archive: sellerArchive,
    modules,
    ttp: { party: ttpId, port },
    payments: new PaymentManager([new DevicePurse({ trust: trustStore(), now })]),
    bank: new BankClient(bank.url),
    workflows,
    content: (sku) => (sku === 'DOC-1' ? { mediaType: 'application/pdf', data: report } : undefined),
  });
  const buyerKey = p256.utils.randomPrivateKey();
  const buyerArchive = SqliteArchive.open(':memory:');
  const exchange = new ExchangeManager({ identity: { name: 'erika', privateKey: buyerKey, publicKey: p256.getPublicKey(buyerKey, false) }, archive: buyerArchive, modules, ttp: { party: ttpId, port } });
  const client = new DeviceClient(rig.host);
  const device = {
    verifyOffer: (c: Uint8Array, o: Uint8Array) => client.verifyOffer(c, o),
    purseDebit: async (s: Uint8Array) => {
      const p = client.purseDebit(s);
      await userPays();
      return p;
    },
  };
  const buyer = new Buyer({ exchange, archive: buyerArchive, trust: trustStore(), evaluators: [evaluator], device, cardCertificate });
  let channel = memoryChannel(seller.handler);
  if (opts.sellerCrashAfter) channel = vanishesAfterPaid(channel);
  return { seller, buyer, channel, port, sellerArchive, buyerArchive };
}

const balance = async (): Promise<number> => ((await rig.host.request(MsgType.PURSE_BALANCE, {})) as { balance: { amount: number } }).balance.amount;
const shopBalance = async (): Promise<number> => (await bank.client.account(SHOP)).balance;

test('mail order: one OK and PIN on the device, the token deposited, the signed receipt back; no third party', async () => {
  const w = world();
  const bundle = await w.seller.makeOffer([{ sku: 'CD-42', title: 'SEMPER trials CD-ROM', quantity: 1, unitPrice: 12_50 }], { workflow: 'mail-order/1', deliverByDays: 5, refundDays: 14 });
  const [purse0, shop0] = [await balance(), await shopBalance()];
  const p = await w.buyer.purchase(bundle, w.channel, { origin: 'https://cd-rom.example' });
  expect(p.outcome).toMatchObject({ outcome: 'completed', protocol: 'gen-ev/1', role: 'responder' });
  expect(p.receipt?.kind).toBe('statement');
  expect((p.receipt as StatementItem).format).toBe('semper-exchange-signature/1');
  expect(await balance()).toBe(purse0 - 12_50);
  expect(await shopBalance()).toBe(shop0 + 12_50);
  expect(w.port.calls).toBe(0);
  // both archives hold the deal's evidence
  const kinds = (await w.buyerArchive.list({ deal: p.deal })).map((r) => r.kind);
  expect(kinds).toEqual(expect.arrayContaining(['offer', 'order', 'payment-token', 'receipt']));
  expect((await w.sellerArchive.list({ kind: 'deposit' })).length).toBe(1);
  // the order the device showed is the one the merchant got
  expect((await w.sellerArchive.list({ kind: 'order' }))[0].evidence).toEqual(p.order);
});

test('a mixed order: the document and the receipt at once against the payment; the CD follows by post', async () => {
  const w = world();
  const bundle = await w.seller.makeOffer(
    [
      { sku: 'CD-42', title: 'SEMPER trials CD-ROM', quantity: 2, unitPrice: 3_00 },
      { sku: 'DOC-1', title: 'Trial report (PDF)', quantity: 1, unitPrice: 1_00 },
    ],
    { workflow: 'mail-order-mixed/1', deliverByDays: 5 },
  );
  const [purse0, shop0] = [await balance(), await shopBalance()];
  const p = await w.buyer.purchase(bundle, w.channel);
  expect(p.outcome.outcome).toBe('completed');
  expect(p.offer.offer.delivery).toBe('mixed');
  // only the document travels on-line; the receipt names both lines and the whole amount
  expect(p.goods.map((g) => (g as InformationItem).data)).toEqual([report]);
  expect(p.receipt?.kind).toBe('statement');
  expect((await w.seller.sale(bundle.id))?.deal?.state).toBe('completed');
  expect(await balance()).toBe(purse0 - 7_00);
  expect(await shopBalance()).toBe(shop0 + 7_00);
  expect(w.port.calls).toBe(0);
});

test('information purchase: the document (as committed to in the offer) and the receipt, at once', async () => {
  const w = world();
  const bundle = await w.seller.makeOffer([{ sku: 'DOC-1', title: 'Trial report (PDF)', quantity: 1, unitPrice: 4_00 }], { workflow: 'information-purchase/1' });
  const p = await w.buyer.purchase(bundle, w.channel);
  expect(p.outcome.outcome).toBe('completed');
  expect(p.goods).toHaveLength(1);
  expect((p.goods[0] as InformationItem).data).toEqual(report);
  expect(sha256((p.goods[0] as InformationItem).data)).toEqual(p.offer.offer.lines[0].content!.hash);
  expect(p.receipt?.kind).toBe('statement');
  expect(w.port.calls).toBe(0);
  // the seller's books: the escrowed delivery was given once the deposit was made — completed, with the same receipt
  const sale = await w.seller.sale(bundle.id);
  expect(sale?.deal?.state).toBe('completed');
  expect(Buffer.from(sale?.receipt ?? []).equals(Buffer.from((p.receipt as StatementItem).document))).toBe(true);
});

test('the merchant vanishes after it was paid: the buyer gets the third party\u2019s affidavit, and the money is with the merchant', async () => {
  const w = world({ sellerCrashAfter: 'originatorItem' });
  const bundle = await w.seller.makeOffer([{ sku: 'CD-43', title: 'Another CD-ROM', quantity: 2, unitPrice: 3_00 }], { workflow: 'mail-order/1' });
  const [purse0, shop0] = [await balance(), await shopBalance()];
  const p = await w.buyer.purchase(bundle, w.channel);
  expect(p.outcome.outcome).toBe('resolved');
  expect((p.receipt as StatementItem).format).toBe(AFFIDAVIT_FORMAT);
  expect(verifyAffidavit((p.receipt as StatementItem).document, ttpKey.publicKey).replaces.label).toMatch(/receipt of cd-rom.example/);
  expect(w.port.calls).toBe(1);
  // value conservation: what left the purse is in the merchant's account, nothing more, nothing less
  expect(purse0 - (await balance())).toBe(6_00);
  expect((await shopBalance()) - shop0).toBe(6_00);
});

test('the user refuses on the device: nothing paid, nothing delivered, the purse unchanged', async () => {
  const w = world();
  const bundle = await w.seller.makeOffer([{ sku: 'CD-44', title: 'Not this one', quantity: 1, unitPrice: 9_00 }], { workflow: 'mail-order/1' });
  const purse0 = await balance();
  const client = new DeviceClient(rig.host);
  const refusing = new Buyer({
    exchange: (w.buyer as unknown as { o: { exchange: ExchangeManager } }).o.exchange,
    archive: w.buyerArchive,
    trust: trustStore(),
    evaluators: [evaluator],
    device: {
      verifyOffer: (c, o) => client.verifyOffer(c, o),
      purseDebit: async (s) => {
        const p = client.purseDebit(s);
        p.catch(() => undefined); // awaited below, after the key press
        await rig.waitFor(/PAYMENT/);
        await rig.press('CANCEL');
        return p;
      },
    },
    cardCertificate,
  });
  const p = await refusing.purchase(bundle, w.channel);
  expect(p.outcome.outcome).toBe('failed');
  expect(p.outcome.reason).toMatch(/refused by the user/);
  expect(p.receipt).toBeUndefined();
  expect(await balance()).toBe(purse0);
  await rig.waitFor(/./);
});

test('an untrusted workflow or a forged offer is refused before the device is asked anything', async () => {
  const w = world();
  const bundle = await w.seller.makeOffer([{ sku: 'CD-45', title: 'CD', quantity: 1, unitPrice: 1_00 }], { workflow: 'mail-order/1' });
  const rogue = { name: evaluator.name, ...key('rogue evaluator') };
  await expect(w.buyer.purchase({ ...bundle, workflow: certifyWorkflow(STANDARD_WORKFLOWS[0], rogue, now()) }, w.channel)).rejects.toMatchObject({ code: 'UNTRUSTED_WORKFLOW' });
  const forged = bundle.offer.slice();
  forged[forged.length - 70] ^= 1;
  await expect(w.buyer.purchase({ ...bundle, offer: forged }, w.channel)).rejects.toBeInstanceOf(CommerceError);
  const other = issueCertificate({ name: 'evil.example', publicKey: merchantKey.publicKey, role: 'merchant', subjectId: Uint8Array.of(9), issuerId: Uint8Array.of(0xca, 1), notBefore: 0, notAfter: 4102444800, serial: 9 }, key('not the CA').privateKey);
  await expect(w.buyer.purchase({ ...bundle, certificate: other }, w.channel)).rejects.toMatchObject({ code: 'CERTIFICATE' });
});

test('over HTTP: the buyer fetches the offer bundle from its URL and buys through the seller\u2019s exchange endpoint', async () => {
  const w = world();
  const svc = await serveSeller(w.seller);
  try {
    const made = await w.seller.makeOffer([{ sku: 'CD-46', title: 'CD-ROM by post', quantity: 1, unitPrice: 2_50 }], { workflow: 'mail-order/1' });
    const bundle = await fetchOfferBundle(svc.offerUrl(made.id));
    expect(bundle.exchangeUrl).toBe(`${svc.url}/semper/transfer`);
    const p = await w.buyer.purchase(bundle, httpChannel(bundle.exchangeUrl));
    expect(p.outcome.outcome).toBe('completed');
    await expect(fetchOfferBundle(`${svc.url}/offers/${'00'.repeat(16)}`)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const garbage = await fetch(`${svc.url}/semper/transfer`, { method: 'POST', headers: { 'content-type': 'application/cbor' }, body: new Uint8Array([1, 2, 3]) });
    expect(garbage.status).toBe(200);
    expect(openMessage(new Uint8Array(await garbage.arrayBuffer())).msg.step).toBe('failed');
  } finally {
    await svc.close();
  }
});

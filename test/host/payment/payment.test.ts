// Payment end to end: buyer and merchant negotiate an instrument, the buyer pays (the
// emulated card signs a purse token, or the buyer's software key signs a payment order),
// the payment travels in a package with origin, confidentiality and receipt over HTTP, the
// merchant verifies it and has the bank (HTTP, ephemeral port) settle it before it issues the
// receipt. Double spending surfaces as a refused transfer.

import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha256';
import { BankClient } from '../../../host/src/bank/client';
import { PaymentError } from '../../../host/src/payment/formats';
import { AccountInstrument, DevicePurse, PaymentManager, PaymentRequest, Settlement } from '../../../host/src/payment/manager';
import { SqliteArchive } from '../../../host/src/services/archive';
import { httpChannel, serveTransfers } from '../../../host/src/transfer/channel';
import { TransferError } from '../../../host/src/transfer/errors';
import { Element, PaymentItem, pkg, statement } from '../../../host/src/transfer/items';
import { TransferManager, verifyReceipt } from '../../../host/src/transfer/manager';
import { key, NOW_S, RunningBank, startBank, tempDir, TestCard, trustStore } from '../bank/rig';

const aliceKeys = key('payment alice agent');
const aliceAccount = key('payment alice account');
const shopKeys = key('payment shop agent');
const SHOP = 'books.example';

let tmp: ReturnType<typeof tempDir>;
let bank: RunningBank;
let card: TestCard;
let archives: SqliteArchive[];
let stopShop: () => Promise<void>;
let shopUrl: string;
const settlements: Settlement[] = [];
let expectNext: PaymentRequest;

const statementBytes = new TextEncoder().encode('order 42: one book');
const request = (amount: number): PaymentRequest => ({ payee: SHOP, amount, currency: 'EUR', txDigest: sha256(statementBytes), time: NOW_S });

function buyer(opts: { purseMax?: number } = {}): PaymentManager {
  return new PaymentManager([
    new DevicePurse({ debit: async (r) => card.debit({ payee: r.payee, amount: r.amount, currency: r.currency, txDigest: r.txDigest, time: r.time }), cardCertificate: card.certificate, maxAmount: opts.purseMax }),
    new AccountInstrument({ account: 'alice', privateKey: aliceAccount.privateKey, publicKey: aliceAccount.publicKey }),
  ]);
}

const merchant = new PaymentManager([new AccountInstrument({ payerKey: (a) => (a === 'alice' ? aliceAccount.publicKey : undefined) }), new DevicePurse({ trust: trustStore(), now: () => NOW_S })]);
merchant.prefer(['device-purse/1']);

function paymentOf(e: Element): PaymentItem {
  if (e.kind !== 'package') throw new Error('not a package');
  const p = e.children.find((c) => c.kind === 'payment');
  if (!p || p.kind !== 'payment') throw new TransferError('REFUSED', 'no payment in the package');
  return p;
}

beforeAll(async () => {
  tmp = tempDir('payment-');
  bank = await startBank(join(tmp.dir, 'bank.db'));
  await bank.client.openAccount({ id: SHOP, kind: 'merchant', name: 'Books Ltd', currency: 'EUR' });
  await bank.client.openAccount({ id: 'alice', kind: 'buyer', name: 'Alice', currency: 'EUR', publicKey: aliceAccount.publicKey });
  await bank.client.fund('alice', 500_00);
  archives = [SqliteArchive.open(join(tmp.dir, 'alice.db')), SqliteArchive.open(join(tmp.dir, 'shop.db'))];
  // the merchant's agent: verify the payment, have the bank settle it, only then receipt it
  const shopAgent = new TransferManager({
    identity: { name: SHOP, ...shopKeys },
    archive: archives[1],
    peers: (n) => (n === 'alice' ? aliceKeys.publicKey : undefined),
    require: ['origin', 'confidentiality', 'receipt'],
    accept: async (r) => {
      const item = paymentOf(r.element);
      merchant.verify(item, expectNext);
      settlements.push(await merchant.settle(item, new BankClient(bank.url), `settle-${r.transferId}`));
    },
  });
  const svc = await serveTransfers(shopAgent.handler);
  shopUrl = svc.url;
  stopShop = svc.close;
});

afterAll(async () => {
  await stopShop();
  await bank.stop();
  archives.forEach((a) => a.close());
  tmp.cleanup();
});

beforeEach(() => {
  card = new TestCard({ balance: 100_00 });
});

async function buy(payer: PaymentManager, amount: number, payeeOffer = merchant.offerFor(amount)): Promise<{ item: PaymentItem; receipt: Uint8Array }> {
  expectNext = request(amount);
  const item = await payer.pay(payeeOffer, expectNext);
  const alice = new TransferManager({ identity: { name: 'alice', ...aliceKeys }, archive: archives[0] });
  const r = await alice.send(httpChannel(shopUrl), { name: SHOP, publicKey: shopKeys.publicKey }, pkg('order 42', [statement('cose-bytes/1', statementBytes), item]), { attributes: ['origin', 'confidentiality', 'receipt'] });
  return { item, receipt: r.receipt! };
}

test('device purse: negotiated, card-signed, transferred, verified, deposited; the receipt comes after the bank credited', async () => {
  const before = (await bank.client.account(SHOP)).balance;
  const { item, receipt } = await buy(buyer(), 12_50);
  expect(item.instrument).toBe('device-purse/1');
  expect(verifyReceipt(receipt, shopKeys.publicKey).items).toBe(2);
  expect(card.balance()).toBe(87_50);
  expect((await bank.client.account(SHOP)).balance).toBe(before + 12_50);
  expect(settlements.at(-1)).toMatchObject({ instrument: 'device-purse/1', amount: 12_50 });
  // both archives hold the payment as evidence
  expect((await archives[0].list({ kind: 'payment-token' })).at(-1)).toMatchObject({ amount: -12_50, currency: 'EUR', counterparty: SHOP });
  expect((await archives[1].list({ kind: 'payment-token' })).at(-1)).toMatchObject({ amount: 12_50, counterparty: 'alice' });
});

test('account instrument: chosen for a large amount (the purse is for small ones), settled from the buyer’s account', async () => {
  const before = await bank.client.account('alice');
  const { item } = await buy(buyer({ purseMax: 50_00 }), 80_00);
  expect(item.instrument).toBe('account/1');
  expect(card.balance()).toBe(100_00);
  expect((await bank.client.account('alice')).balance).toBe(before.balance - 80_00);
  expect(settlements.at(-1)).toMatchObject({ instrument: 'account/1', amount: 80_00 });
  expect((await bank.client.audit()).ok).toBe(true);
});

test('no common instrument: a typed error before anything is paid', async () => {
  await expect(buyer().pay(['set/1', 'ecash/2'], request(1_00))).rejects.toMatchObject({ name: 'TransferError', code: 'NO_COMMON_MODULE' });
  expect(card.balance()).toBe(100_00);
});

test('the payee checks before settling: wrong amount or another order is refused; a token spent twice is not receipted', async () => {
  const payer = buyer();
  const item = await payer.pay(merchant.offerFor(5_00), request(5_00));
  expect(() => merchant.verify(item, request(6_00))).toThrow(PaymentError);
  expect(() => merchant.verify(item, { ...request(5_00), txDigest: new Uint8Array(32) })).toThrow(expect.objectContaining({ code: 'MISMATCH', detail: 'txDigest' }));
  // the same payment item sent again in a new transfer: the bank refuses the deposit, the shop no receipt
  expectNext = request(5_00);
  const alice = new TransferManager({ identity: { name: 'alice', ...aliceKeys }, archive: archives[0] });
  const send = () => alice.send(httpChannel(shopUrl), { name: SHOP, publicKey: shopKeys.publicKey }, pkg('order 43', [item]), { attributes: ['origin', 'confidentiality', 'receipt'] });
  await send();
  await expect(send()).rejects.toMatchObject({ code: 'REFUSED', message: expect.stringMatching(/DOUBLE_SPENDING|did not settle/) });
});

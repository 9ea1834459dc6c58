// Refunds (by the payee, by a TTP — configured key or role-ttp certificate —, partial, too
// large, by a stranger, retried, after a restart), the bank-signed payment status (verifies;
// tampered, it does not), receipts verified by BankClient, signed account reads, card
// registration, and a schema-1 bank file migrated at open.

import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { p256 } from '@noble/curves/p256';
import { issueCertificate } from '../../../shared/src/certificate';
import { Bank, b64, SCHEMA_VERSION } from '../../../host/src/bank/bank';
import { BankClient } from '../../../host/src/bank/client';
import { BankError } from '../../../host/src/bank/errors';
import { decodePaymentOrder, decodePaymentToken, PaymentError, signPaymentOrder, signRead, signRefund, signRefundCbor, verifyBankReceipt, verifyPaymentStatus } from '../../../host/src/payment/formats';
import { ADMIN, ca, issuer, ISSUER_NAME, key, NOW_S, rejects, RunningBank, startBank, tempDir, TestCard, trustStore } from './rig';

const CA_ID = Uint8Array.of(0xca, 1);
const alice = key('refund alice');
const shop = key('refund shop');
const ttp = key('refund ttp');
const certifiedTtp = key('refund certified ttp');
const stranger = key('refund stranger');

let tmp: ReturnType<typeof tempDir>;
let file: string;
let b: RunningBank;
let now = NOW_S * 1000;

/** A bank that carries out the refund decisions of `ttp` (configured key) and of role-ttp certificates of the rig CA. */
const start = (path: string): Promise<RunningBank> => startBank(path, { now: () => now, ttpKeys: [ttp.publicKey] });

const ttpCertificate = (role: 'ttp' | 'merchant') => issueCertificate({ name: 'Fair Exchange TTP', publicKey: certifiedTtp.publicKey, role, subjectId: Uint8Array.of(0x77, 1), issuerId: CA_ID, notBefore: 0, notAfter: 4102444800, serial: 7000 }, ca.privateKey);

let orderN = 0;
async function pay(amount: number): Promise<string> {
  const orderId = (++orderN).toString(16).padStart(32, '0');
  const order = signPaymentOrder({ payer: 'alice', payee: 'shop', amount, currency: 'EUR', orderId, txDigest: new Uint8Array(32), time: NOW_S }, alice.privateKey, alice.publicKey);
  await b.client.settleOrder({ requestId: `pay-${orderId}`, order });
  return orderId;
}

let refundN = 0;
const refundId = () => (++refundN).toString(16).padStart(32, 'e');

beforeEach(async () => {
  now = NOW_S * 1000;
  tmp = tempDir('bank-refund-');
  file = join(tmp.dir, 'bank.db');
  b = await start(file);
  await b.client.openAccount({ id: 'shop', kind: 'merchant', name: 'Shop', currency: 'EUR', publicKey: shop.publicKey });
  await b.client.openAccount({ id: 'alice', kind: 'buyer', name: 'Alice', currency: 'EUR', publicKey: alice.publicKey });
  await b.client.fund('alice', 100_00);
});
afterEach(async () => {
  await b.stop();
  tmp.cleanup();
});

const balance = async (id: string) => (await b.client.account(id)).balance;

test('a full refund of an account payment by the payee: money back, receipt verified, status says so', async () => {
  const orderId = await pay(40_00);
  const refund = signRefund({ reference: { orderId }, amount: 40_00, currency: 'EUR', refundId: refundId(), reason: 'goods returned', time: NOW_S }, shop.privateKey);
  const r = await b.client.refund({ requestId: 'rf1', refund });
  expect(r.refund).toMatchObject({ reference: { orderId }, amount: 40_00, payer: 'alice', payee: 'shop', refunded: 40_00, authorisedBy: 'payee' });
  expect(r.verified).toMatchObject({ op: 'refund', amount: 40_00, debit: 'shop', credit: 'alice', entry: r.entry, refundId: r.refund.refundId });
  expect([await balance('alice'), await balance('shop')]).toEqual([100_00, 0]);
  const { status } = await b.client.paymentStatus({ orderId });
  expect(status).toMatchObject({ settled: true, amount: 40_00, currency: 'EUR', payee: 'shop', payer: 'alice', refunded: 40_00 });
  // nothing left to refund
  const more = signRefund({ reference: { orderId }, amount: 1, currency: 'EUR', refundId: refundId(), reason: 'again', time: NOW_S }, shop.privateKey);
  expect(await rejects(b.client.refund({ requestId: 'rf2', refund: more }))).toMatchObject({ code: 'REFUND_EXCEEDS', detail: { paid: 40_00, refunded: 40_00 } });
  expect((await b.client.audit()).ok).toBe(true);
});

test('partial refunds of a purse token go to the account the card is registered for; never above the amount', async () => {
  const card = new TestCard({ balance: 50_00 });
  const dep = await b.client.deposit({ requestId: 'd1', merchant: 'shop', token: card.debit({ payee: 'shop', amount: 20_00 }), cardCertificate: card.certificate });
  const reference = { cardId: card.cardId, counter: dep.deposit.counter };
  const part = (amount: number) => signRefund({ reference, amount, currency: 'EUR', refundId: refundId(), reason: 'partial', time: NOW_S }, shop.privateKey);
  // no account holds the card yet: purse value names nobody to pay back to
  expect((await rejects(b.client.refund({ requestId: 'p0', refund: part(5_00) }))).code).toBe('NO_REFUND_ACCOUNT');
  expect(await b.client.registerCard('alice', card.certificate)).toEqual({ cardId: Buffer.from(card.cardId).toString('hex'), account: 'alice' });
  expect((await b.client.refund({ requestId: 'p1', refund: part(5_00) })).refund.refunded).toBe(5_00);
  expect((await b.client.refund({ requestId: 'p2', refund: part(7_00) })).refund.refunded).toBe(12_00);
  expect(await rejects(b.client.refund({ requestId: 'p3', refund: part(8_01) }))).toMatchObject({ code: 'REFUND_EXCEEDS', detail: { paid: 20_00, refunded: 12_00 } });
  expect((await b.client.refund({ requestId: 'p4', refund: part(8_00) })).refund.refunded).toBe(20_00);
  expect([await balance('alice'), await balance('shop')]).toEqual([120_00, 0]);
  expect((await b.client.paymentStatus(reference)).status).toMatchObject({ settled: true, amount: 20_00, refunded: 20_00, payer: 'alice', payee: 'shop' });
  expect((await b.client.audit()).ok).toBe(true);
});

test('who may refund: the payee, a configured TTP, a role-ttp certificate; not a stranger or a merchant certificate', async () => {
  const orderId = await pay(50_00);
  const auth = (k: { privateKey: Uint8Array }, amount = 10_00) => signRefund({ reference: { orderId }, amount, currency: 'EUR', refundId: refundId(), reason: 'dispute decided', time: NOW_S }, k.privateKey);
  const before = await balance('shop');
  expect((await rejects(b.client.refund({ requestId: 's1', refund: auth(stranger) }))).code).toBe('BAD_SIGNATURE');
  expect((await rejects(b.client.refund({ requestId: 's2', refund: auth(certifiedTtp) }))).code).toBe('BAD_SIGNATURE'); // no certificate: an unknown key
  expect((await rejects(b.client.refund({ requestId: 's3', refund: auth(certifiedTtp), ttpCertificate: ttpCertificate('merchant') }))).code).toBe('BAD_SIGNATURE'); // wrong role
  expect((await rejects(b.client.refund({ requestId: 's4', refund: auth(stranger), ttpCertificate: ttpCertificate('ttp') }))).code).toBe('BAD_SIGNATURE'); // certificate of another key
  expect(await balance('shop')).toBe(before); // nothing moved
  expect((await b.client.refund({ requestId: 't1', refund: auth(ttp) })).refund.authorisedBy).toBe('ttp');
  expect((await b.client.refund({ requestId: 't2', refund: auth(certifiedTtp), ttpCertificate: ttpCertificate('ttp') })).refund.authorisedBy).toBe('ttp');
  expect((await b.client.refund({ requestId: 't3', refund: auth(shop) })).refund).toMatchObject({ authorisedBy: 'payee', refunded: 30_00 });
  // as the exchange layer's third party makes them: the reference as CBOR, the id as bytes, no kid needed
  const fromTtp = signRefundCbor({ reference: Buffer.from(orderId, 'hex'), amount: 1_00, currency: 'EUR', refundId: new Uint8Array(16).fill(0x5a), reason: `fair exchange ${'ab'.repeat(32)} aborted`, time: NOW_S }, ttp.privateKey);
  expect((await b.client.refund({ requestId: 't4', refund: fromTtp })).refund).toMatchObject({ authorisedBy: 'ttp', refunded: 31_00, refundId: '5a'.repeat(16) });
  // a TTP decision does not overdraw the payee: bob (a buyer paid by alice) spent the money already
  await b.client.openAccount({ id: 'bob', kind: 'buyer', name: 'Bob', currency: 'EUR', publicKey: stranger.publicKey });
  const toBob = signPaymentOrder({ payer: 'alice', payee: 'bob', amount: 10_00, currency: 'EUR', orderId: 'b0'.repeat(16), txDigest: new Uint8Array(32), time: NOW_S }, alice.privateKey, alice.publicKey);
  await b.client.settleOrder({ requestId: 'to-bob', order: toBob });
  const spend = signPaymentOrder({ payer: 'bob', payee: 'shop', amount: 6_00, currency: 'EUR', orderId: 'b1'.repeat(16), txDigest: new Uint8Array(32), time: NOW_S }, stranger.privateKey, stranger.publicKey);
  await b.client.settleOrder({ requestId: 'bob-spends', order: spend });
  const back = signRefund({ reference: { orderId: 'b0'.repeat(16) }, amount: 10_00, currency: 'EUR', refundId: refundId(), reason: 'dispute', time: NOW_S }, ttp.privateKey);
  expect((await rejects(b.client.refund({ requestId: 'o1', refund: back }))).code).toBe('INSUFFICIENT_FUNDS');
  expect(await balance('bob')).toBe(4_00);
  expect((await b.client.audit()).ok).toBe(true);
});

test('refunds are idempotent by request id; a refund id is refunded once; unknown payments and bad bodies refused', async () => {
  const orderId = await pay(30_00);
  const id = refundId();
  const refund = signRefund({ reference: { orderId }, amount: 10_00, currency: 'EUR', refundId: id, reason: 'late delivery', time: NOW_S }, shop.privateKey);
  const first = await b.client.refund({ requestId: 'i1', refund });
  const again = await b.client.refund({ requestId: 'i1', refund });
  expect(again).toEqual(first);
  expect(await balance('alice')).toBe(80_00);
  expect(await rejects(b.client.refund({ requestId: 'i2', refund }))).toMatchObject({ code: 'DUPLICATE_REFUND', detail: { refundId: id, first: { entry: first.entry } } });
  const unknown = signRefund({ reference: { orderId: '99'.repeat(16) }, amount: 1_00, currency: 'EUR', refundId: refundId(), reason: '', time: NOW_S }, shop.privateKey);
  expect((await rejects(b.client.refund({ requestId: 'i3', refund: unknown }))).code).toBe('NOT_FOUND');
  const wrongCurrency = signRefund({ reference: { orderId }, amount: 1_00, currency: 'USD', refundId: refundId(), reason: '', time: NOW_S }, shop.privateKey);
  expect((await rejects(b.client.refund({ requestId: 'i4', refund: wrongCurrency }))).code).toBe('CURRENCY');
  expect((await rejects(b.client.refund({ requestId: 'i5', refund: Uint8Array.of(1, 2, 3) }))).code).toBe('BAD_REQUEST');
  expect(() => signRefund({ reference: { orderId }, amount: 0, currency: 'EUR', refundId: refundId(), reason: '', time: NOW_S }, shop.privateKey)).toThrow(PaymentError);
  expect(await balance('alice')).toBe(80_00);
});

test('after a restart: the refunded total, the bank key (old receipts verify) and stored answers remain', async () => {
  const orderId = await pay(30_00);
  const refund = (amount: number) => signRefund({ reference: { orderId }, amount, currency: 'EUR', refundId: refundId(), reason: 'r', time: NOW_S }, shop.privateKey);
  const first = await b.client.refund({ requestId: 'x1', refund: refund(25_00) });
  const bankKey = b.bank.bankPublicKey;
  const r2 = refund(6_00);
  await b.stop();
  b = await start(file);
  expect(Buffer.from(b.bank.bankPublicKey)).toEqual(Buffer.from(bankKey));
  expect(verifyBankReceipt(first.receipt, (await b.client.bank()).publicKey)).toMatchObject({ op: 'refund', amount: 25_00 });
  expect(await new BankClient(b.url, { adminToken: ADMIN, bankKey }).refund({ requestId: 'x1', refund: new Uint8Array(0) }).catch((e: BankError) => e.code)).toBe('IDEMPOTENCY_CONFLICT');
  expect((await rejects(b.client.refund({ requestId: 'x2', refund: r2 }))).code).toBe('REFUND_EXCEEDS');
  expect((await b.client.refund({ requestId: 'x3', refund: refund(5_00) })).refund.refunded).toBe(30_00);
  expect((await b.client.audit()).ok).toBe(true);
});

test('payment status: bank-signed, with the nonce; unknown payments are signed "not settled"; a tampered statement fails', async () => {
  const orderId = await pay(12_00);
  const nonce = Uint8Array.from({ length: 16 }, (_, i) => i);
  const { statement, status } = await b.client.paymentStatus({ orderId }, nonce);
  expect(status).toMatchObject({ settled: true, amount: 12_00, payee: 'shop', payer: 'alice', refunded: 0, settledAt: NOW_S, time: NOW_S });
  expect(Buffer.from(status.nonce!)).toEqual(Buffer.from(nonce));
  // anyone holding the bank key checks it, without trusting who handed it over
  const bankKey = (await b.client.bank()).publicKey;
  expect(verifyPaymentStatus(statement, bankKey).settled).toBe(true);
  const tampered = Uint8Array.from(statement);
  const at = Buffer.from(tampered).indexOf(Buffer.from('shop'));
  tampered[at] = 'x'.charCodeAt(0);
  expect(() => verifyPaymentStatus(tampered, bankKey)).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE' }));
  expect(() => verifyPaymentStatus(statement, stranger.publicKey)).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE' }));
  // a client pinned to another key refuses the statement
  expect((await rejects(new BankClient(b.url, { bankKey: stranger.publicKey }).paymentStatus({ orderId })))).toMatchObject({ code: 'BAD_RECEIPT' });
  const none = await b.client.paymentStatus({ cardId: Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9), counter: 3 });
  expect(none.status).toMatchObject({ settled: false });
  expect(none.status.amount).toBeUndefined();
  for (const q of ['order=12', 'card=0102030405060708', 'order=' + orderId + '&card=0102030405060708&counter=1', 'order=' + orderId + '&nonce=01', 'order=' + orderId + '&x=1']) {
    const res = await fetch(`${b.url}/v1/payments/status?${q}`);
    expect([q, res.status]).toEqual([q, 400]);
  }
});

test('receipts: every deposit and payment carries one the client verifies; a wrong bank key is BAD_RECEIPT', async () => {
  const card = new TestCard({ balance: 50_00 });
  const d = await b.client.deposit({ requestId: 'r1', merchant: 'shop', token: card.debit({ payee: 'shop', amount: 3_00 }), cardCertificate: card.certificate });
  expect(d.verified).toMatchObject({ op: 'deposit', amount: 3_00, debit: 'float:EUR', credit: 'shop', entry: d.entry, reference: { counter: d.deposit.counter } });
  const orderId = (77).toString(16).padStart(32, '0');
  const order = signPaymentOrder({ payer: 'alice', payee: 'shop', amount: 1_00, currency: 'EUR', orderId, txDigest: new Uint8Array(32), time: NOW_S }, alice.privateKey, alice.publicKey);
  const pinnedWrong = new BankClient(b.url, { bankKey: stranger.publicKey });
  expect((await rejects(pinnedWrong.settleOrder({ requestId: 'r2', order }))).code).toBe('BAD_RECEIPT');
  // the payment happened (the receipt is evidence of it, not its condition); the right key verifies the stored answer
  const p = await new BankClient(b.url, { bankKey: b.bank.bankPublicKey }).settleOrder({ requestId: 'r2', order });
  expect(p.verified).toMatchObject({ op: 'payment', reference: { orderId }, debit: 'alice', credit: 'shop' });
  const tampered = Uint8Array.from(p.receipt);
  tampered[tampered.length - 1] ^= 1;
  expect(() => verifyBankReceipt(tampered, b.bank.bankPublicKey)).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE' }));
});

test('account reads: admin, or signed by the account key for that path within five minutes; nobody else', async () => {
  const anon = new BankClient(b.url, { now: () => NOW_S });
  expect((await rejects(anon.account('alice'))).code).toBe('UNAUTHORIZED');
  expect((await anon.account('alice', alice.privateKey)).balance).toBe(100_00);
  expect((await anon.account('shop', shop.privateKey)).id).toBe('shop');
  expect((await rejects(anon.account('alice', stranger.privateKey))).code).toBe('UNAUTHORIZED');
  expect((await rejects(anon.account('cash:EUR', alice.privateKey))).code).toBe('UNAUTHORIZED');
  const late = new BankClient(b.url, { now: () => NOW_S + 301 });
  expect((await rejects(late.account('alice', alice.privateKey))).code).toBe('UNAUTHORIZED');
  // signed for alice's path, sent for shop's
  const header = `SEMPER-Signed ${b64(signRead('/v1/accounts/alice', NOW_S, shop.privateKey))}`;
  expect((await fetch(`${b.url}/v1/accounts/shop`, { headers: { authorization: header } })).status).toBe(401);
  expect((await b.client.account('cash:EUR')).kind).toBe('cash');
});

test('card registration: validated (role buyer-card), one account per card, renewal for the same account', async () => {
  await b.client.openAccount({ id: 'bob', kind: 'buyer', name: 'Bob', currency: 'EUR', publicKey: stranger.publicKey });
  const card = new TestCard({ balance: 0 });
  await b.client.registerCard('alice', card.certificate);
  expect((await rejects(b.client.registerCard('bob', card.certificate))).code).toBe('CARD_REGISTERED');
  await b.client.registerCard('alice', card.certificate); // renewal
  const rogueCa = key('rogue CA');
  const rogue = issueCertificate({ name: 'Rogue', publicKey: p256.getPublicKey(stranger.privateKey, false), role: 'buyer-card', subjectId: card.cardId, issuerId: Uint8Array.of(0xbb, 1), notBefore: 0, notAfter: 4102444800, serial: 1 }, rogueCa.privateKey);
  expect(await rejects(b.client.registerCard('bob', rogue))).toMatchObject({ code: 'BAD_CERTIFICATE', detail: 'UNKNOWN_ISSUER' });
  expect((await rejects(b.client.registerCard('shop', card.certificate))).code).toBe('NOT_FOUND');
  expect((await rejects(new BankClient(b.url).registerCard('alice', card.certificate))).code).toBe('UNAUTHORIZED');
});

test('a schema-1 bank file (made by the previous bank) opens, is migrated to the current schema, and its payments can be refunded (by reference and by binding)', async () => {
  const old = join(tmp.dir, 'v1.sqlite');
  copyFileSync(join(__dirname, 'fixtures', 'bank-v1.sqlite'), old);
  const bank = Bank.open(old, { issuerKey: issuer.privateKey, issuerName: ISSUER_NAME, trust: trustStore(), now: () => now });
  try {
    expect(bank.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(bank.audit()).toMatchObject({ ok: true });
    expect([bank.getAccount('alice').balance, bank.getAccount('shop').balance]).toEqual([65_00, 42_00]);
    // its deposit is still known: the same token again is double spending
    const token = bank.db.prepare('SELECT token FROM deposits').pluck().get() as Buffer;
    expect(bank.paymentStatus({ cardId: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), counter: 1 })).toMatchObject({ settled: true, amount: 12_00, payee: 'shop' });
    const v1Shop = key('v1 shop');
    const refund = signRefund({ reference: { orderId: 'ab'.repeat(16) }, amount: 30_00, currency: 'EUR', refundId: refundId(), reason: 'after the upgrade', time: NOW_S }, v1Shop.privateKey);
    expect(bank.refund({ requestId: 'm1', refund: b64(refund) })).toMatchObject({ status: 200, body: { refund: { payer: 'alice', refunded: 30_00 } } });
    expect(bank.getAccount('alice').balance).toBe(95_00);
    expect(bank.audit().ok).toBe(true);
    expect(token.length).toBeGreaterThan(64);
    // schema 3: the payments settled under version 1 got their bindings; a refund can name the deposit by its binding
    expect(bank.db.prepare('SELECT COUNT(*) FROM bindings').pluck().get()).toBe(2);
    const digest = decodePaymentToken(new Uint8Array(token)).token.txDigest;
    const byBinding = signRefund({ reference: { txDigest: digest, payee: 'shop' }, amount: 2_00, currency: 'EUR', refundId: refundId(), reason: 'by binding', time: NOW_S }, v1Shop.privateKey);
    // it resolves to the deposit (whose card has no refund account registered in this old file)
    expect(bank.refund({ requestId: 'm2', refund: b64(byBinding) })).toMatchObject({ status: 422, body: { error: { code: 'NO_REFUND_ACCOUNT' } } });
    // the v1 order's binding resolves to the order, which is refunded in full already
    const orderDigest = decodePaymentOrder(new Uint8Array(bank.db.prepare('SELECT body FROM orders').pluck().get() as Buffer)).order.txDigest;
    const orderByBinding = signRefund({ reference: { txDigest: orderDigest, payee: 'shop' }, amount: 1_00, currency: 'EUR', refundId: refundId(), reason: 'by binding', time: NOW_S }, v1Shop.privateKey);
    expect(bank.refund({ requestId: 'm3', refund: b64(orderByBinding) })).toMatchObject({ status: 422, body: { error: { code: 'REFUND_EXCEEDS' } } });
    // a binding nothing was paid under
    const unknown = signRefund({ reference: { txDigest: new Uint8Array(32).fill(0xee), payee: 'shop' }, amount: 1_00, currency: 'EUR', refundId: refundId(), reason: 'nothing bound', time: NOW_S }, v1Shop.privateKey);
    expect(bank.refund({ requestId: 'm4', refund: b64(unknown) })).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
  } finally {
    bank.close();
  }
  // opened again: already the current version, nothing to migrate, the refund is still there
  const again = Bank.open(old, { issuerKey: issuer.privateKey, issuerName: ISSUER_NAME, trust: trustStore(), now: () => now });
  expect(again.paymentStatus({ orderId: 'ab'.repeat(16) })).toMatchObject({ refunded: 30_00 });
  again.close();
});

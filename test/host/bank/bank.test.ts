// The bank over HTTP on an ephemeral port: accounts, deposits of card-signed tokens, double
// spending (the same token twice, two tokens with one counter), account payments, loads the
// emulated card accepts, idempotency, a restart, the CLI.

import { join } from 'node:path';
import { SW } from '../../../board/card/apdu';
import { makeLoadInstruction as cardMakeLoad } from '../../../board/card/personalise';
import { signSign1 } from '../../../shared/src/cose';
import { BankClient } from '../../../host/src/bank/client';
import { DoubleSpendingEvidence } from '../../../host/src/bank/errors';
import { run, HELP } from '../../../host/src/cli/bank';
import { signLoadRequest, signPaymentOrder, signRefund, verifyLoadInstruction } from '../../../host/src/payment/formats';
import { ADMIN, issuer, ISSUER_NAME, key, NOW_S, rejects, RunningBank, startBank, tempDir, TestCard } from './rig';
import { writeFileSync } from 'node:fs';
import { rootCertificate } from './rig';

let tmp: ReturnType<typeof tempDir>;
let file: string;
let b: RunningBank;
const buyerKey = key('buyer account');

async function accounts(c: BankClient): Promise<void> {
  await c.openAccount({ id: 'books.example', kind: 'merchant', name: 'Books Ltd', currency: 'EUR' });
  await c.openAccount({ id: 'alice', kind: 'buyer', name: 'Alice', currency: 'EUR', publicKey: buyerKey.publicKey });
  await c.fund('alice', 100_00);
}

beforeEach(async () => {
  tmp = tempDir('bank-');
  file = join(tmp.dir, 'bank.db');
  b = await startBank(file);
  await accounts(b.client);
});
afterEach(async () => {
  await b.stop();
  tmp.cleanup();
});

test('a card token is deposited: the merchant is credited from the float, the books balance', async () => {
  const card = new TestCard({ balance: 50_00 });
  const token = card.debit({ payee: 'books.example', amount: 12_50 });
  const r = await b.client.deposit({ requestId: 'd1', merchant: 'books.example', token, cardCertificate: card.certificate });
  expect(r.balance).toBe(12_50);
  expect(r.deposit).toMatchObject({ counter: 1, amount: 12_50, currency: 'EUR' });
  expect((await b.client.account('float:EUR')).balance).toBe(-12_50);
  expect(await b.client.audit()).toEqual({ ok: true, totals: { EUR: 0 }, problems: [] });
});

test('double spending: the same token twice is refused with the evidence, and recorded', async () => {
  const card = new TestCard({ balance: 50_00 });
  const token = card.debit({ payee: 'books.example', amount: 5_00 });
  await b.client.deposit({ requestId: 'first', merchant: 'books.example', token, cardCertificate: card.certificate });
  const e = await rejects(b.client.deposit({ requestId: 'second', merchant: 'books.example', token, cardCertificate: card.certificate }));
  expect(e.code).toBe('DOUBLE_SPENDING');
  const ev = e.detail as DoubleSpendingEvidence;
  expect(ev).toMatchObject({ counter: 1, samePayment: true, first: { merchant: 'books.example' } });
  expect(Buffer.from(ev.first.token, 'base64url')).toEqual(Buffer.from(token));
  expect((await b.client.account('books.example')).balance).toBe(5_00);
  expect(await b.client.refusals()).toEqual([expect.objectContaining({ code: 'DOUBLE_SPENDING', requestId: 'second' })]);
});

test('double spending: another token with the same (card id, counter) — a cloned card — is refused', async () => {
  // a card whose NV was copied (key, counter, balance): both copies sign a debit with counter 1
  const card = new TestCard({ balance: 50_00 });
  const clone = card.clone();
  const t1 = card.debit({ payee: 'books.example', amount: 3_00 });
  const t2 = clone.debit({ payee: 'books.example', amount: 4_00, txDigest: new Uint8Array(32).fill(9) });
  await b.client.deposit({ requestId: 'c1', merchant: 'books.example', token: t1, cardCertificate: card.certificate });
  const e = await rejects(b.client.deposit({ requestId: 'c2', merchant: 'books.example', token: t2, cardCertificate: card.certificate }));
  expect(e.code).toBe('DOUBLE_SPENDING');
  expect((e.detail as DoubleSpendingEvidence).samePayment).toBe(false);
});

test('refused deposits: wrong payee, forged signature, certificate of another card, unknown CA', async () => {
  const card = new TestCard({ balance: 50_00 });
  const other = new TestCard({ balance: 50_00 });
  await b.client.openAccount({ id: 'music.example', kind: 'merchant', name: 'Music', currency: 'EUR' });
  const token = card.debit({ payee: 'books.example', amount: 1_00 });
  expect((await rejects(b.client.deposit({ requestId: 'w1', merchant: 'music.example', token, cardCertificate: card.certificate }))).code).toBe('WRONG_PAYEE');
  const forged = token.slice();
  forged[forged.length - 1] ^= 1;
  expect((await rejects(b.client.deposit({ requestId: 'w2', merchant: 'books.example', token: forged, cardCertificate: card.certificate })))).toMatchObject({ code: 'BAD_TOKEN', detail: 'BAD_SIGNATURE' });
  expect((await rejects(b.client.deposit({ requestId: 'w3', merchant: 'books.example', token, cardCertificate: other.certificate })))).toMatchObject({ code: 'BAD_TOKEN', detail: 'WRONG_CARD' });
  const { issueCertificate } = await import('../../../shared/src/certificate');
  const rogue = key('rogue CA');
  const rogueCert = issueCertificate({ name: 'Alice Buyer', publicKey: card.publicKey, role: 'buyer-card', subjectId: card.cardId, issuerId: Uint8Array.of(9), notBefore: 0, notAfter: 4102444800, serial: 1 }, rogue.privateKey);
  expect((await rejects(b.client.deposit({ requestId: 'w4', merchant: 'books.example', token, cardCertificate: rogueCert })))).toMatchObject({ code: 'BAD_TOKEN', detail: 'UNKNOWN_ISSUER' });
  expect((await b.client.account('books.example')).balance).toBe(0);
});

test('account payments: a signed order is settled once; a forged or repeated one is refused', async () => {
  const order = signPaymentOrder({ payer: 'alice', payee: 'books.example', amount: 30_00, currency: 'EUR', orderId: '00'.repeat(16), txDigest: new Uint8Array(32), time: NOW_S }, buyerKey.privateKey, buyerKey.publicKey);
  expect(await b.client.settleOrder({ requestId: 'o1', order })).toMatchObject({ balance: 30_00 });
  expect((await rejects(b.client.settleOrder({ requestId: 'o2', order }))).code).toBe('DUPLICATE_ORDER');
  const mallory = key('mallory');
  const forged = signPaymentOrder({ payer: 'alice', payee: 'books.example', amount: 1, currency: 'EUR', orderId: '11'.repeat(16), txDigest: new Uint8Array(32), time: NOW_S }, mallory.privateKey, mallory.publicKey);
  expect((await rejects(b.client.settleOrder({ requestId: 'o3', order: forged }))).code).toBe('BAD_SIGNATURE');
  const tooMuch = signPaymentOrder({ payer: 'alice', payee: 'books.example', amount: 71_00, currency: 'EUR', orderId: '22'.repeat(16), txDigest: new Uint8Array(32), time: NOW_S }, buyerKey.privateKey, buyerKey.publicKey);
  expect((await rejects(b.client.settleOrder({ requestId: 'o4', order: tooMuch }))).code).toBe('INSUFFICIENT_FUNDS');
  expect((await b.client.account('alice')).balance).toBe(70_00);
  expect((await b.client.audit()).ok).toBe(true);
});

test('loads: the account is debited, the instruction is issuer-signed with increasing counters, and the emulated card accepts it', async () => {
  const card = new TestCard({ balance: 0 });
  const req = (amount: number) => signLoadRequest({ account: 'alice', cardId: card.cardId, amount, currency: 'EUR', time: NOW_S }, buyerKey.privateKey);
  const l1 = await b.client.load({ requestId: 'l1', request: req(20_00) });
  const l2 = await b.client.load({ requestId: 'l2', request: req(5_00) });
  expect([l1.loadCounter, l2.loadCounter]).toEqual([1, 2]);
  expect(l2.balance).toBe(75_00);
  expect(verifyLoadInstruction(l1.instruction, issuer.publicKey)).toMatchObject({ loadCounter: 1, amount: 20_00, currency: 'EUR', issuerName: ISSUER_NAME });
  // byte for byte what the card's reference implementation makes (ES256 in noble is deterministic, RFC 6979)
  const reference = cardMakeLoad(issuer.privateKey, { cardId: card.cardId, loadCounter: 1, amount: 20_00, currency: 'EUR', issuerName: ISSUER_NAME, time: NOW_S });
  expect(Buffer.from(l1.instruction)).toEqual(Buffer.from(reference));
  expect(card.load(l1.instruction)).toBe(SW.OK);
  expect(card.load(l2.instruction)).toBe(SW.OK);
  expect(card.balance()).toBe(25_00);
  expect(card.load(l1.instruction)).toBe(0x9403); // replayed: the card's counter check
  expect((await b.client.account('float:EUR')).balance).toBe(25_00);
  // a load request signed by someone else
  const mallory = key('mallory');
  const forged = signLoadRequest({ account: 'alice', cardId: card.cardId, amount: 1_00, currency: 'EUR', time: NOW_S }, mallory.privateKey);
  expect((await rejects(b.client.load({ requestId: 'l3', request: forged }))).code).toBe('BAD_SIGNATURE');
});

test('idempotency: the same request id gets the same answer; reused for another request it is a conflict', async () => {
  const first = await b.client.fund('alice', 1_00, 'fund-1');
  const again = await b.client.fund('alice', 1_00, 'fund-1');
  expect(again).toEqual(first);
  expect((await b.client.account('alice')).balance).toBe(101_00);
  expect((await rejects(b.client.fund('alice', 2_00, 'fund-1'))).code).toBe('IDEMPOTENCY_CONFLICT');
  const res = await fetch(`${b.url}/v1/accounts/alice/fund`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ amount: 1_00, requestId: 'fund-1' }) });
  expect(res.headers.get('idempotent-replay')).toBe('true');
});

test('a restart keeps balances, deposits (double spending still caught) and stored answers', async () => {
  const card = new TestCard({ balance: 50_00 });
  const token = card.debit({ payee: 'books.example', amount: 7_00 });
  const first = await b.client.deposit({ requestId: 'r1', merchant: 'books.example', token, cardCertificate: card.certificate });
  const l = await b.client.load({ requestId: 'rl', request: signLoadRequest({ account: 'alice', cardId: card.cardId, amount: 1_00, currency: 'EUR', time: NOW_S }, buyerKey.privateKey) });
  await b.stop();
  b = await startBank(file);
  expect(await b.client.deposit({ requestId: 'r1', merchant: 'books.example', token, cardCertificate: card.certificate })).toEqual(first);
  expect((await rejects(b.client.deposit({ requestId: 'r2', merchant: 'books.example', token, cardCertificate: card.certificate }))).code).toBe('DOUBLE_SPENDING');
  const l2 = await b.client.load({ requestId: 'rl2', request: signLoadRequest({ account: 'alice', cardId: card.cardId, amount: 1_00, currency: 'EUR', time: NOW_S + 1 }, buyerKey.privateKey) });
  expect(l2.loadCounter).toBe(l.loadCounter + 1);
  expect((await b.client.account('books.example')).balance).toBe(7_00);
  expect((await b.client.audit()).ok).toBe(true);
});

test('admin requests need the token; bad bodies are typed errors', async () => {
  const anon = new BankClient(b.url);
  expect((await rejects(anon.fund('alice', 1))).code).toBe('UNAUTHORIZED');
  expect((await rejects(b.client.fund('alice', 1.5))).code).toBe('BAD_REQUEST');
  expect((await rejects(b.client.account('nobody'))).code).toBe('NOT_FOUND');
  const res = await fetch(`${b.url}/v1/deposits`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
  expect(res.status).toBe(400);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
  // the signature of an order is over its canonical payload; a non-canonical payload is refused before anything
  const junk = signSign1(Uint8Array.of(0xa0), buyerKey.privateKey);
  expect((await rejects(b.client.settleOrder({ requestId: 'j', order: junk }))).code).toBe('BAD_REQUEST');
});

test('error bodies over plain HTTP: {error: {code, message, detail}} that says what is wrong and where', async () => {
  const post = async (path: string, body: string): Promise<[number, unknown]> => {
    const r = await fetch(`${b.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return [r.status, await r.json()];
  };
  const error = (code: string, message: RegExp, detail?: string) => ({ error: { code, message: expect.stringMatching(message), ...(detail ? { detail } : {}) } });
  expect(await post('/v1/deposits', '{nope')).toEqual([400, error('BAD_REQUEST', /^body is not JSON$/, 'body')]);
  expect(await post('/v1/deposits', '[]')).toEqual([400, error('BAD_REQUEST', /JSON object/, 'body')]);
  expect(await post('/v1/deposits', '{}')).toEqual([400, error('BAD_REQUEST', /^requestId: /, 'requestId')]);
  expect(await post('/v1/deposits', JSON.stringify({ requestId: 'e1' }))).toEqual([400, error('BAD_REQUEST', /^merchant: /, 'merchant')]);
  // three zero bytes are no payment token: the COSE words, not only a code
  expect(await post('/v1/deposits', JSON.stringify({ requestId: 'e2', merchant: 'books.example', token: 'AAAA', cardCertificate: 'AAAA' }))).toEqual([422, error('BAD_TOKEN', /^token: not canonical CBOR: .+/, 'CBOR')]);
  expect(await post('/v1/deposits', 'x'.repeat(300 * 1024))).toEqual([400, error('BAD_REQUEST', /larger than 262144 bytes/, 'body')]);
  expect(await post('/v1/nothing', '{}')).toEqual([404, error('NOT_FOUND', /^no route POST \/v1\/nothing$/)]);
  const status = await fetch(`${b.url}/v1/payments/status?card=zz&counter=1`);
  expect([status.status, await status.json()]).toEqual([400, error('BAD_REQUEST', /^card: 16 lowercase hex/, 'card')]);
  // none of it moved money or was stored as an answer
  expect((await b.client.account('alice')).balance).toBe(100_00);
});

test('semper bank: HELP, bad options, and a service started with a TEST issuer key (with its warning)', async () => {
  expect(HELP).toMatch(/--issuer-key/);
  const errs: string[] = [];
  expect(await run(['--port', 'x'], { err: (s) => errs.push(s), out: () => undefined })).toBe(2);
  expect(await run(['--issuer-key', 'test'], { err: (s) => errs.push(s), out: () => undefined })).toBe(2);
  expect(await run(['restart', '--issuer-key', 'test'], { err: (s) => errs.push(s), out: () => undefined })).toBe(2);
  expect(errs.join('')).toMatch(/unexpected argument "restart"/);
  const { SqliteArchive } = await import('../../../host/src/services/archive');
  SqliteArchive.open(join(tmp.dir, 'archive.db')).close();
  writeFileSync(join(tmp.dir, 'r.cose'), rootCertificate);
  expect(await run(['start', '--db', join(tmp.dir, 'archive.db'), '--issuer-key', 'test', '--trust-root', join(tmp.dir, 'r.cose')], { err: (s) => errs.push(s), out: () => undefined })).toBe(3);
  expect(errs.join('')).toMatch(/not a semper-bank database/);
  const root = join(tmp.dir, 'root.cose');
  writeFileSync(root, rootCertificate);
  const stop = new AbortController();
  const out: string[] = [];
  let url = '';
  const done = run(['--port', '0', '--db', join(tmp.dir, 'cli.db'), '--issuer-key', 'test', '--trust-root', root], {
    out: (s) => out.push(s),
    err: (s) => errs.push(s),
    env: { SEMPER_BANK_ADMIN_TOKEN: 'cli-token' },
    signal: stop.signal,
    onListening: (u) => (url = u),
  });
  while (!url) await new Promise((r) => setTimeout(r, 10));
  expect(errs.join('')).toMatch(/WARNING: TEST ISSUER KEY/);
  const c = new BankClient(url, { adminToken: 'cli-token' });
  await c.openAccount({ id: 'shop', kind: 'merchant', name: 'Shop', currency: 'EUR' });
  expect((await c.account('shop')).balance).toBe(0);
  stop.abort();
  expect(await done).toBe(0);
});

test('semper bank --issuer-key LABEL --bank-key LABEL --ttp-key FILE: keys from the key store, a TTP whose refunds it carries out', async () => {
  const { KeyStore } = await import('../../../host/src/services/keystore');
  const ksFile = join(tmp.dir, 'keys.semper');
  const ks = await KeyStore.create(ksFile, 'correct horse');
  const pub = await ks.generate('issuer', 'bank');
  const receiptKey = await ks.generate('receipts', 'bank');
  ks.close();
  const ttpFile = join(tmp.dir, 'ttp.pub');
  const ttp = key('cli ttp');
  writeFileSync(ttpFile, ttp.publicKey);
  writeFileSync(join(tmp.dir, 'junk.pub'), 'not a key');
  const root = join(tmp.dir, 'root.cose');
  writeFileSync(root, rootCertificate);
  const args = ['--port', '0', '--db', join(tmp.dir, 'ks.db'), '--keystore', ksFile, '--trust-root', root];
  const errs: string[] = [];
  const quiet = { out: () => undefined, err: (s: string) => void errs.push(s) };
  expect(await run([...args, '--issuer-key', 'issuer'], { ...quiet, env: {} })).toBe(2); // no passphrase
  expect(await run([...args, '--issuer-key', 'nope'], { ...quiet, env: { SEMPER_KEYSTORE_PASSPHRASE: 'correct horse' } })).toBe(3);
  expect(errs.join('')).toMatch(/UNKNOWN_LABEL/);
  expect(await run([...args, '--issuer-key', 'issuer', '--ttp-key', join(tmp.dir, 'junk.pub')], { ...quiet, env: { SEMPER_KEYSTORE_PASSPHRASE: 'correct horse' } })).toBe(3);
  const stop = new AbortController();
  let url = '';
  const done = run([...args, '--issuer-key', 'issuer', '--bank-key', 'receipts', '--ttp-key', ttpFile], { ...quiet, env: { SEMPER_KEYSTORE_PASSPHRASE: 'correct horse', SEMPER_BANK_ADMIN_TOKEN: 'ks-token' }, signal: stop.signal, onListening: (u) => (url = u) });
  while (!url) await new Promise((r) => setTimeout(r, 10));
  expect(Buffer.from((await new BankClient(url).issuer()).publicKey, 'base64url')).toEqual(Buffer.from(pub));
  expect(Buffer.from((await new BankClient(url).bank()).publicKey)).toEqual(Buffer.from(receiptKey));
  // the configured TTP's refund decision is carried out
  const c = new BankClient(url, { adminToken: 'ks-token' });
  await c.openAccount({ id: 'shop', kind: 'merchant', name: 'Shop', currency: 'EUR' });
  await c.openAccount({ id: 'alice', kind: 'buyer', name: 'Alice', currency: 'EUR', publicKey: buyerKey.publicKey });
  await c.fund('alice', 10_00);
  const orderId = '12'.repeat(16);
  await c.settleOrder({ requestId: 'cli-pay', order: signPaymentOrder({ payer: 'alice', payee: 'shop', amount: 4_00, currency: 'EUR', orderId, txDigest: new Uint8Array(32), time: Math.floor(Date.now() / 1000) }, buyerKey.privateKey, buyerKey.publicKey) });
  const refund = signRefund({ reference: { orderId }, amount: 4_00, currency: 'EUR', refundId: '34'.repeat(16), reason: 'aborted', time: Math.floor(Date.now() / 1000) }, ttp.privateKey);
  expect((await c.refund({ requestId: 'cli-refund', refund })).refund).toMatchObject({ authorisedBy: 'ttp', payer: 'alice' });
  expect(errs.join('')).not.toMatch(/TEST ISSUER KEY/);
  stop.abort();
  expect(await done).toBe(0);
});


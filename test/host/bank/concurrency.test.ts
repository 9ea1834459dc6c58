// Double spending under concurrency: two bank processes over one SQLite file, the same
// tokens deposited at both at the same moment. BEGIN IMMEDIATE serialises the check and the
// insert, so each (card id, counter) is credited exactly once — and the refunds of one payment,
// sent to both at once, never add up to more than it paid.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bank } from '../../../host/src/bank/bank';
import { BankClient } from '../../../host/src/bank/client';
import { BankError } from '../../../host/src/bank/errors';
import { fork } from 'node:child_process';
import { buildSync } from 'esbuild';
import { exited } from '../services/fixtures/harness';
import { signPaymentOrder, signRefund } from '../../../host/src/payment/formats';
import { key, NOW_S, rootCertificate, startBank, tempDir, TestCard } from './rig';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir('bank-race-')));
afterEach(() => tmp.cleanup());

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof BankError) return e.code;
    throw e;
  }
}

test('two connections in one process: the same token at once is credited once', async () => {
  const file = join(tmp.dir, 'bank.db');
  const a = await startBank(file);
  const b = await startBank(file);
  await a.client.openAccount({ id: 'shop', kind: 'merchant', name: 'Shop', currency: 'EUR' });
  const card = new TestCard({ balance: 10_00 });
  const token = card.debit({ payee: 'shop', amount: 1_00 });
  const results = await Promise.all([a, b].map((x, i) => outcome(x.client.deposit({ requestId: `r${i}`, merchant: 'shop', token, cardCertificate: card.certificate }))));
  expect(results.sort()).toEqual(['DOUBLE_SPENDING', 'ok']);
  expect(a.bank.audit().ok).toBe(true);
  await a.stop();
  await b.stop();
});

/** Two `semper bank` processes over `file` (fixtures/bank-child.ts); their clients and a stop. */
async function twoBankProcesses(file: string): Promise<{ clients: BankClient[]; stop: () => Promise<void> }> {
  const root = join(tmp.dir, 'root.cose');
  writeFileSync(root, rootCertificate);
  const child = join(tmp.dir, 'bank-child.js');
  buildSync({ entryPoints: [join(__dirname, 'fixtures/bank-child.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', packages: 'external', outfile: child, logLevel: 'silent' });
  const children = [0, 1].map(() => fork(child, [file, root], { env: { ...process.env, NODE_PATH: join(__dirname, '../../../node_modules') }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const urls = await Promise.all(children.map((c) => new Promise<string>((res) => c.once('message', (m) => res((m as { url: string }).url)))));
  return {
    clients: urls.map((u) => new BankClient(u, { adminToken: 'child-token' })),
    stop: async () => {
      children.forEach((c) => c.send('stop'));
      await Promise.all(children.map(exited));
    },
  };
}

test('two bank processes, 8 tokens each deposited at both at once: exactly one credit per (card id, counter)', async () => {
  const file = join(tmp.dir, 'bank.db');
  const setup = await startBank(file);
  await setup.client.openAccount({ id: 'shop', kind: 'merchant', name: 'Shop', currency: 'EUR' });
  await setup.stop();
  const { clients, stop } = await twoBankProcesses(file);
  const card = new TestCard({ balance: 100_00 });
  const tokens = Array.from({ length: 8 }, (_, i) => card.debit({ payee: 'shop', amount: 100 + i, time: NOW_S + i }));
  const results = await Promise.all(tokens.flatMap((token, i) => clients.map((c, j) => outcome(c.deposit({ requestId: `t${i}-p${j}`, merchant: 'shop', token, cardCertificate: card.certificate })))));
  for (let i = 0; i < tokens.length; i++) expect([results[2 * i], results[2 * i + 1]].sort()).toEqual(['DOUBLE_SPENDING', 'ok']);
  expect((await clients[0].account('shop')).balance).toBe(tokens.reduce((s, _, i) => s + 100 + i, 0));
  await stop();
  const bank = Bank.open(file, { issuerKey: new Uint8Array(32).fill(1), issuerName: 'x', trust: new (await import('../../../shared/src/certificate')).TrustStore() });
  expect(bank.audit().ok).toBe(true);
  expect(bank.refusals()).toHaveLength(8);
  bank.close();
});

test('two bank processes, refunds of one payment at both at once: never more than it paid', async () => {
  const file = join(tmp.dir, 'bank.db');
  const alice = key('race alice');
  const shop = key('race shop');
  const setup = await startBank(file);
  await setup.client.openAccount({ id: 'shop', kind: 'merchant', name: 'Shop', currency: 'EUR', publicKey: shop.publicKey });
  await setup.client.openAccount({ id: 'alice', kind: 'buyer', name: 'Alice', currency: 'EUR', publicKey: alice.publicKey });
  await setup.client.fund('alice', 100_00);
  const orders = Array.from({ length: 6 }, (_, i) => i.toString(16).padStart(32, '0'));
  for (const orderId of orders) await setup.client.settleOrder({ requestId: `pay-${orderId}`, order: signPaymentOrder({ payer: 'alice', payee: 'shop', amount: 10_00, currency: 'EUR', orderId, txDigest: new Uint8Array(32), time: NOW_S }, alice.privateKey, alice.publicKey) });
  await setup.stop();
  const { clients, stop } = await twoBankProcesses(file);
  // per order: 6.00 at one process and 7.00 at the other, at once — only one of them fits
  const results = await Promise.all(
    orders.flatMap((orderId, i) =>
      clients.map((c, j) => outcome(c.refund({ requestId: `rf-${i}-${j}`, refund: signRefund({ reference: { orderId }, amount: 6_00 + j * 1_00, currency: 'EUR', refundId: `${i}${j}`.padStart(32, 'c'), reason: 'race', time: NOW_S }, shop.privateKey) }))),
    ),
  );
  for (let i = 0; i < orders.length; i++) expect([results[2 * i], results[2 * i + 1]].sort()).toEqual(['REFUND_EXCEEDS', 'ok']);
  for (const orderId of orders) expect([6_00, 7_00]).toContain((await clients[0].paymentStatus({ orderId })).status.refunded);
  await stop();
  const bank = Bank.open(file, { issuerKey: new Uint8Array(32).fill(1), issuerName: 'x', trust: new (await import('../../../shared/src/certificate')).TrustStore() });
  expect(bank.audit().ok).toBe(true);
  bank.close();
});

// Double spending under concurrency: two bank processes over one SQLite file, the same
// tokens deposited at both at the same moment. BEGIN IMMEDIATE serialises the check and the
// insert, so each (card id, counter) is credited exactly once.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bank } from '../../../host/src/bank/bank';
import { BankClient } from '../../../host/src/bank/client';
import { BankError } from '../../../host/src/bank/errors';
import { fork } from 'node:child_process';
import { buildSync } from 'esbuild';
import { exited } from '../services/fixtures/harness';
import { NOW_S, rootCertificate, startBank, tempDir, TestCard } from './rig';

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

test('two bank processes, 8 tokens each deposited at both at once: exactly one credit per (card id, counter)', async () => {
  const file = join(tmp.dir, 'bank.db');
  const root = join(tmp.dir, 'root.cose');
  writeFileSync(root, rootCertificate);
  const setup = await startBank(file);
  await setup.client.openAccount({ id: 'shop', kind: 'merchant', name: 'Shop', currency: 'EUR' });
  await setup.stop();
  const child = join(tmp.dir, 'bank-child.js');
  buildSync({ entryPoints: [join(__dirname, 'fixtures/bank-child.ts')], bundle: true, platform: 'node', target: 'node20', format: 'cjs', packages: 'external', outfile: child, logLevel: 'silent' });
  const children = [0, 1].map(() => fork(child, [file, root], { env: { ...process.env, NODE_PATH: join(__dirname, '../../../node_modules') }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const urls = await Promise.all(children.map((c) => new Promise<string>((res) => c.once('message', (m) => res((m as { url: string }).url)))));
  const clients = urls.map((u) => new BankClient(u, { adminToken: 'child-token' }));
  const card = new TestCard({ balance: 100_00 });
  const tokens = Array.from({ length: 8 }, (_, i) => card.debit({ payee: 'shop', amount: 100 + i, time: NOW_S + i }));
  const results = await Promise.all(tokens.flatMap((token, i) => clients.map((c, j) => outcome(c.deposit({ requestId: `t${i}-p${j}`, merchant: 'shop', token, cardCertificate: card.certificate })))));
  for (let i = 0; i < tokens.length; i++) expect([results[2 * i], results[2 * i + 1]].sort()).toEqual(['DOUBLE_SPENDING', 'ok']);
  expect((await clients[0].account('shop')).balance).toBe(tokens.reduce((s, _, i) => s + 100 + i, 0));
  children.forEach((c) => c.send('stop'));
  await Promise.all(children.map(exited));
  const bank = Bank.open(file, { issuerKey: new Uint8Array(32).fill(1), issuerName: 'x', trust: new (await import('../../../shared/src/certificate')).TrustStore() });
  expect(bank.audit().ok).toBe(true);
  expect(bank.refusals()).toHaveLength(8);
  bank.close();
});

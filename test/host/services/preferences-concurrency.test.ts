// Spending limits under concurrency: the decision, the spending and the audit commit in one
// BEGIN IMMEDIATE transaction, so two connections — or four agent processes racing — never
// pass a daily limit together that only one of them fits.

import { join } from 'node:path';
import { AccessControl } from '../../../host/src/services/access-control';
import { SqliteArchive } from '../../../host/src/services/archive';
import { SqlitePreferences, Subject } from '../../../host/src/services/preferences';
import { exited, forkFixture, tempDir } from './fixtures/harness';

let tmp: ReturnType<typeof tempDir>;
let file: string;
const shop: Subject = { kind: 'origin', origin: 'https://shop.example' };

beforeEach(async () => {
  tmp = tempDir('prefs-race-');
  file = join(tmp.dir, 'archive.db');
  const a = SqliteArchive.open(file);
  const prefs = new SqlitePreferences(a);
  await prefs.setRule(shop, 'pay', 'allowed');
  await prefs.setLimit(shop, { currency: 'EUR', perDay: 100 });
  a.close();
});
afterEach(() => tmp.cleanup());

test('two connections: the second sees the first one’s spending', async () => {
  const [a, b] = [SqliteArchive.open(file), SqliteArchive.open(file)];
  const [acA, acB] = [new AccessControl(a), new AccessControl(b)];
  const pay = { subject: shop, op: 'pay' as const, amount: { amount: 60, currency: 'EUR' } };
  const results = await Promise.all([acA.decide(pay), acB.decide(pay)]);
  expect(results.map((r) => r.outcome).sort()).toEqual(['allowed', 'denied']);
  expect(await acB.spentToday(shop, 'EUR')).toBe(60);
  a.close();
  b.close();
});

test('a writer that holds the lock makes a decision wait, then fail BUSY: it never decides on stale totals', async () => {
  const holder = SqliteArchive.open(file);
  const other = SqliteArchive.open(file, { busyTimeoutMs: 50 });
  holder.db.exec('BEGIN IMMEDIATE');
  await expect(new AccessControl(other).decide({ subject: shop, op: 'pay', amount: { amount: 60, currency: 'EUR' } })).rejects.toMatchObject({ name: 'StoreError', code: 'BUSY' });
  holder.db.exec('ROLLBACK');
  expect(await new AccessControl(other).decide({ subject: shop, op: 'pay', amount: { amount: 60, currency: 'EUR' } })).toMatchObject({ outcome: 'allowed' });
  holder.close();
  other.close();
});

test('four processes race 10 payments of 7 EUR each against 100 EUR a day: exactly 14 pass', async () => {
  const children = [0, 1, 2, 3].map(() => forkFixture('spend-child', tmp.dir, [file, '10', '7']));
  // start them together once all are ready
  await Promise.all(children.map((c) => new Promise((res) => c.once('message', res))));
  const tallies = children.map((c) => new Promise<{ allowed: number; denied: number }>((res) => c.once('message', (m) => res(m as never))));
  children.forEach((c) => c.send('go'));
  const results = await Promise.all(tallies);
  await Promise.all(children.map(exited));
  expect(results.reduce((s, r) => s + r.allowed, 0)).toBe(14);
  expect(results.reduce((s, r) => s + r.denied, 0)).toBe(26);
  const a = SqliteArchive.open(file);
  const ac = new AccessControl(a);
  expect(await ac.spentToday(shop, 'EUR')).toBe(98);
  expect(await ac.audit()).toHaveLength(40);
  await expect(a.verify()).resolves.toMatchObject({ records: 42 }); // 2 preference changes + 40 decisions, one chain
  a.close();
});
